"""Per-key rate limits: requests per minute (qpm) and tokens per minute (tpm).

A `Limiter` has two methods: `await check(key, qpm=, tpm=)` counts a request or raises
RateLimited, and `spend_tokens(key, n, tpm=)` counts tokens after the request (it must not
block: a shared limiter sends it in the background). `RateLimiter` keeps sliding one-minute
windows in memory, per process: behind a load balancer each replica enforces the traffic it
sees. `RedisLimiter` keeps the same windows in Redis (`[limits] redis_url`), so N replicas
enforce one limit together. `AuthThrottle` (failed authentications per address) is always per
process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from jaju.errors import RateLimited, ServiceUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("jaju")

WINDOW = 60.0


class _Window:
    __slots__ = ("events", "total")

    def __init__(self) -> None:
        self.events: deque[tuple[float, int]] = deque()
        self.total = 0

    def trim(self, now: float) -> None:
        while self.events and self.events[0][0] <= now - WINDOW:
            self.total -= self.events.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        if amount:
            self.events.append((now, amount))
            self.total += amount

    def retry_after(self, now: float, limit: int, need: int) -> int:
        """Seconds until `need` more fits under `limit`."""
        excess = self.total + need - limit
        for ts, amount in self.events:
            excess -= amount
            if excess <= 0:
                return math.ceil(ts + WINDOW - now)
        return math.ceil(WINDOW)


class Limiter(Protocol):
    async def check(self, key_id: str, *, qpm: int | None, tpm: int | None) -> None: ...

    def spend_tokens(self, key_id: str, tokens: int, *, tpm: int | None) -> None: ...

    async def aclose(self) -> None: ...


class RateLimiter:
    """In-process sliding windows (the default, for one process)."""

    def __init__(self) -> None:
        self._requests: dict[str, _Window] = {}
        self._tokens: dict[str, _Window] = {}

    async def check(self, key_id: str, *, qpm: int | None, tpm: int | None) -> None:
        """Count one request for `key_id`, or raise RateLimited with Retry-After."""
        now = time.monotonic()
        if tpm:
            tokens = self._tokens.setdefault(key_id, _Window())
            tokens.trim(now)
            if tokens.total >= tpm:
                raise _tpm_error(tpm, tokens.retry_after(now, tpm, 1))
        if qpm:
            requests = self._requests.setdefault(key_id, _Window())
            requests.trim(now)
            if requests.total + 1 > qpm:
                raise _qpm_error(qpm, requests.retry_after(now, qpm, 1))
            requests.add(now, 1)

    def spend_tokens(self, key_id: str, tokens: int, *, tpm: int | None) -> None:
        if tpm and tokens > 0:
            window = self._tokens.setdefault(key_id, _Window())
            window.add(time.monotonic(), tokens)

    async def aclose(self) -> None:
        return None


def _qpm_error(qpm: int, retry_after: int) -> RateLimited:
    return RateLimited(f"분당 요청 한도({qpm})를 넘었습니다 / requests-per-minute limit ({qpm}) "
                       "exceeded for this key", retry_after=retry_after, code="requests_per_minute")


def _tpm_error(tpm: int, retry_after: int) -> RateLimited:
    return RateLimited(f"분당 토큰 한도({tpm})를 넘었습니다 / tokens-per-minute limit ({tpm}) "
                       "exceeded for this key", retry_after=retry_after, code="tokens_per_minute")


# The same sliding windows as RateLimiter, kept in Redis. Per key three entries, in one hash
# slot: {id}:r, a sorted set of admitted requests (score = admission time in ms); {id}:t, a
# sorted set of spent tokens (member "amount:unique", score = time); {id}:n, the sum of the
# amounts in {id}:t. The script reads the clock of Redis (TIME), not the replicas' clocks, and
# runs atomically, so concurrent checks from any number of replicas admit exactly `qpm`.
_CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local qpm, tpm, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local since = now - window
if tpm > 0 then
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', since)
  if #old > 0 then
    local gone = 0
    for _, m in ipairs(old) do gone = gone + tonumber(string.match(m, '^(%d+):')) end
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', since)
    if redis.call('DECRBY', KEYS[3], gone) <= 0 then redis.call('DEL', KEYS[3]) end
  end
  local total = tonumber(redis.call('GET', KEYS[3]) or '0')
  if total >= tpm then
    local excess = total + 1 - tpm
    local spent = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    for i = 1, #spent, 2 do
      excess = excess - tonumber(string.match(spent[i], '^(%d+):'))
      if excess <= 0 then return {2, tonumber(spent[i + 1]) + window - now} end
    end
    return {2, window}
  end
end
if qpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
  local n = redis.call('ZCARD', KEYS[1])
  if n + 1 > qpm then
    local oldest = redis.call('ZRANGE', KEYS[1], n - qpm, n - qpm, 'WITHSCORES')
    return {1, tonumber(oldest[2]) + window - now}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
end
return {0, 0}
"""

