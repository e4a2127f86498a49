"""Names at the boundary, alike on both stores: a model, knowledge-base or tenant name with NUL
or another control character is refused (400, or 404 as an unknown name) and the request is
still recorded; a NUL in a record's text never makes the record fail."""

from __future__ import annotations

import pytest

from jaju.store import AuditEvent, UsageRecord, open_store

CHAT = {"model": "extractive", "messages": [{"role": "user", "content": "안녕하세요?"}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, home):
    if request.param == "sqlite":
        home.mkdir(parents=True, exist_ok=True)
        return f"sqlite://{home / 'jaju.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def app(make_client, url):
    """A client on the store at `url`, an admin key's headers and the store."""
    store = open_store(url)
    admin, _ = store.create_key("ops", admin=True, actor="test")
    client = make_client({"store": {"url": url}})
    yield client, {"Authorization": f"Bearer {admin}"}, store
    store.close()


def test_a_nul_in_a_record_is_stored_not_refused(url):
    store = open_store(url)
    try:
        store.record(UsageRecord("chat.completions", 400, 1.0, "a\x00", None, "m\x00x",
                                 error="bad m\x00x", prompt="p\x00", completion="c\x00"),
                     AuditEvent("a\x00/key", "chat.completions", "error", "m\x00x",
                                {"why": "m\x00x"})).result(10)
        store.flush()
        [record] = store.audit_records()
        assert record["actor"] == "a\ufffd/key" and record["target"] == "m\ufffdx"
        assert store.verify_audit() == (1, [])
        assert store.usage_summary()[0]["model"] == "m\ufffdx"
    finally:
        store.close()


@pytest.mark.parametrize("name", ["a\x00b", "a\tb", "a\u200bb"])
def test_control_characters_in_names_are_refused_and_recorded(app, name):
    client, admin, store = app
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        body = {**CHAT, "model": name} if "chat" in path else {"model": name, "input": "x"}
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "invalid_name"
        assert " / " in error["message"]  # 한국어 / English
    r = client.post("/v1/knowledge/a%00b/search", json={"query": "x"}, headers=admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_name", r.text
    r = client.get("/v1/knowledge/a%00b/documents", headers=admin)
    assert r.status_code == 404, r.text
    store.flush()
    statuses = [(row["model"], row["errors"]) for row in store.usage_summary()]
    assert any(model and model.startswith("a") and errors >= 1 for model, errors in statuses)
    # recorded visibly: an invisible or bidi character cannot make a name look like another
    assert ("a\ufffdb", 2) in statuses


def test_a_nul_in_a_tenant_is_a_400(app):
    client, admin, store = app
    r = client.post("/v1/keys", json={"tenant": "a\x00b"}, headers=admin)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "tenant"
    assert [k.tenant for k in store.list_keys()] == ["ops"]


BAD_TENANTS = ["*", "", "   ", "a" * 65, "a\tb", "a\u200bb", "a/b", "mcp:a", "＊", "a／b", "a：b",
               "a\u2028b", "cli", "Anonymous", "system", " a"]


@pytest.mark.parametrize("tenant", BAD_TENANTS[:-1])  # the API strips " a" to "a"
def test_a_tenant_name_is_checked_over_http(app, tenant):
    client, admin, store = app
    r = client.post("/v1/keys", json={"tenant": tenant}, headers=admin)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "tenant" and " / " in error["message"]
    assert [k.tenant for k in store.list_keys()] == ["ops"]
    for good in ("여신부", "콜센터 2팀", "acme-prod.eu_1"):
        r = client.post("/v1/keys", json={"tenant": good}, headers=admin)
        assert r.status_code == 200 and r.json()["key"]["tenant"] == good, r.text


def test_a_tenant_name_is_checked_by_the_store(url):
    from jaju.errors import InvalidRequest

    store = open_store(url)
    try:
        for tenant in BAD_TENANTS:
            with pytest.raises(InvalidRequest):
                store.create_key(tenant, actor="test")
        assert store.list_keys() == []
    finally:
        store.close()


def test_a_tenant_name_is_checked_by_the_cli(home):
    from conftest import run_jaju

    for tenant in ("*", "a/b", "a\tb", "a" * 65, "  "):
        out = run_jaju("keys", "create", "--tenant", tenant, home=home)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "invalid tenant name" in out.stderr and not out.stdout
    out = run_jaju("keys", "create", "--tenant", "여신부", home=home)
    assert out.returncode == 0 and out.stdout.startswith("jaju-"), out.stderr
