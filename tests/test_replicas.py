"""Three `jaju serve` processes behind one config, limits shared through Redis: a key's qpm
holds across the replicas exactly, tokens spent through one replica count on another, and
2,000 mixed requests with one replica killed (SIGKILL) mid-run leave exactly one usage row per
answered request and an audit chain that verifies.

The store is a fresh PostgreSQL database unless JAJU_TEST_STORE_URL names another
(`[store] url`, e.g. sqlite:///path): `replica_config` writes the config
and `usage_prompts` reads the rows back for either."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, redis_url, run_jaju, start_server

REPLICAS = 3
STORE_URL = os.environ.get("JAJU_TEST_STORE_URL")
"""Another store for the replicas (default: a fresh PostgreSQL database made by the test)."""
MARK = re.compile(r"mark-[0-9a-f]{32}")


def replica_config(redis: str, store_url: str | None = None) -> str:
    """The one jaju.toml every replica reads."""
    lines = ["[server]", "store_content = true",  # the prompt (with its marker) is stored
             "", "[limits]", f'redis_url = "{redis}"']
    if store_url:
        lines += ["", "[store]", f'url = "{store_url}"']
    return "\n".join(lines) + "\n"


def usage_prompts(home: Path, store_url: str | None = None) -> list[tuple[int, str | None]]:
    """(status, stored prompt) of every chat usage row."""
    sql = "SELECT status, prompt FROM usage WHERE endpoint = 'chat.completions'"
    if store_url and store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url) as db:
            return [(int(s), p) for s, p in db.execute(sql).fetchall()]
    db = sqlite3.connect(home / "jaju.db")
    try:
        return [(int(s), p) for s, p in db.execute(sql).fetchall()]
    finally:
        db.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[list[LiveServer], Path, dict[str, str], Path,
                                                str]]:
    """Three replicas with one config: one PostgreSQL store (a fresh database) and one Redis
    database (15, emptied); the keys made first."""
    tmp = tmp_path_factory.mktemp("replicas")
    home = tmp / "home"
    config = tmp / "jaju.toml"
    store_url = STORE_URL or fresh_postgres()
    config.write_text(replica_config(redis_url(15), store_url), encoding="utf-8")
    keys = {}
    for name, limits in (("limited", ["--qpm", "30"]), ("tokens", ["--tpm", "50"]),
                         ("load", ["--qpm", "1000000", "--tpm", "1000000000"])):  # counted, never hit
        out = run_jaju("keys", "create", "--tenant", name, *limits, "--config", str(config),
                       home=home)
        assert out.returncode == 0, out.stderr
        keys[name] = out.stdout.strip()
    servers: list[LiveServer] = []
    try:
        for i in range(REPLICAS):
            servers.append(start_server(["--config", str(config)], home, tmp / f"replica{i}.log"))
        yield servers, home, keys, config, store_url
    finally:
        for server in servers:
            server.stop()
        if not STORE_URL:
            drop_postgres(store_url)


def drop_postgres(url: str) -> None:
    import psycopg

    from conftest import PG_ADMIN

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def fresh_postgres() -> str:
    """A new database on the machine's PostgreSQL (dropped after the module's tests)."""
    import uuid

    from conftest import PG_ADMIN, service_or_skip

    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
            name = f"jaju_replicas_{uuid.uuid4().hex[:10]}"
            admin.execute(f"CREATE DATABASE {name}")
    except Exception as e:
        service_or_skip("PostgreSQL", e)
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def test_qpm_holds_across_replicas(cluster):
    servers, _, keys, _, _ = cluster
    headers = {"Authorization": f"Bearer {keys['limited']}"}
    body = {"model": "extractive", "messages": [{"role": "user", "content": "안녕하세요"}]}
    statuses, waits = [], []
    with httpx.Client(timeout=30) as client:
        for i in range(45):  # well inside one minute
            r = client.post(f"{servers[i % REPLICAS].url}/chat/completions", json=body,
                            headers=headers)
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["error"]["code"] == "requests_per_minute"
                waits.append(int(r.headers["Retry-After"]))
    assert statuses == [200] * 30 + [429] * 15
    assert all(1 <= w <= 60 for w in waits)


def test_tokens_spent_on_one_replica_count_on_another(cluster):
    servers, _, keys, _, _ = cluster
    headers = {"Authorization": f"Bearer {keys['tokens']}"}
    body = {"model": "extractive", "messages": [{"role": "user", "content": "안녕하세요"}]}
    with httpx.Client(timeout=30) as client:
        first = client.post(f"{servers[0].url}/chat/completions", json=body, headers=headers)
        assert first.status_code == 200 and first.json()["usage"]["total_tokens"] > 50
        time.sleep(0.2)  # token counts are sent in the background, batched every 5 ms
        r = client.post(f"{servers[1].url}/chat/completions", json=body, headers=headers)
    assert r.status_code == 429 and r.json()["error"]["code"] == "tokens_per_minute"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


async def _drive(servers: list[LiveServer], key: str, total: int, kill_after: int,
                 concurrency: int = 6) -> tuple[list[str], Counter[str]]:
    """Send `total` mixed requests round-robin over the live replicas; SIGKILL the last one
    after `kill_after` have been sent. A replica that refuses a connection is taken out of the
    rotation (as a load balancer would); its request is not resent. Returns the markers of
    the requests that got a 2xx (a stream only when it reached [DONE]) and a tally."""
    headers = {"Authorization": f"Bearer {key}"}
    alive = list(range(len(servers)))
    answered: list[str] = []
    tally: Counter[str] = Counter()
    sent = 0
    rng = random.Random(12)

    async def one(client: httpx.AsyncClient, n: int) -> None:
        kind = rng.choice(["chat", "chat", "stream", "stream", "bad_json", "bad_model",
                           "bad_field"])
        mark = f"mark-{uuid.uuid4().hex}"
        body = {"model": "extractive", "messages": [{"role": "user",
                                                      "content": f"질문 {n} {mark}"}]}
        if kind == "bad_model":
            body["model"] = "no-such-model"
        if kind == "bad_field":
            body["temperature"] = "hot"
        if kind == "stream":
            body["stream"] = True
        content = b'{"model": ' if kind == "bad_json" else json.dumps(body).encode()
        replica = alive[n % len(alive)]
        url = f"{servers[replica].url}/chat/completions"
        try:
            if kind == "stream":
                async with client.stream("POST", url, content=content, headers=headers) as r:
                    lines = [line async for line in r.aiter_lines()]
                    ok = r.status_code == 200 and "data: [DONE]" in lines
            else:
                r = await client.post(url, content=content, headers=headers)
                ok = 200 <= r.status_code < 300
                if kind != "chat":
                    assert r.status_code in (400, 404, 422), r.text
            tally[f"{kind}:{'2xx' if ok else 'other'}"] += 1
            if ok:
                assert kind in ("chat", "stream")
                answered.append(mark)
        except httpx.TransportError:  # the killed replica
            tally[f"{kind}:transport_error"] += 1
            if replica in alive and len(alive) > 1 and servers[replica].proc.poll() is not None:
                alive.remove(replica)

    async with httpx.AsyncClient(timeout=30) as client:
        pending: set[asyncio.Task[None]] = set()
        while sent < total:
            if sent == kill_after:
                servers[-1].kill()  # SIGKILL, with requests in flight
            while len(pending) >= concurrency:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(asyncio.create_task(one(client, sent)))
            sent += 1
        await asyncio.gather(*pending)
    return answered, tally


def test_mixed_load_with_a_replica_killed(cluster):
    servers, home, keys, config, store_url = cluster
    started = time.monotonic()
    answered, tally = asyncio.run(asyncio.wait_for(
        _drive(servers, keys["load"], total=2000, kill_after=700), timeout=300))
    print(f"\n{dict(sorted(tally.items()))} in {time.monotonic() - started:.1f} s")
    assert sum(tally.values()) == 2000
    assert len(answered) > 1000  # most requests were answered
    assert tally["chat:transport_error"] + tally["stream:transport_error"] < 50

    rows = usage_prompts(home, store_url)
    marks = Counter(m for _, prompt in rows for m in MARK.findall(prompt or ""))
    assert not [m for m, n in marks.items() if n > 1], "duplicate usage rows"
    missing = [m for m in answered if marks[m] != 1]
    assert not missing, f"{len(missing)} answered requests without a usage row"
    assert len(rows) >= len(answered)

    verify = run_jaju("audit", "verify", "--config", str(config), home=home)
    assert verify.returncode == 0, verify.stderr + verify.stdout
