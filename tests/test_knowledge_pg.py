"""The knowledge index on PostgreSQL: the same results as on SQLite, tenants kept apart, documents
replaced and removed, vectors ranked in the gateway (or by pgvector where the server has it),
and a document ingested through one replica searchable from another at once."""

from __future__ import annotations

import shutil

import httpx
import psycopg
import pytest

from jaju.errors import ConfigError, NotFound, ServiceUnavailable
from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.ingest import ingest

from conftest import PG_ADMIN, STATUTES, run_jaju

QUERIES = ["해고 예고는 언제 해야 하나요?", "연차 유급휴가는 며칠인가요", "퇴직금", "임금을 제때 안 주면",
           "여성 근로자의 야간 근로", "부칙 시행일", "근로계약서 안 쓰면 벌금", "Working hours 52"]


def top(index: KnowledgeIndex, kb, query: str, **kw) -> list[tuple[str, str, float]]:
    return [(h.source.get("article") or "", h.text[:30], round(h.score, 5))
            for h in index.search(kb, query, 10, **kw)]


@pytest.fixture
def labour(tmp_path):
    folder = tmp_path / "labour"
    folder.mkdir()
    shutil.copy(STATUTES / "근로기준법.md", folder)
    return folder


def test_postgres_ranks_exactly_like_sqlite(tmp_path, pg_url, analyzer, parser_table, labour):
    """Lexical (with the everyday-legal synonyms), and hybrid with the shipped `use` encoder
    as the dense signal: the same hits in the same order with the same scores."""
    results = {}
    for where in (tmp_path / "jaju.db", pg_url):
        index = KnowledgeIndex(where, analyzer, **({"vectors": "gateway"}
                                                   if str(where).startswith("postgresql") else {}))
        kb = index.create(SHARED_TENANT, "labour")
        kb = index.set_synonyms(kb, synonym_dicts.load("everyday-legal", analyzer))
        assert not ingest(index, kb, [labour], parser_table).failures
        lexical = [top(index, kb, q) for q in QUERIES]
        kb = index.set_embedder(kb, "use")
        hybrid = [top(index, kb, q) for q in QUERIES]
        dense = [top(index, kb, q, signals=("dense",)) for q in QUERIES]
        results[index.engine] = (lexical, hybrid, dense, index.stats(kb))
        index.close()
    sqlite, postgres = results["sqlite"], results["postgresql"]
    assert all(len(hits) == 10 for hits in sqlite[0][:5])  # the queries do find things
    assert postgres[0] == sqlite[0]
    assert postgres[1] == sqlite[1]
    assert postgres[2] == sqlite[2]
    assert postgres[3] == sqlite[3]
    assert sqlite[1] != sqlite[0]  # the dense signal did take part


def test_tenants_are_kept_apart_on_postgres(tmp_path, pg_url, analyzer, parser_table):
    index = KnowledgeIndex(pg_url, analyzer)
    for tenant, text in (("acme", "에이크미의 보증금 반환 규정은 30일 이내이다."),
                         ("globex", "글로벡스의 보증금 반환 규정은 7일 이내이다.")):
        folder = tmp_path / tenant
        folder.mkdir()
        (folder / f"{tenant}.txt").write_text(text, encoding="utf-8")
        ingest(index, index.create(tenant, "rules"), [folder], parser_table)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notice.txt").write_text("모든 회사의 보증금은 공지된 계좌로 돌려준다.", encoding="utf-8")
    ingest(index, index.create(SHARED_TENANT, "notices"), [shared], parser_table)

    acme = index.get("acme", "rules")
    hits = index.search(acme, "보증금 반환", 10)
    assert [h.source["path"].rsplit("/", 1)[-1] for h in hits] == ["acme.txt"]
    assert {kb.name for kb in index.bases("acme")} == {"rules", "notices"}
    assert {kb.tenant for kb in index.bases("acme")} == {"acme", SHARED_TENANT}
    assert index.get("globex", "notices").shared  # a shared base: every tenant reads it
    with pytest.raises(NotFound):
        index.get("initech", "rules")  # another tenant's base does not exist for you
    index.close()