_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[3])
redis.call('INCRBY', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0
"""


class RedisLimiter:
    """Sliding one-minute windows in Redis, shared by every replica that names the same
    `redis_url` (see `_CHECK`). A sliding log rather than GCRA: it admits exactly what the
    in-process RateLimiter admits (`qpm` requests in any 60 s, a token budget spent after the
    fact), so a deployment changes no limit's meaning by adding Redis, and Retry-After is exact.
    It costs one sorted-set member per admitted request in the last minute per key.

    When Redis cannot be reached, `fail="closed"` refuses requests with ServiceUnavailable (503
    `limits_unavailable`) and `fail="open"` admits them, logging a warning and calling
    `on_outage("begin" | "end", detail)` once at each end of the outage (the app audits it).
    After a failure Redis is tried again at most every `probe_interval` seconds; meanwhile
    checks answer at once, so an outage costs no request a connect timeout."""

    PREFIX = "jaju:limits:"

    def __init__(self, url: str, *, fail: Literal["closed", "open"] = "closed",
                 on_outage: Callable[[str, dict[str, Any]], None] | None = None,
                 timeout: float = 0.5, max_connections: int = 64,
                 probe_interval: float = 1.0, queue_size: int = 10_000,
                 window: float = WINDOW, batch_delay: float = 0.005) -> None:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.fail, self.on_outage, self.probe_interval = fail, on_outage, probe_interval
        self.batch_delay = batch_delay
        """Seconds token counts wait to be sent together (tpm is enforced that much later)."""
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout,
            socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1))  # one retry: a pooled connection may predate a restart
        self.redis: Redis = Redis(connection_pool=pool)
        self._check = self.redis.register_script(_CHECK)
        self._spend = self.redis.register_script(_SPEND)
        self._window_ms = int(window * 1000)
        self._member = f"{uuid.uuid4().hex[:16]}-{{}}".format  # unique across replicas
        self._count = itertools.count()
        self._queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue(queue_size)
        self._sender: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._admitted_while_down = 0
        self._dropped = 0

    def _keys(self, key_id: str) -> list[str]:
        base = f"{self.PREFIX}{{{key_id}}}:"
        return [base + "r", base + "t", base + "n"]

    async def check(self, key_id: str, *, qpm: int | None, tpm: int | None) -> None:
        """Count one request for `key_id` in Redis, or raise RateLimited (with Retry-After);
        ServiceUnavailable when Redis is down and `fail` is closed."""
        from redis.exceptions import RedisError

        if not qpm and not tpm:
            return
        self._loop = asyncio.get_running_loop()
        if self._down_since is not None and time.monotonic() < self._next_probe:
            return self._unavailable(None)
        try:
            verdict, wait_ms = await self._check(
                keys=self._keys(key_id),
                args=[qpm or 0, tpm or 0, self._window_ms, self._member(next(self._count))])
        except (RedisError, OSError) as e:
            return self._unavailable(e)
        if self._down_since is not None:
            self._recovered()
        if verdict:
            retry_after = math.ceil(int(wait_ms) / 1000)
            raise (_qpm_error(qpm or 0, retry_after) if verdict == 1 else
                   _tpm_error(tpm or 0, retry_after))
        return None

    def _unavailable(self, error: BaseException | None) -> None:
        now = time.monotonic()
        if error is not None:
            self._next_probe = now + self.probe_interval
            if self._down_since is None:
                self._down_since = now
                reason = f"{type(error).__name__}: {error}"[:300]
                log.warning("limits: Redis unreachable (%s); requests are %s until it is back",
                            reason, "refused (503)" if self.fail == "closed" else
                            "admitted without limits")
                self._report("begin", {"fail": "open", "error": reason})
        if self.fail == "closed":
            raise ServiceUnavailable("요청 한도 저장소(Redis)에 연결할 수 없습니다 / the shared "
                                     "rate-limit store (Redis) is unreachable",
                                     code="limits_unavailable")
        self._admitted_while_down += 1

    def _recovered(self) -> None:
        seconds = round(time.monotonic() - (self._down_since or 0.0), 1)
        admitted = self._admitted_while_down
        self._down_since, self._admitted_while_down = None, 0
        log.warning("limits: Redis is reachable again after %.1f s (%d requests admitted "
                    "without limits)", seconds, admitted)
        self._report("end", {"fail": "open", "seconds": seconds, "admitted_unlimited": admitted})

    def _report(self, phase: str, detail: dict[str, Any]) -> None:
        """Tell `on_outage` (fail open only: closed records every refused request anyway);
        a failure to record never fails the request."""
        if self.fail != "open" or self.on_outage is None:
            return
        try:
            self.on_outage(phase, detail)
        except Exception:
            log.exception("limits: could not record the Redis outage (%s)", phase)

    @property
    def down(self) -> bool:
        """Whether the last contact with Redis failed."""
        return self._down_since is not None

    def spend_tokens(self, key_id: str, tokens: int, *, tpm: int | None) -> None:
        """Queue `tokens` for `key_id`; a background task sends them (never blocks)."""
        if not tpm or tokens <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called from a worker thread: hand it to the loop
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._enqueue, key_id, tokens)
            return
        self._loop = loop
        self._enqueue(key_id, tokens)

    def _enqueue(self, key_id: str, tokens: int) -> None:
        try:
            self._queue.put_nowait((key_id, tokens))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped in (1, 10, 100) or self._dropped % 1000 == 0:
                log.warning("limits: %d token counts dropped (Redis too slow)", self._dropped)
            return
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        """Send queued token counts until the queue is empty: after a short pause, so that
        counts from concurrent requests share one pipelined round trip."""
        from redis.exceptions import NoScriptError, RedisError

        while not self._queue.empty():
            await asyncio.sleep(self.batch_delay)
            batch = [self._queue.get_nowait()]
            while len(batch) < 512 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                for attempt in (1, 2):
                    try:
                        async with self.redis.pipeline(transaction=False) as pipe:
                            for key_id, tokens in batch:
                                pipe.evalsha(self._spend.sha, 2, *self._keys(key_id)[1:], tokens,
                                             self._window_ms, self._member(next(self._count)))
                            await pipe.execute()
                        break
                    except NoScriptError:  # a restarted Redis has no scripts: load, once
                        if attempt == 2:
                            raise
                        await self.redis.script_load(_SPEND)
            except (RedisError, OSError) as e:
                log.warning("limits: %d token counts lost, Redis unreachable (%s)",
                            len(batch), type(e).__name__)

    async def flush(self) -> None:
        """Wait until the queued token counts are sent (or given up)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    async def aclose(self) -> None:
        try:
            await asyncio.wait_for(self.flush(), timeout=2.0)
        except TimeoutError:
            if self._sender is not None:
                self._sender.cancel()
        await self.redis.aclose()


class AuthThrottle:
    """Failed authentications per source address, so a flood can neither guess keys quickly
    nor grow the audit log without bound: an address with `per_minute` failures in the last
    minute is refused (429) before any key is looked up, and failures are audited at most once
    per `window` seconds per address, each record carrying how many failures it stands for."""

    def __init__(self, *, per_minute: int = 30, window: float = 10.0,
                 max_addresses: int = 10_000) -> None:
        self.per_minute, self.window, self.max_addresses = per_minute, window, max_addresses
        self._recent: dict[str, deque[float]] = {}
        self._burst: dict[str, tuple[float, int]] = {}
        """address -> (when its current audit window began, failures not yet recorded)."""

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may try now."""
        recent = self._recent.get(address)
        if not recent:
            return None
        now = time.monotonic()
        while recent and recent[0] <= now - WINDOW:
            recent.popleft()
        if len(recent) < self.per_minute:
            return None
        return max(1, math.ceil(recent[0] + WINDOW - now))

    def failed(self, address: str) -> int | None:
        """Count a failure. Returns the count to audit now (this failure and those held back
        since the last record), or None when it is held back for the next record."""
        now = time.monotonic()
        if address not in self._recent and len(self._recent) >= self.max_addresses:
            oldest = next(iter(self._recent))  # forget the address seen longest ago
            self._recent.pop(oldest, None)
            self._burst.pop(oldest, None)
        recent = self._recent.setdefault(address, deque())
        recent.append(now)
        if len(recent) > self.per_minute:
            recent.popleft()
        started, held = self._burst.get(address, (float("-inf"), 0))
        if now - started >= self.window:
            self._burst[address] = (now, 0)
            return held + 1
        self._burst[address] = (started, held + 1)
        return None
