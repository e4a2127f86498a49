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
