"""Trust in depth (issue #11): no raw PII reaches a remote upstream on any path, bounded work
per request, bounded identifiers, an audit log a flood cannot grow, and the API fuzzed."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from jaju.caller import Caller
from jaju.guards.actions import PLACEHOLDER
from jaju.guards.base import GuardContext
from jaju.guards.builtin import PiiGuard

from conftest import run_jaju, start_script, start_server
from test_pii import CONTEXT_WORDS, TEMPLATES, _plain_digits, pii_value

TESTS = Path(__file__).parent
MCP_SERVER = str(TESTS / "mcp_test_server.py")
RRN, PHONE, ACCOUNT = "850505-1234562", "010-2222-3333", "110-123-456789"
RAW = (RRN, PHONE, ACCOUNT, "8505051234562")


def received(record: Path) -> str:
    return record.read_text(encoding="utf-8") if record.exists() else ""


def test_evidence_reaches_the_upstream_pseudonymised(make_client, echo, home, tmp_path):
    url, record = echo
    doc = tmp_path / "고객정보.md"
    doc.write_text(f"# 환불 처리 기록\n\n고객 주민등록번호 {RRN}, 연락처 {PHONE}, 환불 계좌 "
                   f"국민은행 {ACCOUNT}로 환불을 처리했다.\n", encoding="utf-8")
    assert run_jaju("ingest", str(doc), "--kb", "cs", home=home).returncode == 0
    client = make_client({
        "backends": {"remote": {"type": "openai", "url": url}},
        "assistants": {"desk": {"backend": "remote", "knowledge": ["cs"]}},
        "guards": {"pii": {"default": "pseudonymise", "ACCOUNT": "mask"}}})
    r = client.post("/v1/chat/completions", json={"model": "desk", "messages": [
        {"role": "user", "content": "환불 처리 기록을 알려줘"}]})
    assert r.status_code == 200, r.text
    body = received(record)
    assert "환불 처리" in body  # the evidence did reach the model ...
    for raw in RAW:
        assert raw not in body  # ... without a single raw value
    assert "<주민등록번호_1>" in body and "<전화번호_1>" in body
    # the caller, who may read the knowledge base, gets its own citations in the clear
    assert RRN in json.dumps(r.json()["citations"], ensure_ascii=False)


def test_every_field_of_the_request_is_guarded(make_client, echo):
    url, record = echo
    client = make_client({"backends": {"remote": {"type": "openai", "url": url}},
                          "guards": {"pii": {"default": "pseudonymise"}}})
    request = {
        "model": "remote",
        "messages": [
            {"role": "system", "content": f"상담 고객 연락처 {PHONE}"},
            {"role": "user", "name": f"고객{PHONE}", "content": [
                {"type": "text", "text": "주민번호는 850505-"},
                {"type": "text", "text": "1234562 입니다"}]},
            {"role": "user", "content": f"계좌는 국민은행 {ACCOUNT[:8]}"},
            {"role": "user", "content": f"{ACCOUNT[8:]} 입니다"}],
        "user": f"고객 {PHONE}",
        "stop": [RRN],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "r", "schema": {"type": "object", "description": f"전화 {PHONE}"}}},
        "tools": [{"type": "function", "function": {
            "name": "lookup", "description": f"{RRN} 조회", "parameters": {"type": "object"}}}],
        "x_custom": {"note": f"전화 {PHONE}"},
    }
    r = client.post("/v1/chat/completions", json=request)
    assert r.status_code == 200, r.text
    body = received(record)
    for raw in RAW:
        assert raw not in body, raw
    sent = json.loads(body.splitlines()[-1])
    assert "<주민등록번호_" in json.dumps(sent["messages"], ensure_ascii=False)
    assert "<전화번호_" in sent["user"] and "<전화번호_" in sent["x_custom"]["note"]


def test_bare_backend_follows_global_and_tenant_policy(make_client, echo):
    url, record = echo
    client = make_client({
        "backends": {"remote": {"type": "openai", "url": url}},
        "assistants": {"strict": {"backend": "remote", "guards": {"pii": {"RRN": "block"}}}},
        "guards": {"pii": {"RRN": "mask"}}})
    r = client.post("/v1/chat/completions", json={"model": "remote", "messages": [
        {"role": "user", "content": f"번호 {RRN}"}]})
    assert r.status_code == 200 and RRN not in received(record)  # the global rule: masked
    r = client.post("/v1/chat/completions", json={"model": "strict", "messages": [
        {"role": "user", "content": f"번호 {RRN}"}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "pii_blocked"


def test_model_generated_identifiers_are_masked():
    guard = PiiGuard({"default": "pseudonymise"}, GuardContext(Caller("t"), "m",
                                                               lambda *a: None))
    mine = guard.vault.placeholder(__import__("jaju.guards.pii", fromlist=["detect"])
                                   .detect(f"주민번호 {RRN}")[0])
    result = {"choices": [{"message": {"role": "assistant", "content":
                                       f"당신 번호는 {mine}, 다른 번호는 880101-1234568 입니다"}}]}
    text = guard.outbound(result)["choices"][0]["message"]["content"]
    assert RRN in text  # the user's own value comes back
    assert "880101-1234568" not in text and "880101-1******" in text  # invented: masked


def test_odd_upstream_answers_are_502_with_usage(make_client, home):
    proc, port = start_script("odd_upstream.py")
    try:
        client = make_client({"backends": {"odd": {"type": "openai",
                                                   "url": f"http://127.0.0.1:{port}/v1"}}})
        ask = {"model": "odd", "messages": [{"role": "user", "content": "안녕"}]}
        r = client.post("/v1/chat/completions", json=ask)
        assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"
        r = client.post("/v1/chat/completions", json={**ask, "stream": True})
        assert r.status_code == 502
        rows = sqlite3.connect(home / "jaju.db").execute(
            "SELECT status FROM usage WHERE model='odd'").fetchall()
        assert rows == [(502,), (502,)]
    finally:
        proc.kill()


def test_malformed_bodies_are_400_not_500(make_client):
    client = make_client()
    deep = b'{"model": "extractive", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    surrogate = b'{"model": "extractive", "messages": [{"role": "user", "content": "\\ud800"}]}'
    nested: list = []
    for _ in range(80):  # 80 levels: parses, but deeper than jaju accepts
        nested = [nested]
    shallow_but_nested = json.dumps({"model": "extractive", "x": nested,
                                     "messages": [{"role": "user", "content": "x"}]}).encode()
    for body in (deep, surrogate, shallow_but_nested, b'{"model": "\xff"}'):
        r = client.post("/v1/chat/completions", content=body,
                        headers={"content-type": "application/json"})
        assert r.status_code == 400, (body[:60], r.status_code, r.text)
        assert r.json()["error"]["code"] in ("invalid_json", "too_deep")
    # a valid pair of surrogates is an emoji, and fine
    emoji = b'{"model": "extractive", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'
    assert client.post("/v1/chat/completions", content=emoji).status_code == 200


def test_identifiers_are_bounded_and_never_stored_raw(make_client, home):
    client = make_client()
    huge = "m" * 3_900_000
    for _ in range(3):
        r = client.post("/v1/chat/completions", json={"model": huge, "messages": [
            {"role": "user", "content": "x"}]})
        assert r.status_code == 422 and r.json()["error"]["param"] == "model"
    r = client.post(f"/v1/knowledge/{'k' * 5000}/search", json={"query": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "name_too_long"
    db = sqlite3.connect(home / "jaju.db")
    longest = db.execute("SELECT MAX(LENGTH(detail)), MAX(LENGTH(COALESCE(target, ''))) "
                         "FROM audit").fetchone()
    assert max(longest) < 1000
    assert db.execute("SELECT MAX(LENGTH(COALESCE(model, ''))) FROM usage").fetchone()[0] < 300
    assert (home / "jaju.db").stat().st_size < 2_000_000


def test_unauthenticated_flood_is_throttled_and_aggregated(make_client, home):
    client = make_client()
    assert run_jaju("keys", "create", "--tenant", "acme", home=home).returncode == 0
    statuses = [client.get("/v1/models", headers={"authorization": "Bearer wrong"}).status_code
                for _ in range(300)]
    assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}
    rows = sqlite3.connect(home / "jaju.db").execute(
        "SELECT detail FROM audit WHERE action='auth'").fetchall()
    assert 1 <= len(rows) <= 2  # one record per burst, not one per request
    assert json.loads(rows[0][0])["count"] >= 1
    key = run_jaju("keys", "create", "--tenant", "acme", home=home).stdout.strip()
    ok = client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
    assert ok.status_code == 200  # a valid key from the same address still works


def test_a_forged_forwarded_for_does_not_escape_the_throttle(live, tmp_path):
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: any local
    process could then fail keys under a new address each time. jaju believes it only from
    the proxies `[server] forwarded_allow_ips` names."""
    home = tmp_path / "home"
    assert run_jaju("keys", "create", "--tenant", "acme", home=home).returncode == 0

    def flood(base: str) -> list[int]:
        return [httpx.get(f"{base}/models", headers={
            "authorization": "Bearer wrong", "x-forwarded-for": f"203.0.113.{i}"}).status_code
            for i in range(40)]

    plain = live(home=home)
    assert set(flood(plain.url)[30:]) == {429}  # one address: the connection's
    plain.stop()
    proxied = live(home=home, config='[server]\nforwarded_allow_ips = ["127.0.0.1"]\n')
    assert set(flood(proxied.url)) == {401}  # a trusted proxy: each client its own address
    proxied.stop()  # its audit records are committed by then
    rows = sqlite3.connect(home / "jaju.db").execute(
        "SELECT detail FROM audit WHERE action='auth'").fetchall()
    assert "203.0.113.39" in {json.loads(r[0])["address"] for r in rows}
    for entry in ("proxy.local", "10.0.0.5/8"):  # a name; host bits set (uvicorn never matches)
        bad = tmp_path / "bad.toml"
        bad.write_text(f'[server]\nforwarded_allow_ips = ["{entry}"]\n', encoding="utf-8")
        checked = run_jaju("config", "check", "--config", str(bad), home=home)
        assert checked.returncode != 0 and entry in checked.stderr


