"""Fixtures that build what the tests need: a tiny GGUF, settings, apps and live servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from jaju.app import create_app
from jaju.config import Settings

from tinymodel import write_tiny_gguf

JAJU = str(Path(sys.executable).parent / "jaju")


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def make_client(home: Path) -> Iterator[Callable[..., TestClient]]:
    """Build an in-process app from settings (dict form of jaju.toml) and enter its lifespan."""
    clients: list[TestClient] = []

    def make(config: dict | None = None) -> TestClient:
        settings = Settings.model_validate({"home": home, **(config or {})})
        client = TestClient(create_app(settings, load_plugins=False))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_script(script: str, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a test upstream from tests/ on a free port; return once it answers /health."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / script), str(port),
                             *args])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{script} did not come up")


class LiveServer:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, home: Path, log: Path) -> None:
        self.proc, self.port, self.home, self.log = proc, port, home, log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def start_server(args: list[str], home: Path, log: Path, *, port: int | None = None,
                 env: dict[str, str] | None = None, wait: float = 60.0) -> LiveServer:
    port = port or free_port()
    env = {**os.environ, **(env or {}), "JAJU_HOME": str(home)}
    with open(log, "ab") as out:
        proc = subprocess.Popen([JAJU, "serve", "--port", str(port), "--log-level", "warning",
                                 *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(proc, port, home, log)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jaju serve exited: {log.read_text(encoding='utf-8')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"jaju serve did not come up: {log.read_text(encoding='utf-8')}")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start `jaju serve` processes; all are stopped after the test."""
    servers: list[LiveServer] = []

    def start(*args: str, config: str | None = None, home: Path | None = None,
              port: int | None = None, env: dict[str, str] | None = None) -> LiveServer:
        n = len(servers)
        home = home or tmp_path / f"home{n}"
        cli = list(args)
        if config is not None:
            path = tmp_path / f"jaju{n}.toml"
            path.write_text(config, encoding="utf-8")
            cli += ["--config", str(path)]
        server = start_server(cli, home, tmp_path / f"server{n}.log", port=port, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """tests/echo_upstream.py on a free port: its URL, and the file it records requests in."""
    record = tmp_path / "received.jsonl"
    proc, port = start_script("echo_upstream.py", str(record))
    yield f"http://127.0.0.1:{port}/v1", record
    proc.kill()
    proc.wait()


def run_jaju(*args: str, home: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JAJU_HOME": str(home)}
    return subprocess.run([JAJU, *args], env=env, capture_output=True, text=True, input=input,
                          timeout=120)


def write_plugins(site: Path, plugins: dict[str, str]) -> Path:
    """Plugin modules as installed packages would leave them in `site`: each `NAME.py` with a
    `NAME-0.1.dist-info` naming it in the `jaju` entry-point group (importlib.metadata finds
    them once `site` is on sys.path or PYTHONPATH)."""
    for name, source in plugins.items():
        info = site / f"{name}-0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
                                       encoding="utf-8")
        (info / "entry_points.txt").write_text(f"[jaju]\n{name} = {name}\n", encoding="utf-8")
        (site / f"{name}.py").write_text(source, encoding="utf-8")
    return site


ROOT = Path(__file__).resolve().parent.parent
STATUTES = ROOT / "data" / "statutes"
FIXTURE_DOCS = Path(__file__).parent / "fixtures" / "docs"


@pytest.fixture(scope="session")
def analyzer():
    from jaju.korean import Analyzer

    return Analyzer()


@pytest.fixture(scope="session")
def parser_table():
    from jaju.plugins import get_plugin_manager, parsers

    return parsers(get_plugin_manager(load_entrypoints=False))


@pytest.fixture(scope="session")
def statutes_db(tmp_path_factory, analyzer, parser_table):
    """A home whose database holds the sample statutes as the shared `statutes` base."""
    from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
    from jaju.knowledge import synonyms as synonym_dicts
    from jaju.knowledge.ingest import ingest

    home = tmp_path_factory.mktemp("statutes-home")
    index = KnowledgeIndex(home / "jaju.db", analyzer)
    kb = index.create(SHARED_TENANT, "statutes")
    kb = index.set_synonyms(kb, synonym_dicts.load("everyday-legal", analyzer))
    report = ingest(index, kb, [STATUTES], parser_table)
    assert not report.failures
    index.close()
    return home


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def service_or_skip(name: str, error: Exception) -> None:
    """A service the machine should run is missing: skip on a laptop, fail under CI."""
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{name} is required under CI=true but unreachable: {error}")
    pytest.skip(f"{name} unreachable: {error}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards)."""
    import uuid

    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as e:
        service_or_skip("PostgreSQL", e)
    name = f"jaju_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


# --- Redis ----------------------------------------------------------------------------------
# The machine (and CI) runs Redis on 127.0.0.1:6379. Under CI=true a test that needs it fails
# when it is unreachable; elsewhere it is skipped.

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def _redis_reachable(port: int | None = None) -> bool:
    try:
        with socket.create_connection((REDIS_HOST, port or REDIS_PORT), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_url(db: int) -> str:
    """The shared Redis's database `db`, emptied first; skipped (failed under CI) when the
    server cannot be reached."""
    if not _redis_reachable():
        message = f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: tests that need Redis must run)")
        pytest.skip(message)
    with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=5) as s:
        s.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        reply = b""
        while reply.count(b"\r\n") < 2:
            reply += s.recv(64)
        assert reply == b"+OK\r\n+OK\r\n", reply
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


@pytest.fixture
def shared_redis() -> str:
    """URL of an emptied database (14) of the machine's Redis."""
    return redis_url(14)


class OwnRedis:
    """A redis-server of the test's own on a free port, to stop and restart (no persistence)."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.tmp = free_port(), tmp

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}:{self.port}/0"

    def start(self) -> None:
        subprocess.run(["redis-server", "--port", str(self.port), "--bind", REDIS_HOST,
                        "--save", "", "--appendonly", "no", "--daemonize", "yes",
                        "--dir", str(self.tmp), "--logfile", str(self.tmp / "redis.log")],
                       check=True, timeout=10)
        deadline = time.monotonic() + 10
        while not _redis_reachable(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not come up")
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"],
                       capture_output=True, timeout=10)
        deadline = time.monotonic() + 10
        while _redis_reachable(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A started redis-server on a free port, shut down after the test."""
    import shutil

    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (CI=true)")
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


# --- packs ------------------------------------------------------------------------------------
# What the four industry packs' tests (tests/test_{law,finance,commerce,education}_pack.py,
# tests/test_packs.py) share: their data checks, a pack marked installed, a scripted upstream
# that calls the pack's tools, and an evaluation set run through the Gateway.


def eval_rows(path: Path) -> list[dict]:
    """An evaluation set's rows (JSONL)."""
    import json

    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def assert_statutes_listed(data: Path) -> list[Path]:
    """Every statute in a pack's `data/statutes` is listed in `data/SOURCE.md` with its sha256
    (`name` `digest`), and equals the project's shared copy where that exists; the files."""
    import hashlib

    source = (data / "SOURCE.md").read_text(encoding="utf-8")
    files = sorted((data / "statutes").glob("*.md"))
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{path.name}` `{digest}`" in source, path.name
        shared = ROOT.parent / "shared" / "data" / "laws" / path.name
        if shared.exists():  # copied unchanged
            assert shared.read_bytes() == path.read_bytes(), path.name
    return files


def assert_gold_articles_exist(row: dict, statutes: Path) -> None:
    """Each gold citation of an evaluation row is an article of the pack's statutes, named by
    the statute's full title (spaces aside)."""
    from jaju.packs.statutes import find_article

    for citation in row.get("gold", []):
        found = find_article(citation, None, statutes)
        assert found.citation.replace(" ", "") == citation.replace(" ", ""), (row["id"], citation)


def assert_tool_result(row: dict, function: Callable[..., dict]) -> None:
    """The row's expected tool call, run, gives its expected result values (computed by hand
    when the set was written)."""
    result = function(**row["tool"]["arguments"])["result"]
    for key, value in row["tool"]["result"].items():
        assert result[key] == value, (row["id"], key)


def mark_pack_installed(home: Path, name: str) -> None:
    """A pack recorded as installed in `home` (its assistants served) without ingesting."""
    from jaju.knowledge import SHARED_TENANT
    from jaju.plugins import get_plugin_manager, packs
    from jaju.store import open_store

    store = open_store(home / "jaju.db")
    pack = packs(get_plugin_manager(load_entrypoints=False))[name]
    store.add_pack(name, SHARED_TENANT, pack.version, actor="test")
    store.close()


@pytest.fixture
def tool_upstream(tmp_path: Path) -> Iterator[tuple[dict, Path]]:
    """tests/tool_upstream.py on a free port (it calls the tool that `CALL name {arguments}` in
    the last message names), as the packs' backend: the settings that route the packs'
    assistants to it, and the file it records requests in."""
    record = tmp_path / "upstream.jsonl"
    proc, port = start_script("tool_upstream.py", str(record))
    yield ({"backends": {"agent": {"type": "openai", "url": f"http://127.0.0.1:{port}/v1"}},
            "packs": {"backend": "agent"}}, record)
    proc.kill()
    proc.wait()


def ask_tool_case(client: TestClient, model: str, namespace: str, row: dict) -> dict:
    """Ask an evaluation row's question with its expected call appended (`CALL ns_name {args}`,
    for tests/tool_upstream.py); the response, once the right tool ran with those arguments."""
    import json

    tool = row["tool"]
    call = json.dumps(tool["arguments"], ensure_ascii=False)
    body = client.post("/v1/chat/completions", json={"model": model, "messages": [
        {"role": "user", "content": f"{row['question']} CALL {namespace}_{tool['name']} {call}"}]}
    ).json()
    run = body["tool_runs"][0]
    assert run["name"] == f"{namespace}.{tool['name']}" and run["status"] == "ok", row["id"]
    assert run["arguments"] == tool["arguments"], row["id"]
    return body


def run_eval(settings: Settings, assistant: str, cases: list, *,
             rewrite: Callable[[dict], dict] | None = None, seen: dict | None = None,
             on_start: Callable[[Any], None] | None = None) -> Any:
    """The harness on `cases` through the Gateway, as `jaju packs eval` runs it; `rewrite`
    changes each request (e.g. appends a scripted upstream's CALL), `seen` collects each
    response by question, `on_start` is called with the started AppState (to check it).
    The evaluation.Report."""
    import asyncio

    from jaju.caller import Caller
    from jaju.packs import evaluation
    from jaju.state import AppState

    state = AppState.build(settings, load_plugins=False)
    caller = Caller("local", label="test")

    async def main() -> evaluation.Report:
        await state.start()
        try:
            if on_start is not None:
                on_start(state)

            async def chat(body: dict) -> dict:
                question = body["messages"][-1]["content"]
                result = await state.gateway.chat(caller, rewrite(body) if rewrite else body)
                assert isinstance(result, dict)
                if seen is not None:
                    seen[question] = result
                return result

            return await evaluation.run(chat, assistant, cases)
        finally:
            await state.aclose()

    return asyncio.run(main())


NEUTRAL = Path(__file__).parent / "fixtures" / "neutral_questions.txt"
COMMON_SHARE = 0.03
"""A key that fires on 3% or more of the neutral questions (3 of 100 everyday questions on
cooking, weather, travel, health, school…) is too common: it would expand unrelated questions."""


def dictionary_entries(path: Path) -> list[tuple[int, str, list[str]]]:
    """A synonym dictionary's entries: (line number, the everyday words, the terms)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            words, terms = line.split("\t", 1)
            out.append((number, words.strip(), [t.strip() for t in terms.split(",")]))
    return out


def dictionary_keys(words: str, analyzer: Any, tmp_path: Path) -> set[str]:
    """The keys the loader makes of one entry (so the test sees what search matches)."""
    from jaju.knowledge import synonyms as synonym_dicts

    path = tmp_path / "one.tsv"
    path.write_text(f"{words}\t용어\n", encoding="utf-8")
    return set(synonym_dicts.load(str(path), analyzer))


def dictionary_hijacks(path: Path, analyzer: Any, tmp_path: Path) -> list[str]:
    """The entries of a pack's dictionary that would drag unrelated questions into the pack:
    a key that fires on COMMON_SHARE or more of the neutral questions, or a word longer than
    one syllable that shrinks to a one-syllable key (살려고 → 살, 손님 → 손: the one syllable
    is what gets matched, and it means many things)."""
    from jaju.knowledge import synonyms as synonym_dicts

    neutral = [analyzer.morphemes(q, keep_stopwords=True)
               for q in NEUTRAL.read_text(encoding="utf-8").splitlines()
               if q.strip() and not q.startswith("#")]
    problems = []
    for number, words, _ in dictionary_entries(path):
        written = words[:-1] if " " not in words and words.endswith("다") else words
        for key in dictionary_keys(words, analyzer, tmp_path):
            fired = sum(1 for m in neutral if synonym_dicts.expand(m, {key: ["x"]}))
            if fired / len(neutral) >= COMMON_SHARE:
                problems.append(f"{number}: {words} → '{key}' fires on {fired} of "
                                f"{len(neutral)} neutral questions")
            if " " not in key and len(key) == 1 and len(written.replace(" ", "")) > 1:
                problems.append(f"{number}: {words} shrinks to the one syllable '{key}'")
    return problems


def tiny_forced_tool(make_client: Callable[..., TestClient], tiny_gguf: Path, home: Path,
                     pack: str, assistant: str, tool: str, max_tokens: int) -> TestClient:
    """A client whose `pack` (marked installed) serves its assistants on the tiny GGUF
    (llama.cpp, random weights), `assistant` forced to call `tool` once: what the random model
    produces shows the grammar that constrains a tool call's arguments."""
    mark_pack_installed(home, pack)
    client = make_client({"backends": {"tiny": {"type": "llamacpp", "path": str(tiny_gguf),
                                                "n_ctx": 16384}},
                          "packs": {"backend": "tiny"}})
    model = client.app.state.jaju.models[assistant]
    assert tool in model.tools
    model.tool_choice, model.max_tool_rounds = "required", 1
    model.tools = [tool]
    model.defaults["max_tokens"] = max_tokens
    return client
