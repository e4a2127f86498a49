"""The knowledge index: knowledge bases, documents, chunks, their analyser tokens (Kiwi content
morphemes; character bigrams) and vectors, in SQLite (JAJU_HOME/jaju.db, FTS5) or — when the
store is on PostgreSQL (`[store] url`) — in that PostgreSQL database, so that every replica
sees a document the moment one of them ingested it (`knowledge_location`). The engines only
store rows and answer "candidates with their BM25 scores" and "vectors" (storage.py,
postgres.py); analysing, fusing and filtering happen here, once, for both.

Search fuses the lexical signals (and the dense one, when the knowledge base has an embedder):
each list's scores are divided by that list's best score, then weighted and summed, so a
signal that finds nothing adds nothing and a weak signal cannot outvote a strong one. A
knowledge base belongs to a tenant; one owned by `SHARED_TENANT` can be read by every tenant.
Every document is written in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jaju.errors import ConfigError, InvalidRequest, NotFound
from jaju.knowledge import synonyms
from jaju.knowledge.chunking import Chunk
from jaju.knowledge.embed import Embedder, make_embedder
from jaju.knowledge.storage import KnowledgeStorage, SqliteKnowledge, dumps
from jaju.korean.analyzer import Analyzer, bigrams
from jaju.protocol import MAX_NAME
from jaju.store import is_postgres

SHARED_TENANT = "*"
CANDIDATES = 100
WEIGHTS = {"morph": 1.0, "gram": 0.6, "dense": 0.5}
SUPPLEMENTARY_WEIGHT = 0.5
"""Statutes' 부칙 (supplementary provisions: dates, transitions) rarely answer a question, so
their chunks count this much — unless the query itself asks for a 부칙."""


@dataclass(frozen=True)
class KnowledgeBase:
    id: int
    tenant: str
    name: str
    description: str
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    embedder: str | None = None
    """Spec of the embedder for the dense signal (see `jaju.knowledge.embed`), or None."""

    @property
    def shared(self) -> bool:
        return self.tenant == SHARED_TENANT


@dataclass
class Hit:
    text: str
    score: float
    source: dict[str, Any]
    chunk_id: int = 0
    signals: dict[str, float] = field(default_factory=dict)
    keywords: str = ""
    """The chunk's index-only keywords (`Chunk.keywords`): for reranking, never shown."""

    def to_dict(self, signals: bool = True) -> dict[str, Any]:
        """`signals`: each signal's raw score behind `score` (the console's search tester)."""
        out = {"text": self.text, "score": round(self.score, 6), "source": self.source}
        if signals:
            out["signals"] = {k: round(v, 6) for k, v in self.signals.items()}
        return out


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    path: str
    title: str | None
    format: str
    chars: int
    chunks: int
    sha256: str
    ingested_at: float
    meta: dict[str, Any]


def _bad_name(value: str) -> str | None:
    """Why a tenant or knowledge base name cannot be stored alike on both engines, or None:
    PostgreSQL refuses NUL in text, neither engine stores a lone surrogate, and a name longer
    than MAX_NAME would exceed PostgreSQL's index row on (tenant, name)."""
    if not value or len(value) > MAX_NAME:
        return f"1–{MAX_NAME}자여야 합니다 / must be 1 to {MAX_NAME} characters"
    if "\x00" in value:
        return "NUL 문자는 쓸 수 없습니다 / must not contain NUL"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "올바른 유니코드가 아닙니다 / is not valid Unicode (lone surrogate)"
    return None


def _bad_text(*texts: str) -> bool:
    """Whether any text holds what PostgreSQL cannot store in text (NUL) or neither engine can
    encode (a lone surrogate)."""
    for text in texts:
        if "\x00" in text:
            return True
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
    return False


