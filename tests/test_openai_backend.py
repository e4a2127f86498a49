"""The `openai` backend against real upstreams: other `jaju serve` processes running llama.cpp."""

from __future__ import annotations

import sqlite3

import httpx
import openai
import pytest

from conftest import run_jaju, start_script

MSGS = [{"role": "user", "content": "안녕하세요"}]


@pytest.fixture
def upstreams(live, tiny_gguf, tmp_path):
    """Two replicas of a jaju serving the tiny model; both require the same upstream key."""
    home = tmp_path / "upstream-home"
    key = run_jaju("keys", "create", "--tenant", "gateway", home=home).stdout.strip()
    replicas = [live("--model", str(tiny_gguf), home=home) for _ in range(2)]
    return replicas, key


def gateway(live, urls, key, extra=""):
    quoted = ", ".join(f'"{u}"' for u in urls)
    return live(config=f"""
[backends.remote]
type = "openai"
urls = [{quoted}]
model = "tiny"
api_key_env = "UPSTREAM_KEY"
timeout = 20
retries = 2
{extra}
""", env={"UPSTREAM_KEY": key})


def client(server):
    return openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)


def test_passthrough_matches_direct(live, upstreams):
    replicas, key = upstreams
    gw = gateway(live, [r.url for r in replicas], key)
    direct = openai.OpenAI(base_url=replicas[0].url, api_key=key, max_retries=0)
    want = direct.chat.completions.create(model="tiny", messages=MSGS, max_tokens=12, seed=4)
    got = client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=12,
                                             seed=4)
    assert got.model == "remote"
    assert got.choices[0].message.content == want.choices[0].message.content
    assert got.usage.completion_tokens == want.usage.completion_tokens

    chunks = list(client(gw).chat.completions.create(
        model="remote", messages=MSGS, max_tokens=12, seed=4, stream=True))
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want.choices[0].message.content
    assert all(c.usage is None for c in chunks)  # upstream usage chunk withheld: not asked for
    # the upstream key is used but never written to the gateway's log
    assert key not in gw.log.read_text(encoding="utf-8")


def test_failover_when_a_replica_dies(live, upstreams):
    replicas, key = upstreams
    gw = gateway(live, [r.url for r in replicas], key)
    replicas[0].kill()
    for _ in range(4):  # round robin would send half of these to the dead replica
        r = client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2)
        assert r.choices[0].finish_reason == "length"
        chunks = list(client(gw).chat.completions.create(
            model="remote", messages=MSGS, max_tokens=2, stream=True))
        assert chunks
    replicas[1].kill()
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2)
    assert e.value.status_code == 503
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2,
                                           stream=True)
    assert e.value.status_code == 503
    assert httpx.get(gw.url.removesuffix("/v1") + "/health").status_code == 200


def test_wrong_upstream_key_is_a_gateway_error(live, upstreams):
    replicas, _ = upstreams
    gw = gateway(live, [replicas[0].url], "jaju-wrong")
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2)
    assert e.value.status_code == 502


def test_upstream_stalls_mid_stream(live, tmp_path):
    stall, port = start_script("stall_upstream.py")
    try:
        gw = live(config=f"""
[backends.remote]
type = "openai"
urls = ["http://127.0.0.1:{port}/v1"]
timeout = 1
""")
        stream = client(gw).chat.completions.create(model="remote", messages=MSGS, stream=True)
        with pytest.raises(openai.APIError) as e:
            for _ in stream:
                pass
        assert "timed out" in str(e.value)
        db = sqlite3.connect(gw.home / "jaju.db")
        assert db.execute("SELECT status FROM usage").fetchall() == [(503,)]
    finally:
        stall.kill()
        stall.wait()


def test_disconnect_cancels_upstream(live, upstreams):
    replicas, key = upstreams
    gw = gateway(live, [replicas[0].url], key)
    stream = client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=1500,
                                                stream=True)
    for i, _ in enumerate(stream):
        if i == 3:
            break
    stream.close()
    # a following request goes through (the upstream's single context was released)
    client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2)
    up = sqlite3.connect(replicas[0].home / "jaju.db")
    rows = up.execute("SELECT status, completion_tokens FROM usage ORDER BY id").fetchall()
    assert rows[0][0] == 499 and rows[0][1] < 1500  # the upstream stopped generating
    gwdb = sqlite3.connect(gw.home / "jaju.db")
    assert gwdb.execute("SELECT status FROM usage ORDER BY id").fetchall()[0] == (499,)


