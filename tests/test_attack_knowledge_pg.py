"""The knowledge index attacked as a careless client or another tenant would: names and queries
made of quotes, backslashes, NUL bytes, lone surrogates, SQL and FTS syntax, every Unicode
variant, 100,000 characters; another tenant's base asked for by name; a base deleted while it
is searched. Whatever the input, SQLite and PostgreSQL answer alike — the same hits, or the
same error class (a 400 `InvalidRequest` or a 404 `NotFound`, never a driver's exception that
would become a 500, nor a 503 "store unavailable" for the client's own input)."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaju.errors import InvalidRequest, NotFound
from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge.chunking import Chunk
from jaju.knowledge.ingest import ingest

from conftest import run_jaju

TEXTS = {
    "deposit.txt": "보증금 반환 규정: 임대차가 끝나면 30일 이내에 보증금을 돌려준다. it's \"quoted\": a*b",
    "wages.txt": "임금은 매월 1회 이상 일정한 날짜를 정하여 통화로 직접 근로자에게 지급하여야 한다.",
    "leave.txt": "사용자는 1년간 80퍼센트 이상 출근한 근로자에게 15일의 유급휴가를 주어야 한다.",
}


@pytest.fixture
def engines(tmp_path, pg_url, analyzer):
    """Both engines, each holding the same three documents in acme's base `rules`."""
    indexes = [KnowledgeIndex(tmp_path / "jaju.db", analyzer),
               KnowledgeIndex(pg_url, analyzer, vectors="gateway")]
    for index in indexes:
        kb = index.create("acme", "rules")
        for path, text in TEXTS.items():
            index.add_document(kb, path=path, sha256=path, title=None, fmt="txt",
                               chars=len(text), chunks=[Chunk(text, 0, len(text))])
    yield indexes
    for index in indexes:
        index.close()


def outcome(index: KnowledgeIndex, query: str) -> object:
    """The hits' documents in order, or the error's class."""
    try:
        hits = index.search(index.get("acme", "rules"), query)
    except Exception as e:  # the class is what the engines must agree on
        return type(e)
    return [h.source["path"] for h in hits]


BAD_NAMES = ["", "a\x00b", "\x00", "a\ud800b", "\udfff", "x" * 257, "가" * 300]


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:16]}…({len(text)})"


@pytest.mark.parametrize("name", BAD_NAMES, ids=short)
def test_names_no_engine_can_store_are_refused_alike(engines, name):
    """NUL (PostgreSQL's text refuses it), a lone surrogate (neither driver encodes it), and
    names over 256 characters: a 400 on create, "does not exist" on lookup — on both engines,
    as a knowledge base or as a tenant — and the index goes on working."""
    for index in engines:
        with pytest.raises(InvalidRequest) as e:
            index.create("acme", name)
        assert e.value.status_code == 400 and e.value.param == "kb"
        assert "/" in e.value.message  # Korean / English
        with pytest.raises(InvalidRequest) as e:
            index.create(name, "rules")
        assert e.value.param == "tenant"
        assert index.find("acme", name) is None and index.find(name, "rules") is None
        with pytest.raises(NotFound):
            index.get("acme", name)
        with pytest.raises(NotFound):
            index.get(name, "rules")
        assert [kb.name for kb in index.bases("acme")] == ["rules"]  # nothing was added
        assert outcome(index, "보증금") == ["deposit.txt"]


ODD_NAMES = ["it's", 'a"b', "a\\b", "'; DROP TABLE kb; --", "%", "_", "rules%", "r_les",
             "Robert'); DELETE FROM kb_chunks;--", "ｒｕｌｅｓ", "규정 ‍👩‍⚖️", "x" * 256]