def test_admin_tool_call_passes_the_pii_guard(make_client, tmp_path, home):
    import sys

    log = tmp_path / "calls.jsonl"
    client = make_client({
        "mcp_servers": {"m": {"command": sys.executable, "args": [MCP_SERVER],
                              "env": {"MCP_CALL_LOG": str(log)}, "timeout": 10}},
        "guards": {"pii": {"RRN": "pseudonymise"}}})
    r = client.post("/v1/tools/m.echo/call", json={"arguments": {"text": f"번호 {RRN}"}})
    assert r.status_code == 200, r.text
    assert RRN not in log.read_text(encoding="utf-8")
    assert "<주민등록번호_1>" in log.read_text(encoding="utf-8")


def test_a_cut_database_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    assert run_jaju("keys", "create", "--tenant", "a", home=home).returncode == 0
    db = home / "jaju.db"
    db.write_bytes(db.read_bytes()[:5000])
    for name in ("jaju.db-wal", "jaju.db-shm"):
        (home / name).unlink(missing_ok=True)
    out = run_jaju("keys", "list", home=home)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "database" in out.stderr and str(db) in out.stderr.replace("\n", "")


SEARCHER = """
import json, sys, time, httpx
base, key, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
latencies = []
with httpx.Client(headers={"authorization": f"Bearer {key}"}) as c:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started, wall = time.perf_counter(), time.time()
        r = c.post(f"{base}/knowledge/rules/search", json={"query": "출장비"})
        assert r.status_code == 200, r.text
        latencies.append((wall, time.perf_counter() - started))
print(json.dumps(latencies))
"""


