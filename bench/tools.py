"""Tool-call overhead: what jaju's registry, policy, egress guard and audit log add to a call,
against calling the same MCP server and the same HTTP service directly.

Both paths run in one process, in alternating blocks, so machine noise hits them alike:
  MCP   direct: the official SDK's ClientSession.call_tool on a stdio server
        jaju:   ToolRegistry.call on `bench.add` from an [mcp_servers] entry (its own
                instance of the same server): policy, JSON-schema validation, rate-limit
                check, PII guard off, audit record (SQLite, hash-chained) per call
  HTTP  direct: httpx.AsyncClient GET /add
        jaju:   the OpenAPI tool `svc.add` (spec from the service) through the egress guard

Run: .venv/bin/python bench/tools.py [--calls 2000] [--blocks 10] [--out FILE]
Not a test: read the added milliseconds and ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SERVERS = str(HERE / "tool_servers.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn, n: int, out: list[float]) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        t = time.perf_counter()
        await fn(i)
        out.append((time.perf_counter() - t) * 1000)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000, help="calls per path")
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from jaju.config import Settings
    from jaju.state import AppState
    from jaju.tools.policy import policy_for

    port = free_port()
    service = subprocess.Popen([sys.executable, SERVERS, "http", str(port)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    tmp = Path(tempfile.mkdtemp(prefix="jaju-bench-tools-"))
    (tmp / "spec.json").write_text(httpx.get(base + "/openapi.json").text)
    settings = Settings.model_validate({
        "home": tmp / "home",
        "mcp_servers": {"bench": {"command": sys.executable, "args": [SERVERS, "mcp"]}},
        "openapi": {"svc": {"spec": str(tmp / "spec.json"), "base_url": base,
                            "allow_private": True}}})
    state = AppState.build(settings, load_plugins=False)
    await state.hub.start(wait=30)
    registry, policy = state.hub.registry, policy_for(settings, "bench")
    results: dict[str, list[float]] = {k: [] for k in
                                       ("mcp_direct", "mcp_jaju", "http_direct", "http_jaju")}
    params = StdioServerParameters(command=sys.executable, args=[SERVERS, "mcp"])
    try:
        async with stdio_client(params) as (r, w), ClientSession(r, w) as session, \
                httpx.AsyncClient() as client:
            await session.initialize()

            async def mcp_direct(i: int) -> None:
                res = await session.call_tool("add", {"a": i, "b": 1})
                assert res.structured_content == {"result": i + 1}

            async def mcp_jaju(i: int) -> None:
                res = await registry.call("bench.add", {"a": i, "b": 1}, policy=policy,
                                          tenant="bench", actor="bench")
                assert res == {"result": i + 1}

            async def http_direct(i: int) -> None:
                res = await client.get(base + "/add", params={"a": i, "b": 1})
                assert res.json() == {"sum": i + 1}

            async def http_jaju(i: int) -> None:
                res = await registry.call("svc.add", {"a": i, "b": 1}, policy=policy,
                                          tenant="bench", actor="bench")
                assert res == {"sum": i + 1}

            paths = {"mcp_direct": mcp_direct, "mcp_jaju": mcp_jaju,
                     "http_direct": http_direct, "http_jaju": http_jaju}
            for fn in paths.values():  # warm up
                for i in range(20):
                    await fn(i)
            per_block = max(1, args.calls // args.blocks)
            for block in range(args.blocks):
                order = list(paths) if block % 2 == 0 else list(reversed(paths))
                for name in order:
                    await timed(paths[name], per_block, results[name])
    finally:
        await state.hub.aclose()
        state.store.close()
        service.kill()

    rows = []
    for kind in ("mcp", "http"):
        direct, jaju = results[f"{kind}_direct"], results[f"{kind}_jaju"]
        d50, j50 = statistics.median(direct), statistics.median(jaju)
        d99, j99 = pct(direct, 0.99), pct(jaju, 0.99)
        rows.append((kind.upper(), len(direct), d50, j50, j50 - d50, d99, j99, j99 - d99,
                     j50 / d50))
    lines = [
        f"Tool-call overhead ({platform.machine()}, {platform.python_version()}, "
        f"{args.calls} calls per path in {args.blocks} alternating blocks)",
        "",
        "| source | calls | direct p50 ms | jaju p50 ms | added p50 ms | direct p99 ms "
        "| jaju p99 ms | added p99 ms | p50 ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:+.3f} | {r[5]:.3f} "
                     f"| {r[6]:.3f} | {r[7]:+.3f} | {r[8]:.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: round(statistics.median(v), 4) for k, v in results.items()}))


if __name__ == "__main__":
    asyncio.run(main())
