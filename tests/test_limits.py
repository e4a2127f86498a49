"""Sliding-window limits, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from jaju import limits
from jaju.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(limits.time, "monotonic", c)
    return c


async def test_qpm_window_slides(clock):
    rl = limits.RateLimiter()
    for _ in range(3):
        await rl.check("k", qpm=3, tpm=None)
        clock.now += 10
    with pytest.raises(RateLimited) as e:
        await rl.check("k", qpm=3, tpm=None)
    assert e.value.retry_after == 30  # first request leaves the window at t0+60
    clock.now += 30
    await rl.check("k", qpm=3, tpm=None)


async def test_tpm_counts_spent_tokens(clock):
    rl = limits.RateLimiter()
    await rl.check("k", qpm=None, tpm=100)
    rl.spend_tokens("k", 60, tpm=100)
    await rl.check("k", qpm=None, tpm=100)
    rl.spend_tokens("k", 50, tpm=100)
    with pytest.raises(RateLimited) as e:
        await rl.check("k", qpm=None, tpm=100)
    assert e.value.code == "tokens_per_minute"
    clock.now += 61
    await rl.check("k", qpm=None, tpm=100)


async def test_no_limits_means_no_refusal(clock):
    rl = limits.RateLimiter()
    for _ in range(1000):
        await rl.check("k", qpm=None, tpm=None)
