"""CPU time per request of two asyncio HTTP clients against the stub upstream: httpx (what the
`openai` backend used) and aiohttp (what it uses now). One process, requests one after the
other, so the figure is the client's own cost, not the machine's load.

Run: .venv/bin/python bench/upstream_client.py [N]
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

HERE = Path(__file__).resolve().parent
BODY = {"model": "stub", "messages": [{"role": "user", "content": "안녕하세요"}], "max_tokens": 16}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def with_httpx(url: str, n: int, stream: bool) -> float:
    async with httpx.AsyncClient() as client:
        start = cpu()
        for _ in range(n):
            if stream:
                request = client.build_request("POST", url, json={**BODY, "stream": True})
                response = await client.send(request, stream=True)
                async for line in response.aiter_lines():
                    if line.startswith("data:") and line[5:].strip() != "[DONE]":
                        json.loads(line[5:])
                await response.aclose()
            else:
                (await client.post(url, json=BODY)).json()
        return (cpu() - start) / n * 1000


async def with_aiohttp(url: str, n: int, stream: bool) -> float:
    async with aiohttp.ClientSession() as session:
        start = cpu()
        for _ in range(n):
            async with session.post(url, json={**BODY, "stream": stream}) as response:
                if stream:
                    async for raw in response.content:
                        if raw.startswith(b"data:") and raw[5:].strip() != b"[DONE]":
                            json.loads(raw[5:])
                else:
                    json.loads(await response.read())
        return (cpu() - start) / n * 1000


async def main(n: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_upstream.py"), str(port)])
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        print("| mode | httpx CPU ms/req | aiohttp CPU ms/req |\n|---|---|---|")
        for stream in (False, True):
            await with_httpx(url, 200, stream)  # warm up both
            await with_aiohttp(url, 200, stream)
            h = await with_httpx(url, n, stream)
            a = await with_aiohttp(url, n, stream)
            print(f"| {'stream' if stream else 'plain'} | {h:.3f} | {a:.3f} |")
    finally:
        stub.terminate()
        stub.wait()


if __name__ == "__main__":
    import uvloop

    uvloop.install()  # as uvicorn runs jaju
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