def test_names_with_quotes_sql_and_wildcards_are_plain_names(engines):
    """Such names are stored and found exactly, LIKE wildcards match nothing else, and
    another tenant finds none of them (404, as for a name that does not exist)."""
    for index in engines:
        for name in ODD_NAMES:
            assert index.create("acme", name).name == name
            assert index.get("acme", name).name == name
            with pytest.raises(NotFound):
                index.get("globex", name)
        with pytest.raises(NotFound):
            index.get("acme", "rul%")  # a wildcard is not a pattern
        with pytest.raises(NotFound):
            index.get("acme", "RULES")
        assert sorted(kb.name for kb in index.bases("acme")) == sorted([*ODD_NAMES, "rules"])
        assert index.bases("globex") == []
        assert outcome(index, "보증금") == ["deposit.txt"]  # no statement ran but ours


def test_another_tenants_base_is_out_of_reach_on_both_engines(engines):
    """globex asks for acme's base by its exact name: 404, the same as for no base at all;
    a shared base of the same name is what globex gets."""
    for index in engines:
        with pytest.raises(NotFound) as e:
            index.get("globex", "rules")
        assert e.value.code == "knowledge_base_not_found"
        shared = index.create(SHARED_TENANT, "rules")
        assert index.get("globex", "rules") == shared
        assert index.search(shared, "보증금") == []  # not acme's documents
        assert outcome(index, "보증금") == ["deposit.txt"]  # acme still reads its own


QUERIES = [
    "보증금", "보증금 반환", "!!!", "?.,;", "...", "—", "ｂｏｚｅｎ 보증금", "보증금？",
    "ㅂㅗㅈㅡㅇㄱㅡㅁ", "보증", "보\u200d증금", "보\u200b증\ufeff금", "😀", "👩‍⚖️ 임금",
    "it's", "a:b", "tokens:보증금", "a*", "보증*", '"', '""', '"quoted"', "'", "NEAR(보증금 반환)",
    "보증금 AND 반환", "보증금 OR", "-보증금", "^보증금", "(", ")", "{임금}", "x\x00y", "임금\x00",
    "보\ud800증금", "\udc00", "' OR 1=1 --", "%", "_", "\\", "보증금 " * 20_000,
    "임" * 100_000, "15일", "80퍼센트", "1회 이상",
]


def test_queries_give_the_same_outcome_on_both_engines(engines):
    """Punctuation, FTS5 syntax, compatibility and conjoining jamo, joiners, emoji, NUL, a lone
    surrogate, 100,000 characters: the same hits in the same order on both engines, and the
    queries that name a word of the documents still find it."""
    sqlite, postgres = engines
    for query in QUERIES:
        assert outcome(sqlite, query) == outcome(postgres, query), repr(query[:40])
    assert outcome(postgres, '"quoted"') == ["deposit.txt"]
    assert outcome(postgres, "보증금 OR") == ["deposit.txt"]
    assert outcome(postgres, "x\x00y 임금") == outcome(postgres, "임금")
    assert outcome(postgres, "보\ud800증금")[0] == "deposit.txt"


@pytest.mark.parametrize("query", ["", " ", "\t\n", "\u3000"], ids=repr)
def test_an_empty_query_is_a_400_on_both_engines(engines, query):
    for index in engines:
        with pytest.raises(InvalidRequest) as e:
            index.search(index.get("acme", "rules"), query)
        assert e.value.param == "query" and "query is empty" in e.value.message


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(query=st.text(max_size=40) | st.sampled_from(QUERIES[:30]).flatmap(
    lambda q: st.text(max_size=6).map(lambda t: q + t)))
def test_any_query_gives_the_same_outcome_on_both_engines(engines, query):
    """Generated text (any code point, surrogates included), alone or after a known query."""
    sqlite, postgres = engines
    assert outcome(sqlite, query) == outcome(postgres, query)