def storable(text: str) -> str:
    """Text both knowledge engines store alike: without NUL (PostgreSQL refuses it in text;
    it carries nothing a reader sees) and with a lone surrogate (a plugin parser's undecodable
    byte) as "?" instead of an error that would stop the batch."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def knowledge_location(settings: Any) -> Path | str:
    """Where `settings` keep knowledge: the store's PostgreSQL database when `[store] url` is
    one (replicas share it), else the SQLite file under JAJU_HOME (also when the store is on
    another SQLite file: the knowledge index has always lived in JAJU_HOME/jaju.db)."""
    url = settings.store.url or ""
    if is_postgres(url):
        return str(url)
    return Path(settings.db_path)


def open_storage(where: Path | str, **options: Any) -> KnowledgeStorage:
    """`postgresql://…` → PostgreSQL (options: `vectors`); a path or `sqlite:///path` → SQLite."""
    text = str(where)
    if is_postgres(text):
        from jaju.knowledge.postgres import PostgresKnowledge

        return PostgresKnowledge(text, **options)
    if text.startswith("sqlite://"):
        text = text[len("sqlite://"):]
        where = Path(text[1:] if text.startswith("//") else text)
    return SqliteKnowledge(Path(where))


class KnowledgeIndex:
    def __init__(self, db_path: Path | str, analyzer: Analyzer | None = None,
                 **options: Any) -> None:
        """`db_path`: a SQLite file, or a `postgresql://` URL (see `knowledge_location`)."""
        self.storage = open_storage(db_path, **options)
        self._lock = threading.RLock()
        self._analyzer = analyzer
        self._embedders: dict[str, Embedder] = {}
        self.precomputed: dict[str, dict[bytes, np.ndarray]] = {}
        """Passage vectors known ahead (a pack's shipped vectors, put here by
        `install_knowledge`): embedder spec -> `passage_key` of the exact text -> vector."""
        self._matrices: dict[int, tuple[Hashable, np.ndarray, np.ndarray]] = {}

    @property
    def engine(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.storage.name

    @property
    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            self._analyzer = Analyzer()
        return self._analyzer

    def close(self) -> None:
        self.storage.close()

    # --- knowledge bases ----------------------------------------------------------------------

    def create(self, tenant: str, name: str, description: str = "",
               synonyms: dict[str, list[str]] | None = None) -> KnowledgeBase:
        for param, value in (("tenant", tenant), ("kb", name)):
            if problem := _bad_name(value):
                raise InvalidRequest(f"이름이 올바르지 않습니다 / invalid {param} name: {problem}",
                                     param=param, code="invalid_name")
        kb = self.find(tenant, name)
        if kb is not None:
            return kb
        kb_id = self.storage.create_kb(tenant, name, description, dumps(synonyms or {}))
        return KnowledgeBase(kb_id, tenant, name, description, synonyms or {})

    def set_synonyms(self, kb: KnowledgeBase, synonyms: dict[str, list[str]]) -> KnowledgeBase:
        self.storage.set_synonyms(kb.id, dumps(synonyms))
        return KnowledgeBase(kb.id, kb.tenant, kb.name, kb.description, synonyms, kb.embedder)

    def set_embedder(self, kb: KnowledgeBase, spec: str | None) -> KnowledgeBase:
        """Use this embedder for the dense signal; chunks already in are embedded now."""
        if spec:
            self.embedder(spec)  # fail early on a bad spec
        self.storage.set_embedder(kb.id, spec, drop_vectors=spec != kb.embedder)
        kb = KnowledgeBase(kb.id, kb.tenant, kb.name, kb.description, kb.synonyms, spec)
        if spec:
            rows = self.storage.unembedded(kb.id)
            for start in range(0, len(rows), 256):
                part = rows[start:start + 256]
                # the text as ingest embeds it (headings are stored " > "-joined)
                vectors = self.embed_passages(spec, [
                    passage_text(h.split(" > ") if h else [], t, k) for _, t, h, k in part])
                self.storage.put_vectors(kb.id, [(cid, v) for (cid, *_), v
                                                 in zip(part, vectors, strict=True)])
        return kb

    def embedder(self, spec: str) -> Embedder:
        if spec not in self._embedders:
            self._embedders[spec] = make_embedder(spec)
        return self._embedders[spec]

    def embed_chunks(self, kb: KnowledgeBase, chunks: list[Chunk]) -> np.ndarray | None:
        if not kb.embedder or not chunks:
            return None
        return self.embed_passages(kb.embedder, [_index_text(c) for c in chunks])

    def embed_passages(self, spec: str, texts: list[str]) -> np.ndarray:
        """Passage vectors: a text with a vector in `precomputed[spec]` takes it, the others
        are embedded now, so a stale or partial precomputed set costs time, never accuracy."""
        known = self.precomputed.get(spec, {})
        keys = [passage_key(t) for t in texts]
        todo = [text for text, key in zip(texts, keys, strict=True) if key not in known]
        fresh = iter(self.embedder(spec).embed_passages(todo) if todo else [])
        rows = [known[key] if key in known else next(fresh) for key in keys]
        return np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)

    def _row(self, row: tuple[Any, ...]) -> KnowledgeBase:
        return KnowledgeBase(int(row[0]), row[1], row[2], row[3], json.loads(row[4] or "{}"),
                             row[5])

    def find(self, tenant: str, name: str) -> KnowledgeBase | None:
        """None also for a name no knowledge base can have (see `_bad_name`)."""
        if _bad_name(tenant) or _bad_name(name):
            return None
        row = self.storage.find_kb(tenant, name)
        return self._row(row) if row else None

    def get(self, tenant: str, name: str) -> KnowledgeBase:
        """The tenant's knowledge base, or a shared one of that name; else 404 (never 403:
        another tenant's knowledge base does not exist as far as this caller can tell)."""
        kb = self.find(tenant, name) or self.find(SHARED_TENANT, name)
        if kb is None:
            raise NotFound(f"지식 베이스 '{name}'이(가) 없습니다 / knowledge base '{name}' "
                           "does not exist", param="kb", code="knowledge_base_not_found")
        return kb

    def bases(self, tenant: str | None = None) -> list[KnowledgeBase]:
        return [self._row(r) for r in self.storage.list_kbs(tenant, SHARED_TENANT)]

    def delete(self, kb: KnowledgeBase) -> None:
        self.storage.delete_kb(kb.id)
        with self._lock:
            self._matrices.pop(kb.id, None)

    def stats(self, kb: KnowledgeBase) -> dict[str, int]:
        docs, chars, chunks = self.storage.stats(kb.id)
        return {"documents": docs, "characters": chars, "chunks": chunks}

    # --- documents ------------------------------------------------------------------------------

    def documents(self, kb: KnowledgeBase) -> list[DocumentInfo]:
        return [DocumentInfo(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                             json.loads(r[8])) for r in self.storage.documents(kb.id)]

    def chunks(self, kb: KnowledgeBase, doc_id: int) -> list[dict[str, Any]]:
        """One document's chunks in order (empty when the document is not in `kb`)."""
        keys = ("id", "seq", "text", "start", "end", "page", "article", "heading", "keywords")
        return [dict(zip(keys, r, strict=True)) for r in self.storage.chunks(kb.id, doc_id)]

    def document_hash(self, kb: KnowledgeBase, path: str) -> str | None:
        return self.storage.document_hash(kb.id, path)

    def remove_document(self, kb: KnowledgeBase, path: str) -> bool:
        return self.storage.remove_document(kb.id, path)

    def analyze(self, chunks: list[Chunk]) -> list[list[str]]:
        """Content morphemes of each chunk as indexed (one Kiwi batch for all of them)."""
        return self.analyzer.morphemes_many([_index_text(c) for c in chunks])

    def add_document(self, kb: KnowledgeBase, *, path: str, sha256: str, title: str | None,
                     fmt: str, chars: int, chunks: list[Chunk],
                     meta: dict[str, Any] | None = None,
                     morphemes: list[list[str]] | None = None,
                     vectors: np.ndarray | None = None) -> int:
        """Replace the document at `path` with these chunks, in one transaction. Text that
        one engine could not store (NUL, a lone surrogate) is refused on both (400); ingest
        cleans parsed text of it before it comes here."""
        texts = [_index_text(c) for c in chunks]
        if _bad_text(path, title or "", *texts):
            raise InvalidRequest("저장할 수 없는 문자(NUL, 짝 없는 서로게이트)가 있습니다 / the document "
                                 "contains NUL or a lone surrogate", code="unstorable_value")
        morphs = morphemes if morphemes is not None else self.analyzer.morphemes_many(texts)
        grams = [bigrams(t) for t in texts]
        if vectors is None and kb.embedder:
            vectors = self.embed_chunks(kb, chunks)
        doc = {"path": path, "sha256": sha256, "title": title, "format": fmt, "chars": chars,
               "meta": dumps(meta or {})}
        return self.storage.add_document(kb.id, doc, chunks, morphs, grams, vectors)

    def copy_to(self, other: KnowledgeIndex,
                progress: Callable[[str, dict[str, int]], None] | None = None) -> None:
        """Copy every knowledge base (settings, documents, chunks, vectors) into `other`, which
        must hold none — e.g. from SQLite to PostgreSQL (`jaju store copy`). The analyser's
        tokens are made again by `other`'s analyser (the same Kiwi, so the same tokens); the
        vectors are copied, not embedded again; documents keep their hash, so a later ingest of
        an unchanged file skips it. Each document is one transaction in `other`."""
        if other.bases():
            raise ConfigError("대상에 이미 지식 베이스가 있습니다 / the target already holds "
                              "knowledge bases; copy into a fresh database")
        for kb in self.bases():
            new = other.create(kb.tenant, kb.name, kb.description, kb.synonyms)
            if kb.embedder:
                other.storage.set_embedder(new.id, kb.embedder, drop_vectors=False)
                new = KnowledgeBase(new.id, new.tenant, new.name, new.description,
                                    new.synonyms, kb.embedder)
            vector_of: dict[int, np.ndarray] = {}
            if kb.embedder:
                ids, matrix = self.storage.load_vectors(kb.id)
                vector_of = {int(i): matrix[n] for n, i in enumerate(ids)}
            for doc in self.documents(kb):
                rows = self.chunks(kb, doc.id)
                chunks = [Chunk(storable(r["text"]), r["start"], r["end"], r["page"],
                                r["article"], tuple(storable(r["heading"]).split(" > "))
                                if r["heading"] else (), r["keywords"])
                          for r in rows]  # text ingested before NUL was cleaned: clean it
                vectors = None
                if kb.embedder and rows and all(r["id"] in vector_of for r in rows):
                    vectors = np.stack([vector_of[r["id"]] for r in rows])
                other.add_document(new, path=doc.path, sha256=doc.sha256,
                                   title=storable(doc.title) if doc.title else doc.title,
                                   fmt=doc.format, chars=doc.chars, chunks=chunks,
                                   meta=doc.meta, vectors=vectors)
            if progress:
                progress(f"{kb.tenant}/{kb.name}", other.stats(new))

    # --- search ---------------------------------------------------------------------------------

    def search(self, kb: KnowledgeBase, query: str, k: int = 10, *,
               document: str | None = None,
               filters: dict[str, Any] | None = None,
               signals: tuple[str, ...] = ("morph", "gram", "dense")) -> list[Hit]:
        """Best hits first. `document` keeps one document (path or file name); `filters` keeps
        hits whose source matches: format, title, article (exact) or heading (substring); a list
        of values keeps hits matching any of them."""
        if not query.strip():
            raise InvalidRequest("검색어가 비어 있습니다 / query is empty", param="query")
        k = max(1, min(k, 100))
        morph = self.analyzer.morphemes(query)
        expanded = ""
        if kb.synonyms:
            added = synonyms.expand(self.analyzer.morphemes(query, keep_stopwords=True),
                                    kb.synonyms)
            morph += added
            expanded = " ".join(dict.fromkeys(added))
        found: dict[str, dict[int, float]] = {}
        if "morph" in signals:
            found["morph"] = self.storage.lexical(kb.id, "morph", morph, CANDIDATES)
        if "gram" in signals:  # the formal terms too, or this signal would see only the
            # everyday words and pull towards the wrong articles
            found["gram"] = self.storage.lexical(kb.id, "gram", bigrams(f"{query} {expanded}"),
                                                 CANDIDATES)
        if "dense" in signals and kb.embedder and (morph or bigrams(query)):
            found["dense"] = self._dense(kb, query)
        fused: dict[int, float] = {}
        parts: dict[int, dict[str, float]] = {}
        for name, scores in found.items():
            if not scores:
                continue
            best = max(scores.values())
            for rowid, score in scores.items():
                value = WEIGHTS[name] * score / best
                fused[rowid] = fused.get(rowid, 0.0) + value
                parts.setdefault(rowid, {})[name] = score
        if fused and "부칙" not in query.replace(" ", ""):
            for rowid in self.storage.supplementary(list(fused)):
                fused[rowid] *= SUPPLEMENTARY_WEIGHT
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return self._hits(ranked, parts, k, document, filters or {})

    def _dense(self, kb: KnowledgeBase, query: str) -> dict[int, float]:
        """Cosine similarity to the query, rescaled to 0..1 over the candidates (raw cosines
        crowd together, so dividing by the best would make every candidate look perfect).
        The engine ranks the vectors when it can (pgvector); else they are ranked here."""
        assert kb.embedder is not None
        vector = self.embedder(kb.embedder).embed_query(query)
        sims = self.storage.nearest(kb.id, vector, CANDIDATES)
        if sims is None:
            ids, matrix = self._matrix(kb)
            if not len(ids):
                return {}
            scores = matrix @ vector
            sims = {int(ids[i]): float(scores[i]) for i in np.argsort(-scores)[:CANDIDATES]}
        if not sims:
            return {}
        best, worst = max(sims.values()), min(sims.values())
        span = (best - worst) or 1.0
        return {cid: (sim - worst) / span + 1e-6 for cid, sim in sims.items()}

    def _matrix(self, kb: KnowledgeBase) -> tuple[np.ndarray, np.ndarray]:
        """The knowledge base's vectors, kept in memory until its version stamp moves (another
        replica's ingest moves it too)."""
        version = self.storage.vector_version(kb.id)
        with self._lock:
            cached = self._matrices.get(kb.id)
            if cached is None or cached[0] != version:
                ids, matrix = self.storage.load_vectors(kb.id)
                cached = (version, ids, matrix)
                self._matrices[kb.id] = cached
        return cached[1], cached[2]

    def _hits(self, ranked: list[tuple[int, float]], parts: dict[int, dict[str, float]], k: int,
              document: str | None, filters: dict[str, Any]) -> list[Hit]:
        hits: list[Hit] = []
        for start in range(0, len(ranked), 4 * k):  # usually one round
            part = ranked[start:start + 4 * k]
            rows = self.storage.sources([rowid for rowid, _ in part])
            for rowid, score in part:
                row = rows.get(rowid)
                if row is None or (document and document not in (row[6], Path(row[6]).name)):
                    continue
                text, begin, end, page, article, heading, path, title, fmt, keywords = row
                source: dict[str, Any] = {"path": path, "title": title, "format": fmt,
                                          "start": begin, "end": end}
                if page is not None:
                    source["page"] = page
                if article:
                    source["article"] = article
                if heading:
                    source["heading"] = heading
                if not _matches(source, filters):
                    continue
                hits.append(Hit(text, score, source, rowid, parts.get(rowid, {}), keywords))
                if len(hits) >= k:
                    return hits
        return hits


def passage_key(text: str) -> bytes:
    """A precomputed vector's key: SHA-256 of the exact text embedded (`_index_text`)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _index_text(chunk: Chunk) -> str:
    """What gets tokenised: the heading path (a chapter title helps), the chunk text and its
    keywords."""
    return passage_text(chunk.heading, chunk.text, chunk.keywords)


def passage_text(heading: Sequence[str], text: str, keywords: str = "") -> str:
    """A chunk's text as indexed and embedded: its heading path, a newline, its text, and its
    keywords (`Chunk.keywords`) on a last line."""
    text = (" ".join(heading) + "\n" + text) if heading else text
    return text + "\n" + keywords if keywords else text


def _matches(source: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Every key matches; a list of values matches when any of them does."""
    for key, wanted in filters.items():
        value = str(source.get(key) or "")
        options = [wanted] if isinstance(wanted, str) else list(wanted)
        if not any((w in value) if key == "heading" else (value == w) for w in options):
            return False
    return True
