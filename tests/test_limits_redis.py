"""Limits shared through Redis (`[limits] redis_url`): exact across limiters, the same codes
and Retry-After as in process, tokens counted in the background, and both `fail` settings
against a closed port and against a Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
import time

import pytest

from jaju.errors import RateLimited, ServiceUnavailable
from jaju.limits import RedisLimiter
from jaju.store import open_store

CHAT = {"model": "extractive", "messages": [{"role": "user", "content": "안녕하세요?"}]}


def closed_port() -> int:
    from conftest import free_port

    return free_port()  # bound and released: nothing listens there


async def test_replicas_share_one_window_exactly(shared_redis):
    limiters = [RedisLimiter(shared_redis) for _ in range(3)]
    results = await asyncio.gather(*(limiters[i % 3].check("k", qpm=30, tpm=None)
                                     for i in range(100)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(results) - len(refused) == 30
    assert all(isinstance(r, RateLimited) and r.code == "requests_per_minute" for r in refused)
    assert all(55 <= r.retry_after <= 60 for r in refused if isinstance(r, RateLimited))
    await limiters[0].check("other", qpm=30, tpm=None)  # another key has its own window
    for limiter in limiters:
        await limiter.aclose()


async def test_window_slides_and_retry_after_is_exact(shared_redis):
    limiter = RedisLimiter(shared_redis, window=2.0)
    await limiter.check("k", qpm=2, tpm=None)
    await asyncio.sleep(1.2)
    await limiter.check("k", qpm=2, tpm=None)
    with pytest.raises(RateLimited) as e:
        await limiter.check("k", qpm=2, tpm=None)
    assert e.value.retry_after == 1  # the first request leaves the window in 0.8 s
    await asyncio.sleep(0.9)
    await limiter.check("k", qpm=2, tpm=None)  # the first has left; the second still counts
    with pytest.raises(RateLimited):
        await limiter.check("k", qpm=2, tpm=None)
    await limiter.aclose()


async def test_tokens_are_spent_in_the_background(shared_redis):
    limiter, other = RedisLimiter(shared_redis), RedisLimiter(shared_redis)
    await limiter.check("k", qpm=None, tpm=100)
    started = time.perf_counter()
    limiter.spend_tokens("k", 60, tpm=100)
    limiter.spend_tokens("k", 50, tpm=100)
    assert time.perf_counter() - started < 0.005  # queued, not sent
    await limiter.flush()
    with pytest.raises(RateLimited) as e:
        await other.check("k", qpm=None, tpm=100)  # seen by another replica
    assert e.value.code == "tokens_per_minute"
    assert 55 <= e.value.retry_after <= 60
    limiter.spend_tokens("k", 0, tpm=100)  # nothing to send
    limiter.spend_tokens("k", 10, tpm=None)  # no token limit: nothing counted
    await limiter.aclose()
    await other.aclose()


async def test_no_limits_never_touch_redis():
    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0")
    await limiter.check("k", qpm=None, tpm=None)  # no round trip, so no outage either
    assert not limiter.down
    await limiter.aclose()


async def test_unreachable_fails_closed_or_open():
    closed = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0")
    with pytest.raises(ServiceUnavailable) as e:
        await closed.check("k", qpm=5, tpm=None)
    assert e.value.status_code == 503 and e.value.code == "limits_unavailable"
    await closed.aclose()

    events: list[tuple[str, dict]] = []
    opened = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/0", fail="open",
                          on_outage=lambda phase, detail: events.append((phase, detail)))
    for _ in range(20):
        await opened.check("k", qpm=1, tpm=None)  # all admitted: no limit while Redis is away
    assert [phase for phase, _ in events] == ["begin"]  # once per outage, not per request
    await opened.aclose()


def _key(home, **limits) -> dict[str, str]:
    store = open_store(home / "jaju.db")
    secret, _ = store.create_key("acme", **limits, actor="test")
    store.close()
    return {"Authorization": f"Bearer {secret}"}


def _records(home, action: str | None = None) -> list[dict]:
    store = open_store(home / "jaju.db")
    rows = store.audit_records(1000)
    assert store.verify_audit()[1] == []
    store.close()
    return [r for r in rows if action is None or r["action"] == action]


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_api_fail_closed_answers_503_and_records_it(make_client, home):
    client = make_client({"limits": {"redis_url": f"redis://127.0.0.1:{closed_port()}/0"}})
    h = _key(home, qpm=10)
    r = client.post("/v1/chat/completions", json=CHAT, headers=h)
    assert r.status_code == 503
    assert r.json() == {"error": {
        "message": r.json()["error"]["message"], "type": "api_error", "param": None,
        "code": "limits_unavailable"}}
    assert "Redis" in r.json()["error"]["message"]
    assert r.headers["retry-after"] == "1"  # clients pause before trying again
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["limits"] == "unavailable"
    assert any("Redis" in w and "503" in w for w in health["warnings"])
    chats = _records(home, "chat.completions")
    assert len(chats) == 1 and chats[0]["outcome"] == "error"
    assert '"status": 503' in chats[0]["detail"] and "limits_unavailable" in chats[0]["detail"]
    # a key without limits needs no Redis
    assert client.post("/v1/chat/completions", json=CHAT, headers=_key(home)).status_code == 200


def test_api_fail_open_admits_and_audits_once(make_client, home):
    client = make_client({"limits": {"redis_url": f"redis://127.0.0.1:{closed_port()}/0",
                                     "fail": "open"}})
    h = _key(home, qpm=1)
    for _ in range(5):
        assert client.post("/v1/chat/completions", json=CHAT, headers=h).status_code == 200
    outages = _records(home, "limits.redis")
    assert len(outages) == 1 and outages[0]["outcome"] == "unavailable"
    assert outages[0]["actor"] == "system"


@pytest.mark.parametrize("fail", ["closed", "open"])
def test_api_recovers_when_redis_comes_back(make_client, home, own_redis, fail):
    client = make_client({"limits": {"redis_url": own_redis.url, "fail": fail}})
    h = _key(home, qpm=3)

    def status() -> int:
        return client.post("/v1/chat/completions", json=CHAT, headers=h).status_code

    assert [status() for _ in range(4)] == [200, 200, 200, 429]
    own_redis.stop()
    assert status() == (503 if fail == "closed" else 200)
    assert status() == (503 if fail == "closed" else 200)  # fast: no connect attempt
    own_redis.start()  # empty: the windows are gone with the old server
    seen: list[int] = []
    _wait_for(lambda: seen.append(status()) or seen[-1] == 429)  # limited again, by itself
    if fail == "closed":
        first = seen.index(200)
        assert set(seen[:first]) <= {503} and seen[first:] == [200, 200, 200, 429]
    outages = [r["outcome"] for r in _records(home, "limits.redis")]
    assert outages == ([] if fail == "closed" else ["unavailable", "recovered"])


async def test_token_counts_survive_a_restarted_redis(own_redis):
    limiter = RedisLimiter(own_redis.url)
    limiter.spend_tokens("k", 10, tpm=100)
    await limiter.flush()  # the spend script is loaded now
    own_redis.stop()
    own_redis.start()  # empty, without scripts
    limiter.spend_tokens("k", 150, tpm=100)
    await limiter.flush()
    with pytest.raises(RateLimited) as e:
        await limiter.check("k", qpm=None, tpm=100)
    assert e.value.code == "tokens_per_minute"
    await limiter.aclose()
