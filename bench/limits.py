"""Cost of one per-key limit check: in process (RateLimiter) vs shared through Redis
(RedisLimiter, one Lua script per check), side by side in one run. Prints a markdown table.

Run: python bench/limits.py [--redis redis://127.0.0.1:6379/12] [--checks 5000]
The Redis database given is emptied first.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time

from jaju.limits import Limiter, RateLimiter, RedisLimiter


async def measure(limiter: Limiter, checks: int, concurrency: int) -> dict[str, float]:
    """`checks` checks spread over `concurrency` tasks, each on its own key (qpm and tpm set,
    never reached), with one spend_tokens after each, as the Gateway does."""
    latencies: list[float] = []

    async def worker(n: int) -> None:
        key = f"bench-{n}"
        for _ in range(checks // concurrency):
            t0 = time.perf_counter()
            await limiter.check(key, qpm=10**9, tpm=10**12)
            latencies.append(time.perf_counter() - t0)
            limiter.spend_tokens(key, 100, tpm=10**12)

    for n in range(concurrency):  # warm up: connections open, script loaded
        await limiter.check(f"bench-{n}", qpm=10**9, tpm=10**12)
    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"checks/s": len(latencies) / elapsed, "p50 ms": pct(0.50), "p99 ms": pct(0.99)}


class BareGet:
    """Reference: one plain GET through the same client and pool (the round trip alone)."""

    def __init__(self, shared: RedisLimiter) -> None:
        self.redis = shared.redis

    async def check(self, key_id: str, *, qpm: int | None, tpm: int | None) -> None:
        await self.redis.get(key_id)

    def spend_tokens(self, key_id: str, tokens: int, *, tpm: int | None) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--checks", type=int, default=5000)
    args = parser.parse_args()
    rows = []
    for concurrency in (1, 8):
        memory = RateLimiter()
        rows.append(("in process", concurrency, await measure(memory, args.checks, concurrency)))
        shared = RedisLimiter(args.redis)
        await shared.redis.flushdb()
        rows.append(("Redis", concurrency, await measure(shared, args.checks, concurrency)))
        rows.append(("(Redis GET alone)", concurrency,
                     await measure(BareGet(shared), args.checks, concurrency)))
        await shared.aclose()
    print(f"{args.checks} checks per row, Python {platform.python_version()}, {args.redis}\n")
    print("| limiter | concurrency | checks/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, concurrency, r in rows:
        print(f"| {name} | {concurrency} | {r['checks/s']:,.0f} | {r['p50 ms']:.3f} | "
              f"{r['p99 ms']:.3f} |")


if __name__ == "__main__":
    asyncio.run(main())
