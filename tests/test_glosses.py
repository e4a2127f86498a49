"""Glosses: a pack's everyday words for its statutes' articles (`glosses = "data/glosses"` in
pack.toml; `Chunk.keywords`). A question in everyday words finds the article through its gloss;
the gloss is never shown as the article's text; an edited gloss re-indexes its statute;
re-embedding and `jaju store copy` index a chunk exactly as ingest did; a malformed gloss file
is a clear error; and every shipped gloss names an article its statute has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jaju.errors import ConfigError
from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge.chunking import is_supplementary
from jaju.knowledge.index import _index_text
from jaju.knowledge.ingest import GLOSS_LABEL, MAX_GLOSS, read_glosses
from jaju.packs.base import KnowledgeSource, Pack, install_knowledge
from jaju.plugins import get_plugin_manager, packs

PACKS = packs(get_plugin_manager(load_entrypoints=False))

RULES = """# 취업규칙

제1조 (목적) 이 규칙은 근로조건을 정한다.

제2조 (임금의 지급) 사용자는 매월 1회 이상 일정한 날짜를 정하여 임금을 지급하여야 한다.

제3조 (휴게) 사용자는 근로시간이 4시간인 경우에는 30분 이상의 휴게시간을 주어야 한다.

부칙

제1조 (시행일) 이 규칙은 공포한 날부터 시행한다.
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path) -> Path | str:
    return tmp_path / "jaju.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _pack(tmp_path: Path, gloss: str) -> Pack:
    docs, glosses = tmp_path / "docs", tmp_path / "glosses"
    docs.mkdir(exist_ok=True)
    glosses.mkdir(exist_ok=True)
    (docs / "rules.md").write_text(RULES, encoding="utf-8")
    (glosses / "rules.tsv").write_text(f"# 취업규칙\n\n제2조\t{gloss}\n", encoding="utf-8")
    return Pack("small", "t", "1", knowledge=(KnowledgeSource(
        "rules", (docs,), embedder=None, glosses=glosses),))


def _articles(index: KnowledgeIndex, kb, query: str) -> list[str]:
    return [h.source.get("article") for h in index.search(kb, query, 3)]


def test_a_question_in_everyday_words_finds_the_article_through_its_gloss(where, tmp_path,
                                                                         analyzer, parser_table):
    index = KnowledgeIndex(where, analyzer)
    plain = Pack("plain", "t", "1", knowledge=(KnowledgeSource("plain", (tmp_path / "docs",)),))
    _pack(tmp_path, "알바비 떼먹음 / 월급날 돈 못 받음")
    [without] = install_knowledge(plain, index, parser_table)
    assert _articles(index, without.kb, "사장님이 알바비를 떼먹었어요") == []  # no shared word

    [done] = install_knowledge(_pack(tmp_path, "알바비 떼먹음 / 월급날 돈 못 받음"), index,
                               parser_table)
    [hit] = index.search(done.kb, "사장님이 알바비를 떼먹었어요", 1)
    assert hit.source["article"] == "제2조"
    assert "알바비" not in hit.text and hit.text.startswith("제2조 (임금의 지급)")
    # the 부칙's 제1조 never takes the main act's gloss, and the others have none
    [chunks] = [index.chunks(done.kb, d.id) for d in index.documents(done.kb)]
    keywords = {c["article"]: c["keywords"] for c in chunks if c["article"]}
    assert keywords == {"제1조": "", "제2조": "알바비 떼먹음 / 월급날 돈 못 받음", "제3조": "",
                        "부칙 제1조": ""}
    index.close()


DECREE = """# 최고이자율에 관한 규정

금전대차에 관한 계약상의 최고이자율은 연 20퍼센트로 한다.

## 부칙

부칙 <제1호,2021.4.6>

이 영은 공포한 날부터 시행한다.
"""


def test_a_decree_without_articles_takes_its_whole_text_gloss(tmp_path, analyzer, parser_table):
    """`전문` glosses a document that has no articles (the one-sentence 최고이자율 규정, which
    a new-user trial's "이자가 연 25%인데 불법인가요?" never found) — its text, not its 부칙."""
    docs, glosses = tmp_path / "docs", tmp_path / "glosses"
    docs.mkdir()
    glosses.mkdir()
    (docs / "규정.md").write_text(DECREE, encoding="utf-8")
    (glosses / "규정.tsv").write_text("전문\t이자 몇 퍼센트까지 받으면 불법인지\n", encoding="utf-8")
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [done] = install_knowledge(Pack("p", "t", "1", knowledge=(KnowledgeSource(
        "p", (docs,), glosses=glosses),)), index, parser_table)
    [chunks] = [index.chunks(done.kb, d.id) for d in index.documents(done.kb)]
    glossed = [c["text"] for c in chunks if c["keywords"]]
    assert glossed and all("20퍼센트" in t and "부칙" not in t for t in glossed)
    [hit] = index.search(done.kb, "불법 아닌가요", 1)
    assert "최고이자율" in hit.text
    index.close()