def test_replace_remove_and_delete_on_postgres(tmp_path, pg_url, analyzer, parser_table):
    """A changed file replaces its chunks, a removed one is gone, a deleted knowledge base
    takes everything with it, and BM25's totals stay those of what is in (the scores equal a
    fresh ingest of the final files, on PostgreSQL and SQLite alike)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("회의실 예약은 하루 전까지 한다.\n\n주차권은 안내데스크에서 받는다.",
                                  encoding="utf-8")
    (folder / "b.txt").write_text("출장비는 영수증을 붙여 청구한다.", encoding="utf-8")
    (folder / "c.txt").write_text("휴가 신청은 일주일 전까지 한다.", encoding="utf-8")
    index = KnowledgeIndex(pg_url, analyzer)
    kb = index.create("acme", "office")
    ingest(index, kb, [folder], parser_table)
    (folder / "a.txt").write_text("회의실 예약은 사흘 전까지 한다.", encoding="utf-8")
    report = ingest(index, kb, [folder], parser_table)
    assert {r.path.rsplit("/", 1)[-1]: r.status for r in report.results} == {
        "a.txt": "replaced", "b.txt": "unchanged", "c.txt": "unchanged"}
    assert not index.search(kb, "주차권", 5)
    assert "사흘" in index.search(kb, "회의실 예약", 5)[0].text
    assert index.remove_document(kb, str((folder / "c.txt").resolve()))
    assert not index.search(kb, "휴가 신청", 5)
    assert (index.stats(kb)["documents"], index.stats(kb)["chunks"]) == (2, 2)

    (folder / "c.txt").unlink()
    for where in (pg_url, tmp_path / "fresh.db"):
        fresh = KnowledgeIndex(where, analyzer)
        base = fresh.create("acme", "fresh")
        ingest(fresh, base, [folder], parser_table)
        for query in ("회의실 예약은 언제", "출장비 청구", "영수증"):
            assert top(index, kb, query) == top(fresh, base, query), (where, query)
        fresh.close()

    index.delete(kb)
    assert index.find("acme", "office") is None
    again = index.create("acme", "office")
    assert index.search(again, "회의실", 5) == [] and index.stats(again)["chunks"] == 0
    with psycopg.connect(pg_url) as conn:  # nothing of the deleted base is left behind
        assert conn.execute("SELECT COUNT(*) FROM kb_terms WHERE kb_id=%s",
                            (kb.id,)).fetchone() == (0,)
    index.close()


def test_vectors_ranked_in_the_gateway_follow_another_replicas_writes(
        tmp_path, pg_url, analyzer, parser_table):
    """Two indexes on one database (two replicas): the one that searched first, and so holds
    the vectors in memory, sees a document the other ingested at its very next search."""
    first = KnowledgeIndex(pg_url, analyzer, vectors="gateway")
    second = KnowledgeIndex(pg_url, analyzer, vectors="gateway")
    assert not first.storage.pgvector  # type: ignore[attr-defined]
    kb = first.set_embedder(first.create("acme", "faq"), "use")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "parking.txt").write_text("주차는 지하 2층을 이용하세요.", encoding="utf-8")
    ingest(first, kb, [one], parser_table)
    seen = second.get("acme", "faq")
    assert [h.text for h in second.search(seen, "차 세우는 곳", 5, signals=("dense",))] == [
        "주차는 지하 2층을 이용하세요."]
    (two / "lunch.txt").write_text("점심시간은 열두 시부터 한 시까지입니다.", encoding="utf-8")
    ingest(first, kb, [two], parser_table)
    hits = second.search(seen, "밥 먹는 시간", 5, signals=("dense",))
    assert hits[0].text.startswith("점심시간")
    first.close()
    second.close()


def _pgvector_available(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT 1 FROM pg_available_extensions WHERE name='vector'"
                            ).fetchone() is not None


def test_pgvector_ranks_like_the_gateway(tmp_path, pg_url, analyzer, parser_table, labour):
    if not _pgvector_available(pg_url):
        pytest.skip("this PostgreSQL server has no pgvector extension (Debian 12 packages none: "
                    "apt-cache policy postgresql-15-pgvector); the gateway path is tested above")
    results = {}
    for mode in ("pgvector", "gateway"):
        index = KnowledgeIndex(pg_url, analyzer, vectors=mode)
        assert index.storage.pgvector == (mode == "pgvector")
        kb = index.find(SHARED_TENANT, "labour")
        if kb is None:
            kb = index.set_embedder(index.create(SHARED_TENANT, "labour"), "use")
            ingest(index, kb, [labour], parser_table)
        results[mode] = [[(h.chunk_id, round(h.score, 4)) for h in
                          index.search(kb, q, 10, signals=("dense",))] for q in QUERIES]
        index.close()
    assert results["pgvector"] == results["gateway"]


def test_a_bad_postgres_url_is_a_clear_error_without_the_password():
    with pytest.raises(ConfigError) as caught:
        KnowledgeIndex("postgresql://jaju:s3cret@127.0.0.1:1/jaju")
    assert "postgresql://jaju:***@127.0.0.1:1/jaju" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_dropped_connection_is_replaced_and_a_lost_server_is_a_503(
        tmp_path, pg_url, analyzer, parser_table):
    index = KnowledgeIndex(pg_url, analyzer)
    kb = index.create("acme", "faq")
    (tmp_path / "hours.txt").write_text("상담 시간은 평일 아홉 시부터 여섯 시까지다.", encoding="utf-8")
    ingest(index, kb, [tmp_path / "hours.txt"], parser_table)
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname=%s AND pid <> pg_backend_pid()", (name,))
    assert index.search(kb, "상담 시간", 3)[0].text.startswith("상담 시간")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    with pytest.raises(ServiceUnavailable) as caught:
        index.search(kb, "상담 시간", 3)
    assert caught.value.status_code == 503 and caught.value.code == "store_unavailable"
    index.close()


def test_ingested_through_one_replica_searchable_from_another(tmp_path, pg_url, live):
    """Two `jaju serve` processes on one PostgreSQL store: a file uploaded through the first
    and a folder ingested by `jaju ingest` are found through the second straight away."""
    config = f'[store]\nurl = "{pg_url}"\n'
    path = tmp_path / "jaju.toml"
    path.write_text(config, encoding="utf-8")
    home = tmp_path / "cli-home"
    assert run_jaju("migrate", "--config", str(path), home=home).returncode == 0
    key = run_jaju("keys", "create", "--tenant", "acme", "--config", str(path),
                   home=home).stdout.strip()
    one, two = live(config=config), live(config=config)
    auth = {"Authorization": f"Bearer {key}"}

    def search(server, kb: str, query: str) -> list[str]:
        r = httpx.post(f"{server.url}/knowledge/{kb}/search", headers=auth, timeout=60,
                       json={"query": query, "k": 3})
        assert r.status_code == 200, r.text
        return [h["text"] for h in r.json()["hits"]]

    text = "사내 동호회 지원금은 분기마다 1인당 5만 원이다."
    up = httpx.post(f"{one.url}/knowledge/handbook/documents", params={"filename": "club.txt"},
                    content=text.encode(), headers=auth, timeout=120)
    assert up.status_code == 200 and up.json()["result"]["status"] == "added", up.text
    assert search(two, "handbook", "동호회 지원금") == [text]

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "wifi.txt").write_text("손님용 와이파이 암호는 안내데스크에 있다.", encoding="utf-8")
    done = run_jaju("ingest", str(docs), "--kb", "handbook", "--tenant", "acme", "--config",
                    str(path), home=home)
    assert done.returncode == 0, done.stderr
    assert search(two, "handbook", "와이파이 암호")[0].startswith("손님용 와이파이")
    assert search(one, "handbook", "와이파이 암호")[0].startswith("손님용 와이파이")
    listed = httpx.get(f"{two.url}/knowledge", headers=auth, timeout=30).json()["data"]
    assert [(kb["id"], kb["documents"]) for kb in listed] == [("handbook", 2)]
    assert not (home / "jaju.db").exists()  # nothing went to a local SQLite file
