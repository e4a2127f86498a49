"""Closed-loop HTTP load: C workers send chat requests for D seconds. Prints one JSON line.

Run: python bench/load.py BASE_URL[,BASE_URL...] MODEL {plain,stream} CONCURRENCY SECONDS [API_KEY]

With several base URLs (replicas of one gateway) the workers are dealt to them round-robin,
as a load balancer would spread connections.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import httpx


async def run(base: str, model: str, mode: str, concurrency: int, seconds: float,
              key: str) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "안녕하세요, 벤치마크입니다."}],
            "max_tokens": 16, "stream": mode == "stream"}
    latencies: list[float] = []
    errors = 0
    start = resource.getrusage(resource.RUSAGE_SELF)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    bases = base.split(",")
    clients = [httpx.AsyncClient(base_url=b, limits=limits, timeout=30, headers=headers)
               for b in bases]
    try:
        deadline = time.perf_counter() + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    if mode == "stream":
                        async with client.stream("POST", "/chat/completions", json=body) as r:
                            data = b"".join([part async for part in r.aiter_bytes()])
                        ok = r.status_code == 200 and data.rstrip().endswith(b"[DONE]")
                    else:
                        r = await client.post("/chat/completions", json=body)
                        ok = r.status_code == 200 and "choices" in r.json()
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies \
            else float("nan")

    usage = resource.getrusage(resource.RUSAGE_SELF)  # this load generator's own CPU time
    spent = usage.ru_utime + usage.ru_stime - start.ru_utime - start.ru_stime
    client_cpu = spent * 1000 / max(1, len(latencies))
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "client_cpu_ms": client_cpu}


if __name__ == "__main__":
    base, model, mode, conc, secs = sys.argv[1:6]
    key = sys.argv[6] if len(sys.argv) > 6 else "none"
    print(json.dumps(asyncio.run(run(base, model, mode, int(conc), float(secs), key))))