def test_an_edited_gloss_reindexes_its_statute(tmp_path, analyzer, parser_table):
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [first] = install_knowledge(_pack(tmp_path, "알바비 밀림"), index, parser_table)
    [same] = install_knowledge(_pack(tmp_path, "알바비 밀림"), index, parser_table)
    assert first.chunks == 5 and same.chunks == 0  # unchanged statute, unchanged gloss: skipped
    [edited] = install_knowledge(_pack(tmp_path, "쉬는 시간 없이 일함"), index, parser_table)
    assert edited.chunks == 5
    assert _articles(index, edited.kb, "알바비") == []
    assert _articles(index, edited.kb, "쉬는 시간 없이 일해요")[0] == "제2조"
    index.close()


def test_reembedding_and_copy_index_a_chunk_as_ingest_did(tmp_path, analyzer, parser_table,
                                                          monkeypatch, pg_url):
    """set_embedder (an install switched to e5) and `jaju store copy` (SQLite -> PostgreSQL)
    embed and tokenise the chunk's keywords too: the same text ingest used."""
    embedded: list[str] = []

    class Recording:
        def embed_passages(self, texts):
            import numpy as np

            embedded.extend(texts)
            return np.ones((len(texts), 4), np.float32) / 2

        def embed_query(self, text):
            import numpy as np

            return np.ones(4, np.float32) / 2

    monkeypatch.setattr("jaju.knowledge.index.make_embedder", lambda spec: Recording())
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [done] = install_knowledge(_pack(tmp_path, "알바비 밀림"), index, parser_table)
    index.set_embedder(done.kb, "e5")
    assert sum("알바비 밀림" in t for t in embedded) == 1

    copy = KnowledgeIndex(pg_url, analyzer)
    index.copy_to(copy)
    kb = copy.get(SHARED_TENANT, "rules")
    [chunks] = [copy.chunks(kb, d.id) for d in copy.documents(kb)]
    assert {c["article"]: c["keywords"] for c in chunks}["제2조"] == "알바비 밀림"
    assert _articles(copy, kb, "알바비")[0] == "제2조"
    index.close()
    copy.close()