def test_a_document_with_nul_bytes_is_ingested_alike_and_the_batch_goes_on(
        tmp_path, pg_url, analyzer, parser_table):
    """A text file and a markdown file holding NUL bytes (PostgreSQL refuses NUL in text):
    both engines ingest every file of the folder and find the same passages."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "nul.txt").write_bytes("보증금\x00 반환 규정\x00".encode())
    (folder / "nul.md").write_bytes("# 제목\x00\n\n보증금\x00 반환 기한".encode())
    (folder / "ok.txt").write_text("정상 문서의 보증금 반환", encoding="utf-8")
    found = []
    for where in (tmp_path / "jaju.db", pg_url):
        index = KnowledgeIndex(where, analyzer)
        kb = index.create("acme", "docs")
        report = ingest(index, kb, [folder], parser_table)
        assert sorted(r.status for r in report.results) == ["added"] * 3, report.results
        hits = index.search(kb, "보증금 반환")
        assert all("\x00" not in h.text for h in hits)
        found.append(sorted((h.source["path"].rsplit("/", 1)[-1], h.text) for h in hits))
        index.close()
    assert found[0] == found[1] and len(found[0]) == 3


@pytest.mark.parametrize("bad", [{"path": "a\x00.txt"}, {"title": "제목\x00"},
                                 {"text": "본문\x00"}, {"text": "본문\ud800"}], ids=repr)
def test_unstorable_text_given_directly_is_a_400_on_both_engines(engines, bad):
    """`add_document` called with NUL or a lone surrogate (a plugin, `jaju store copy`): the
    same 400 on both engines, and the document before it is untouched."""
    for index in engines:
        kb = index.get("acme", "rules")
        text = bad.get("text", "새 문서")
        with pytest.raises(InvalidRequest) as e:
            index.add_document(kb, path=bad.get("path", "deposit.txt"), sha256="new",
                               title=bad.get("title"), fmt="txt", chars=len(text),
                               chunks=[Chunk(text, 0, len(text))])
        assert e.value.code == "unstorable_value"
        assert outcome(index, "보증금") == ["deposit.txt"]
        assert index.document_hash(kb, "deposit.txt") == "deposit.txt"


def test_a_search_racing_a_delete_finds_nothing_on_both_engines(engines):
    """A search that got its knowledge base just before another request deleted it: no hits
    on either engine (SQLite's FTS tables are gone, PostgreSQL's rows are), then 404."""
    for index in engines:
        kb = index.get("acme", "rules")
        index.delete(kb)
        assert index.search(kb, "보증금") == []
        with pytest.raises(NotFound):
            index.get("acme", "rules")


def _search_while_deleting(index: KnowledgeIndex) -> list[BaseException]:
    """Errors other than 404 that a searching thread met while this one deleted and remade
    the base five times."""
    errors: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            try:
                index.search(index.get("acme", "rules"), "보증금 임금 유급휴가")
            except NotFound:
                pass
            except BaseException as e:  # any other is the failure
                errors.append(e)
                return

    thread = threading.Thread(target=search)
    thread.start()
    try:
        for _ in range(5):
            index.delete(index.get("acme", "rules"))
            kb = index.create("acme", "rules")
            index.add_document(kb, path="wages.txt", sha256="w", title=None, fmt="txt",
                               chars=10, chunks=[Chunk(TEXTS["wages.txt"], 0, 10)])
    finally:
        done.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    return errors


def test_searching_while_another_thread_deletes(engines):
    """Searches in one thread while another deletes the base and makes it again: every
    search gives hits, no hits or a 404, never another exception."""
    for index in engines:
        assert _search_while_deleting(index) == []
        assert outcome(index, "임금") == ["wages.txt"]


def test_the_search_tool_refuses_what_the_search_api_refuses(tmp_path):
    """`knowledge.search` as a model calls it (`jaju tools call`): a 5,000-character query
    is refused as POST /v1/knowledge/{kb}/search refuses it (over 2,000 characters), and a
    base name with NUL is simply not found — clear errors, no traceback."""
    home = tmp_path / "home"
    long = run_jaju("tools", "call", "knowledge.search",
                    json.dumps({"kb": "rules", "query": "보증금 " * 1_250}), home=home)
    assert long.returncode == 1 and "query is longer than 2000" in long.stderr
    assert "검색어" in long.stderr and "Traceback" not in long.stderr
    nul = run_jaju("tools", "call", "knowledge.search",
                   json.dumps({"kb": "rules\u0000", "query": "보증금"}), home=home)
    assert nul.returncode == 1 and "does not exist" in nul.stderr
    assert "Traceback" not in nul.stderr
