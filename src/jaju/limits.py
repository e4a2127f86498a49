"""Per-key rate limits: requests per minute (qpm) and tokens per minute (tpm).

A `Limiter` has two methods: `await check(key, qpm=, tpm=)` counts a request or raises
RateLimited, and `spend_tokens(key, n, tpm=)` counts tokens after the request (it must not
block: a shared limiter sends it in the background). `RateLimiter` keeps sliding one-minute
windows in memory, per process: behind a load balancer each replica enforces the traffic it
sees.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Protocol

from jaju.errors import RateLimited

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
                raise RateLimited(
                    f"분당 토큰 한도({tpm})를 넘었습니다 / tokens-per-minute limit ({tpm}) "
                    "exceeded for this key",
                    retry_after=tokens.retry_after(now, tpm, 1), code="tokens_per_minute",
                )
        if qpm:
            requests = self._requests.setdefault(key_id, _Window())
            requests.trim(now)
            if requests.total + 1 > qpm:
                raise RateLimited(
                    f"분당 요청 한도({qpm})를 넘었습니다 / requests-per-minute limit ({qpm}) "
                    "exceeded for this key",
                    retry_after=requests.retry_after(now, qpm, 1), code="requests_per_minute",
                )
            requests.add(now, 1)

    def spend_tokens(self, key_id: str, tokens: int, *, tpm: int | None) -> None:
        if tpm and tokens > 0:
            window = self._tokens.setdefault(key_id, _Window())
            window.add(time.monotonic(), tokens)

    async def aclose(self) -> None:
        return None


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