@pytest.mark.parametrize(("line", "problem"), [
    ("제2조 알바비", "not an article label"),          # no TAB
    ("2조\t알바비", "not an article label"),
    ("제2조 (임금)\t알바비", "not an article label"),
    ("부칙 제1조\t시행일", "not an article label"),     # 부칙 take no glosses
    ("제２조\t알바비", "not an article label"),         # full-width digits never match 제2조
    ("제2조\u200b\t알바비", "not an article label"),
    ("제2조\t", "no gloss"),
    ("제2조\t\u200b", "no gloss"),
    ("제2조\t알바\x00비", "contains NUL"),
    ("제2조\t" + "가" * (MAX_GLOSS + 1), f"longer than {MAX_GLOSS}"),
    ("제2조\t알바비\n제2조\t월급", "article given twice"),
])
def test_a_malformed_gloss_file_names_its_file_and_line(tmp_path, line, problem):
    (tmp_path / "rules.tsv").write_text(f"# 취업규칙\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(problem)) as raised:
        read_glosses(tmp_path)
    assert "rules.tsv:" in str(raised.value)


def test_gloss_files_as_editors_write_them(tmp_path):
    """A byte-order mark, CRLF, an indented comment, a decomposed (NFD) label and file name,
    and a line separator inside a gloss (one gloss, not two lines)."""
    import unicodedata

    name = unicodedata.normalize("NFD", "규정") + ".tsv"
    (tmp_path / name).write_bytes(
        "\ufeff  # 규정\r\n".encode() + unicodedata.normalize("NFD", "제2조\t월급\u2028알바비\r\n")
        .encode())
    assert read_glosses(tmp_path) == {"규정": {"제2조": "월급\u2028알바비"}}


def test_a_gloss_folder_entry_that_is_no_regular_file_is_refused(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.tsv")  # reading it would wait forever
    with pytest.raises(ConfigError, match="not a regular file"):
        read_glosses(tmp_path)
    with pytest.raises(ConfigError, match="no such glosses folder"):
        read_glosses(tmp_path / "nope")


def test_glosses_that_fit_no_document_or_several_are_reported(tmp_path):
    from jaju.knowledge.ingest import gloss_keywords

    glosses = {"rules": {"제2조": "알바비"}, "other": {"제1조": "목적"}}
    keywords, notes = gloss_keywords(glosses, [tmp_path / "a" / "rules.md"])
    assert keywords(tmp_path / "a" / "rules.md") == {"제2조": "알바비"}
    assert notes == ["'other.tsv'에 맞는 문서가 없습니다 / 'other.tsv' names no document being "
                     "ingested"]
    with pytest.raises(ConfigError, match="could describe any of 2 documents"):
        gloss_keywords(glosses, [tmp_path / "a" / "rules.md", tmp_path / "b" / "rules.pdf"])
    # two documents of one name are fine when no gloss names them
    gloss_keywords({}, [tmp_path / "a" / "rules.md", tmp_path / "b" / "rules.pdf"])


def test_a_packs_bad_glosses_stop_install_before_its_knowledge_base_exists(tmp_path, analyzer,
                                                                         parser_table):
    from jaju.packs.base import load_pack

    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    pack = _pack(tmp_path, "알바비")
    (tmp_path / "glosses" / "rules.tsv").write_text("2조\t알바비\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("rules.tsv:1")):
        install_knowledge(pack, index, parser_table)
    assert index.bases() == []
    index.close()
    for value in ("5", "[\"data\"]", "\"\""):
        toml = tmp_path / "pack.toml"
        toml.write_text(f'[pack]\nname = "p"\ntitle = "t"\nversion = "1"\n\n[[knowledge]]\n'
                        f'name = "k"\nsources = ["docs"]\nglosses = {value}\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="must be a folder path"):
            load_pack(toml)


# --- the shipped glosses ---------------------------------------------------------------------------

SHIPPED = [(name, source) for name, pack in sorted(PACKS.items()) for source in pack.knowledge
           if source.glosses]


def test_the_law_and_education_packs_ship_glosses():
    assert {name for name, _ in SHIPPED} >= {"law", "education"}


@pytest.mark.parametrize(("pack_name", "source"), SHIPPED, ids=[n for n, _ in SHIPPED])
def test_every_shipped_gloss_names_a_main_act_article_of_its_statute(pack_name, source,
                                                                     parser_table):
    """Each gloss file is named after a statute of the source, and each of its labels is an
    article of that statute's main act (a typo such as 제60조의 or a 부칙 article fails)."""
    from jaju.knowledge.chunking import chunk_blocks
    from jaju.knowledge.ingest import collect_files

    files = {f.stem: f for f in collect_files(source.sources)}
    glosses = read_glosses(source.glosses)
    assert glosses, f"{source.glosses} holds no gloss file"
    for stem, table in glosses.items():
        assert stem in files, f"{stem}.tsv names no document of {pack_name}/{source.name}"
        document = parser_table[files[stem].suffix](files[stem])
        chunks = chunk_blocks(document.blocks, split_sentences=lambda text: [(0, len(text))])
        articles = {c.article for c in chunks if c.article and not is_supplementary(c.article)}
        if not articles:  # a decree of one sentence: one gloss for its whole text
            assert set(table) == {"전문"}, f"{stem}.tsv: a document without articles"
            continue
        unknown = sorted(set(table) - articles)
        assert not unknown, f"{stem}.tsv: no such article: {unknown[:10]}"
        assert all(GLOSS_LABEL.match(label) for label in table)
        assert len(table) >= 0.5 * len(articles), f"{stem}.tsv covers few articles"


def test_a_gloss_is_indexed_but_not_the_articles_text():
    from jaju.knowledge.chunking import Chunk

    chunk = Chunk("제2조 (임금의 지급) 임금을 지급한다.", 0, 10, article="제2조",
                  heading=("취업규칙",), keywords="알바비 밀림")
    assert _index_text(chunk) == "취업규칙\n제2조 (임금의 지급) 임금을 지급한다.\n알바비 밀림"
    assert "알바비" not in chunk.text


# --- `jaju ingest --glosses` and the console's chunk view ----------------------------------------------


def test_ingest_cli_takes_glosses_and_refuses_a_bad_file(tmp_path):
    from conftest import run_jaju

    home, docs, glosses = tmp_path / "home", tmp_path / "docs", tmp_path / "glosses"
    docs.mkdir()
    glosses.mkdir()
    (docs / "rules.md").write_text(RULES, encoding="utf-8")
    (glosses / "rules.tsv").write_text("제3조\t점심시간 없이 일함\n", encoding="utf-8")
    (glosses / "other.tsv").write_text("제1조\t목적\n", encoding="utf-8")
    out = run_jaju("ingest", "--kb", "rules", "--glosses", str(glosses), str(docs), home=home)
    assert out.returncode == 0, out.stderr
    assert "'other.tsv' names no document" in out.stderr
    assert re.search(r"glossed chunks\s*│\s*1\b", out.stderr)
    index = KnowledgeIndex(home / "jaju.db")
    kb = index.get("local", "rules")
    assert _articles(index, kb, "점심시간 없이 일해요")[0] == "제3조"
    index.close()

    (glosses / "rules.tsv").write_text("3조\t점심시간\n", encoding="utf-8")
    out = run_jaju("ingest", "--kb", "rules", "--glosses", str(glosses), str(docs), home=home)
    assert out.returncode != 0 and "rules.tsv:1" in out.stderr and "not an article label" in out.stderr
    out = run_jaju("ingest", "--kb", "rules", "--glosses", str(tmp_path / "nope"), str(docs),
                   home=home)
    assert out.returncode != 0 and "no such glosses folder" in out.stderr