def test_a_huge_message_does_not_stall_another_tenant(tmp_path):
    """A 1,000,000-character message is refused at once (413); another tenant's searches,
    made from another process while it is sent and handled, answer within 200 ms."""
    import subprocess
    import sys

    home = tmp_path / "home"
    doc = tmp_path / "규정.md"
    doc.write_text("# 출장 규정\n\n제1조 출장비는 실비로 정산한다.\n", encoding="utf-8")
    assert run_jaju("ingest", str(doc), "--kb", "rules", "--shared", home=home).returncode == 0
    a = run_jaju("keys", "create", "--tenant", "a", home=home).stdout.strip()
    b = run_jaju("keys", "create", "--tenant", "b", home=home).stdout.strip()
    config = tmp_path / "jaju.toml"
    config.write_text('[assistants.law]\nbackend = "extractive"\nknowledge = ["rules"]\n\n'
                      '[guards.pii]\ndefault = "pseudonymise"\n', encoding="utf-8")
    server = start_server(["--config", str(config)], home, tmp_path / "server.log")
    base = f"http://127.0.0.1:{server.port}/v1"
    try:
        with httpx.Client(headers={"authorization": f"Bearer {b}"}, timeout=30) as c:  # warm up
            for _ in range(20):
                c.post(f"{base}/knowledge/rules/search", json={"query": "출장비"})
        huge = "가나다라마바사아자차카타파하" * (1_000_000 // 14 + 1)
        body = json.dumps({"model": "law", "messages": [{"role": "user", "content": huge}]},
                          ensure_ascii=False).encode()
        searcher = subprocess.Popen([sys.executable, "-c", SEARCHER, base, b, "3"],
                                    stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        sent = time.time()
        r = httpx.post(f"{base}/chat/completions", timeout=60, content=body,
                       headers={"authorization": f"Bearer {a}",
                                "content-type": "application/json"})
        answered = time.time()
        searches = json.loads(searcher.communicate(timeout=60)[0])
        assert r.status_code == 413 and r.json()["error"]["code"] == "text_too_long"
        during = [lat for start, lat in searches if start <= answered and start + lat >= sent]
        assert during, "no search overlapped the huge request"
        assert max(during) < 0.2, (max(during), len(during))
    finally:
        server.stop()


def test_fuzzing_the_api_finds_no_5xx(tmp_path):
    """schemathesis against jaju's own OpenAPI schema: valid and invalid bodies, paths and
    parameters for every endpoint (a bounded number each); no answer may be a 5xx."""
    import hypothesis.strategies as st
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    server = start_server([], tmp_path / "home", tmp_path / "server.log")
    failures: list[tuple] = []
    try:
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{server.port}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 12
        for operation in operations:
            cases = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                              operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

            @given(case=cases)
            @settings(max_examples=40, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                response = case.call(timeout=30)
                if response.status_code >= 500:
                    failures.append((case.method, case.formatted_path, case.body,
                                     response.status_code, response.text[:300]))

            run()
    finally:
        server.stop()
    assert not failures, failures[:5]



_clients: dict = {}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(item=pii_value(), template=st.sampled_from(TEMPLATES), split=st.floats(0, 1),
       parts=st.booleans())
def test_property_no_raw_value_reaches_the_upstream(make_client, echo, item, template, split,
                                                    parts):
    """Every PII type in every separator, width and spacing variant, in a Korean sentence,
    sent whole or cut at any point into two content parts: the upstream sees no raw value,
    and the user gets the original back."""
    url, record = echo
    client = _clients.get(record) or _clients.setdefault(record, make_client({
        "backends": {"remote": {"type": "openai", "url": url}},
        "guards": {"pii": {"default": "pseudonymise"}}}))  # one app for all examples
    kind, value = item
    text = template.format(ctx=CONTEXT_WORDS[kind], v=value)
    cut = int(len(text) * split)
    content = ([{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
               if parts else text)
    r = client.post("/v1/chat/completions", json={"model": "remote", "messages": [
        {"role": "user", "content": content}]})
    assert r.status_code == 200, r.text
    sent = json.loads(received(record).splitlines()[-1])["messages"][-1]["content"]
    sent_text = sent if isinstance(sent, str) else "".join(p["text"] for p in sent)
    assert value not in sent_text
    assert _plain_digits(PLACEHOLDER.sub("", sent_text)) == "", (text, sent_text)


def test_parser_caps_come_from_the_config(tmp_path):
    from conftest import FIXTURE_DOCS

    hwpx = next(FIXTURE_DOCS.glob("*.hwpx"))
    config = tmp_path / "jaju.toml"
    config.write_text("[limits]\nmax_member_bytes = 2000\n", encoding="utf-8")
    out = run_jaju("ingest", str(hwpx), "--kb", "k", "--config", str(config),
                   home=tmp_path / "home")
    said = " ".join((out.stdout + out.stderr).split())
    assert "inflates past the cap (2,000 bytes)" in said
    out = run_jaju("ingest", str(hwpx), "--kb", "k", home=tmp_path / "home")
    assert out.returncode == 0 and "inflates past the cap" not in out.stdout + out.stderr