def test_round_robin_spreads_load(live, tiny_gguf, tmp_path):
    replicas = [live("--model", str(tiny_gguf), home=tmp_path / f"r{i}") for i in range(2)]
    gw = gateway(live, [r.url for r in replicas], "unused")
    for _ in range(4):
        client(gw).chat.completions.create(model="remote", messages=MSGS, max_tokens=2)
    counts = [sqlite3.connect(r.home / "jaju.db").execute("SELECT COUNT(*) FROM usage")
              .fetchone()[0] for r in replicas]
    assert counts == [2, 2]


async def test_stream_lines_split_anywhere_by_the_network():
    """The backend reads an upstream stream block by block: a line cut across reads, CRLF
    endings, blank lines and a last line without its newline come out as the lines they are;
    a line over MAX_LINE fails (the backend turns that into an upstream error)."""
    import asyncio

    import aiohttp
    import pytest
    from aiohttp.base_protocol import BaseProtocol

    from jaju.backends.openai_compat import MAX_LINE, _Lines

    def stream() -> aiohttp.StreamReader:
        protocol = BaseProtocol(asyncio.get_running_loop())
        protocol.connection_made(asyncio.Transport())  # a reader waits only while connected
        return aiohttp.StreamReader(protocol, 2**23, loop=asyncio.get_running_loop())

    def reader(*blocks: bytes) -> aiohttp.StreamReader:
        content = stream()
        for block in blocks:
            content.feed_data(block)
        content.feed_eof()
        return content

    async def lines(content: aiohttp.StreamReader) -> list[bytes]:
        return [line async for line in _Lines(content)]

    # fed one by one so that each is its own read
    content = stream()
    got: list[bytes] = []

    async def consume() -> None:
        got.extend(await lines(content))

    task = asyncio.create_task(consume())
    for block in (b'data: {"a"', b': 1}\r\n\r\nda', b"ta: [DONE]\r\n", b"\r\n", b"tail"):
        content.feed_data(block)
        await asyncio.sleep(0)
    content.feed_eof()
    await task
    assert got == [b'data: {"a": 1}\r', b"\r", b"data: [DONE]\r", b"\r", b"tail"]

    assert await lines(reader(b"x\n\ny\n")) == [b"x", b"", b"y"]
    with pytest.raises(ValueError, match="longer than"):
        await lines(reader(b"data: " + b"x" * (MAX_LINE + 1)))


async def test_streams_and_answers_reuse_one_upstream_connection(tmp_path):
    """After `[DONE]` the backend leaves the upstream connection in the pool: ten streamed and
    plain answers in a row open one connection, not ten (a new TCP connection per request was
    a tenth of a streamed request's cost)."""
    import aiohttp

    from jaju.backends.openai_compat import OpenAICompatBackend
    from jaju.config import OpenAIBackend
    from jaju.protocol import ChatRequest

    proc, port = start_script("echo_upstream.py", str(tmp_path / "record.jsonl"))
    try:
        backend = OpenAICompatBackend("echo", OpenAIBackend.model_validate(
            {"type": "openai", "urls": [f"http://127.0.0.1:{port}/v1"], "model": "echo"}))
        await backend.start()
        opened = []
        trace = aiohttp.TraceConfig()

        async def on_create(*_):
            opened.append(1)

        trace.on_connection_create_end.append(on_create)
        assert backend._client is not None
        backend._client.trace_configs.append(trace)
        trace.freeze()
        request = ChatRequest.model_validate({"model": "echo", "messages": MSGS})
        for i in range(10):
            if i % 2:
                await backend.complete(request)
            else:
                chunks = [c async for c in backend.stream(request)]
                assert "".join(c["choices"][0]["delta"].get("content") or ""
                               for c in chunks if c.get("choices")) == "들은 내용: 안녕하세요"
        assert len(opened) == 1
        await backend.aclose()
    finally:
        proc.kill()
        proc.wait()
