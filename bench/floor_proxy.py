"""The floor under jaju's added latency: the least a gateway built on jaju's own parts can do.

Run: python bench/floor_proxy.py PORT UPSTREAM_URL [SQLITE_PATH]

A raw ASGI app on uvicorn (uvloop, httptools, as `jaju serve` runs) that forwards each chat
request's bytes to UPSTREAM_URL with one aiohttp session and answers the upstream's bytes:
no key, no parsing, no guard, no limit. With SQLITE_PATH it also does what #12 requires before
a 2xx — commit a usage row through a writer thread (never on the event loop), waiting for the
commit — with a one-row insert into a WAL database (`synchronous=NORMAL`, as jaju's store).
`bench/gateway.py --floor` runs both beside jaju: what is left between them and jaju is
jaju's own work; what lies between the direct path and them no gateway of these parts avoids.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import aiohttp
import uvicorn


class Writer:
    """One thread committing queued rows (the shape of jaju's store writer, without groups,
    retries or the audit chain)."""

    def __init__(self, path: str) -> None:
        self.queue: queue.SimpleQueue[tuple[tuple[float, int], Future[None]]] = (
            queue.SimpleQueue())
        self.path = path
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS usage (ts REAL, bytes INTEGER)")
        while True:
            row, done = self.queue.get()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO usage VALUES (?, ?)", row)
            db.execute("COMMIT")
            done.set_result(None)

    async def commit(self, size: int) -> None:
        done: Future[None] = Future()
        self.queue.put(((time.time(), size), done))
        await asyncio.wrap_future(done)


def make_app(upstream: str, db: str | None) -> Callable[..., Awaitable[None]]:
    session: aiohttp.ClientSession | None = None
    writer = Writer(db) if db else None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    session = aiohttp.ClientSession()
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        assert session is not None
        path = scope["path"].removeprefix("/v1")
        async with session.post(upstream + path, data=body,
                                headers={"content-type": "application/json"}) as response:
            kind = response.headers.get("content-type", "application/json").encode()
            if not kind.startswith(b"text/event-stream"):
                data = await response.read()
                if writer is not None:
                    await writer.commit(len(data))
                await send({"type": "http.response.start", "status": response.status,
                            "headers": [(b"content-type", kind)]})
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": response.status,
                        "headers": [(b"content-type", kind)]})
            size, tail, committed = 0, b"", False
            async for chunk in response.content.iter_any():
                size, tail = size + len(chunk), (tail + chunk)[-16:]  # [DONE] may be split
                if writer is not None and not committed and b"[DONE]" in tail:
                    await writer.commit(size)  # the end is sent after the commit, as in jaju
                    committed = True
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    uvicorn.run(make_app(upstream, sys.argv[3] if len(sys.argv) > 3 else None),
                host="127.0.0.1", port=port, log_level="warning", loop="uvloop",
                http="httptools")
