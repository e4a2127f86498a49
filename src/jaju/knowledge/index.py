"""The knowledge index in SQLite: knowledge bases, documents, chunks, and two FTS5 indexes per
knowledge base over pre-tokenised text (Kiwi content morphemes; character bigrams).

Search fuses the two lexical signals: each list's BM25 scores are divided by that list's best
score, then weighted and summed, so a signal that finds nothing adds nothing and a weak
signal cannot outvote a strong one. A knowledge base belongs to a tenant; one owned by
`SHARED_TENANT` can be read by every tenant. Every document is written in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jaju.errors import InvalidRequest, NotFound
from jaju.knowledge import synonyms
from jaju.knowledge.chunking import SUPPLEMENTARY_PREFIX, Chunk
from jaju.knowledge.embed import Embedder, make_embedder
from jaju.korean.analyzer import Analyzer, bigrams
from jaju.store.migrations import KNOWLEDGE, migrate

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


def fts_query(tokens: list[str]) -> str | None:
    """An FTS5 OR-query of distinct quoted tokens, or None when there is nothing to look for."""
    distinct = list(dict.fromkeys(t for t in tokens if t.strip()))
    if not distinct:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in distinct)


class KnowledgeIndex:
    def __init__(self, db_path: Path, analyzer: Analyzer | None = None) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._analyzer = analyzer
        self._embedders: dict[str, Embedder] = {}
        self._matrices: dict[int, tuple[tuple[int, int], np.ndarray, np.ndarray]] = {}
        with self._lock:
            migrate(self._db, KNOWLEDGE)

    @property
    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            self._analyzer = Analyzer()
        return self._analyzer

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

    # --- knowledge bases ----------------------------------------------------------------------

    def create(self, tenant: str, name: str, description: str = "",
               synonyms: dict[str, list[str]] | None = None) -> KnowledgeBase:
        kb = self.find(tenant, name)
        if kb is not None:
            return kb
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO kb (tenant, name, description, synonyms, created_at) "
                "VALUES (?,?,?,?,?)",
                (tenant, name, description, json.dumps(synonyms or {}, ensure_ascii=False),
                 time.time()))
            kb_id = int(cur.lastrowid or 0)
            for kind in ("morph", "gram"):
                db.execute(f"CREATE VIRTUAL TABLE kb_{kb_id}_{kind} USING fts5(tokens, "
                           "tokenize='unicode61 remove_diacritics 0')")
        return KnowledgeBase(kb_id, tenant, name, description, synonyms or {})

    def set_synonyms(self, kb: KnowledgeBase, synonyms: dict[str, list[str]]) -> KnowledgeBase:
        with self._tx() as db:
            db.execute("UPDATE kb SET synonyms=? WHERE id=?",
                       (json.dumps(synonyms, ensure_ascii=False), kb.id))
        return KnowledgeBase(kb.id, kb.tenant, kb.name, kb.description, synonyms, kb.embedder)

    def set_embedder(self, kb: KnowledgeBase, spec: str | None) -> KnowledgeBase:
        """Use this embedder for the dense signal; chunks already in are embedded now."""
        if spec:
            self.embedder(spec)  # fail early on a bad spec
        with self._tx() as db:
            db.execute("UPDATE kb SET embedder=? WHERE id=?", (spec, kb.id))
            if spec != kb.embedder:
                db.execute("DELETE FROM kb_vectors WHERE kb_id=?", (kb.id,))
        kb = KnowledgeBase(kb.id, kb.tenant, kb.name, kb.description, kb.synonyms, spec)
        if spec:
            with self._lock:
                rows = self._db.execute(
                    "SELECT c.id, c.text, c.heading FROM kb_chunks c LEFT JOIN kb_vectors v "
                    "ON v.chunk_id = c.id WHERE c.kb_id=? AND v.chunk_id IS NULL",
                    (kb.id,)).fetchall()
            for start in range(0, len(rows), 256):
                part = rows[start:start + 256]
                vectors = self.embedder(spec).embed_passages(
                    [(h + "\n" + t) if h else t for _, t, h in part])
                with self._tx() as db:
                    db.executemany("INSERT OR REPLACE INTO kb_vectors VALUES (?,?,?)",
                                   [(cid, kb.id, v.tobytes())
                                    for (cid, _, _), v in zip(part, vectors, strict=True)])
        return kb

    def embedder(self, spec: str) -> Embedder:
        if spec not in self._embedders:
            self._embedders[spec] = make_embedder(spec)
        return self._embedders[spec]

    def embed_chunks(self, kb: KnowledgeBase, chunks: list[Chunk]) -> np.ndarray | None:
        if not kb.embedder or not chunks:
            return None
        return self.embedder(kb.embedder).embed_passages([_index_text(c) for c in chunks])

    def _row(self, row: tuple[Any, ...]) -> KnowledgeBase:
        return KnowledgeBase(row[0], row[1], row[2], row[3], json.loads(row[4] or "{}"), row[5])

    def find(self, tenant: str, name: str) -> KnowledgeBase | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, tenant, name, description, synonyms, embedder FROM kb "
                "WHERE name=? AND tenant=?", (name, tenant)).fetchone()
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
        sql = "SELECT id, tenant, name, description, synonyms, embedder FROM kb"
        args: tuple[Any, ...] = ()
        if tenant is not None:
            sql += " WHERE tenant IN (?, ?)"
            args = (tenant, SHARED_TENANT)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY tenant, name", args).fetchall()
        return [self._row(r) for r in rows]

    def delete(self, kb: KnowledgeBase) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM kb_vectors WHERE kb_id=?", (kb.id,))
            db.execute("DELETE FROM kb_chunks WHERE kb_id=?", (kb.id,))
            db.execute("DELETE FROM kb_documents WHERE kb_id=?", (kb.id,))
            db.execute("DELETE FROM kb WHERE id=?", (kb.id,))
            for kind in ("morph", "gram"):
                db.execute(f"DROP TABLE IF EXISTS kb_{kb.id}_{kind}")

    def stats(self, kb: KnowledgeBase) -> dict[str, int]:
        with self._lock:
            docs, chars, chunks = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(chars), 0), COALESCE(SUM(chunks), 0) "
                "FROM kb_documents WHERE kb_id=?", (kb.id,)).fetchone()
        return {"documents": docs, "characters": chars, "chunks": chunks}

    # --- documents ------------------------------------------------------------------------------

    def documents(self, kb: KnowledgeBase) -> list[DocumentInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, path, title, format, chars, chunks, sha256, ingested_at, meta "
                "FROM kb_documents WHERE kb_id=? ORDER BY path", (kb.id,)).fetchall()
        return [DocumentInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]))
                for r in rows]

    def chunks(self, kb: KnowledgeBase, doc_id: int) -> list[dict[str, Any]]:
        """One document's chunks in order (empty when the document is not in `kb`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, text, start, end, page, article, heading FROM kb_chunks "
                "WHERE kb_id=? AND doc_id=? ORDER BY seq", (kb.id, doc_id)).fetchall()
        keys = ("id", "seq", "text", "start", "end", "page", "article", "heading")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def document_hash(self, kb: KnowledgeBase, path: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT sha256 FROM kb_documents WHERE kb_id=? AND path=?",
                                   (kb.id, path)).fetchone()
        return row[0] if row else None

    def remove_document(self, kb: KnowledgeBase, path: str) -> bool:
        with self._tx() as db:
            return self._remove(db, kb, path)

    def _remove(self, db: sqlite3.Connection, kb: KnowledgeBase, path: str) -> bool:
        row = db.execute("SELECT id FROM kb_documents WHERE kb_id=? AND path=?",
                         (kb.id, path)).fetchone()
        if row is None:
            return False
        ids = [r[0] for r in db.execute("SELECT id FROM kb_chunks WHERE doc_id=?", (row[0],))]
        for kind in ("morph", "gram"):
            db.executemany(f"DELETE FROM kb_{kb.id}_{kind} WHERE rowid=?", [(i,) for i in ids])
        db.executemany("DELETE FROM kb_vectors WHERE chunk_id=?", [(i,) for i in ids])
        db.execute("DELETE FROM kb_chunks WHERE doc_id=?", (row[0],))
        db.execute("DELETE FROM kb_documents WHERE id=?", (row[0],))
        return True

    def analyze(self, chunks: list[Chunk]) -> list[list[str]]:
        """Content morphemes of each chunk as indexed (one Kiwi batch for all of them)."""
        return self.analyzer.morphemes_many([_index_text(c) for c in chunks])

    def add_document(self, kb: KnowledgeBase, *, path: str, sha256: str, title: str | None,
                     fmt: str, chars: int, chunks: list[Chunk],
                     meta: dict[str, Any] | None = None,
                     morphemes: list[list[str]] | None = None,
                     vectors: np.ndarray | None = None) -> int:
        """Replace the document at `path` with these chunks, in one transaction."""
        texts = [_index_text(c) for c in chunks]
        morphs = morphemes if morphemes is not None else self.analyzer.morphemes_many(texts)
        grams = [bigrams(t) for t in texts]
        if vectors is None and kb.embedder:
            vectors = self.embed_chunks(kb, chunks)
        with self._tx() as db:
            self._remove(db, kb, path)
            cur = db.execute(
                "INSERT INTO kb_documents (kb_id, path, sha256, title, format, chars, chunks, "
                "meta, ingested_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (kb.id, path, sha256, title, fmt, chars, len(chunks),
                 json.dumps(meta or {}, ensure_ascii=False), time.time()))
            doc_id = int(cur.lastrowid or 0)
            for seq, (chunk, morph, gram) in enumerate(zip(chunks, morphs, grams, strict=True)):
                cur = db.execute(
                    "INSERT INTO kb_chunks (kb_id, doc_id, seq, text, start, end, page, "
                    "article, heading) VALUES (?,?,?,?,?,?,?,?,?)",
                    (kb.id, doc_id, seq, chunk.text, chunk.start, chunk.end, chunk.page,
                     chunk.article, " > ".join(chunk.heading)))
                rowid = cur.lastrowid
                db.execute(f"INSERT INTO kb_{kb.id}_morph (rowid, tokens) VALUES (?, ?)",
                           (rowid, " ".join(morph)))
                db.execute(f"INSERT INTO kb_{kb.id}_gram (rowid, tokens) VALUES (?, ?)",
                           (rowid, " ".join(gram)))
                if vectors is not None:
                    db.execute("INSERT INTO kb_vectors VALUES (?,?,?)",
                               (rowid, kb.id, vectors[seq].astype(np.float32).tobytes()))
        return doc_id

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
            found["morph"] = self._bm25(kb, "morph", fts_query(morph))
        if "gram" in signals:  # the formal terms too, or this signal would see only the
            # everyday words and pull towards the wrong articles
            found["gram"] = self._bm25(kb, "gram", fts_query(bigrams(f"{query} {expanded}")))
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
            with self._lock:  # 부칙 chunks: under a 부칙 heading, or labelled "부칙 제N조"
                marks = ",".join("?" * len(fused))
                for rowid, in self._db.execute(
                        f"SELECT id FROM kb_chunks WHERE id IN ({marks}) "
                        "AND (heading LIKE ? OR article LIKE ?)",
                        [*fused, "%부칙%", SUPPLEMENTARY_PREFIX + "%"]):
                    fused[rowid] *= SUPPLEMENTARY_WEIGHT
        ranked = sorted(fused.items(), key=lambda item: -item[1])
        return self._hits(kb, ranked, parts, k, document, filters or {})

    def _dense(self, kb: KnowledgeBase, query: str) -> dict[int, float]:
        """Cosine similarity to the query, rescaled to 0..1 over the candidates (raw cosines
        crowd together, so dividing by the best would make every candidate look perfect)."""
        assert kb.embedder is not None
        ids, matrix = self._matrix(kb)
        if not len(ids):
            return {}
        sims = matrix @ self.embedder(kb.embedder).embed_query(query)
        top = np.argsort(-sims)[:CANDIDATES]
        best, worst = float(sims[top[0]]), float(sims[top[-1]])
        span = (best - worst) or 1.0
        return {int(ids[i]): (float(sims[i]) - worst) / span + 1e-6 for i in top}

    def _matrix(self, kb: KnowledgeBase) -> tuple[np.ndarray, np.ndarray]:
        """The knowledge base's vectors, cached until its chunks change."""
        with self._lock:
            version = self._db.execute("SELECT COUNT(*), COALESCE(MAX(chunk_id), 0) FROM "
                                       "kb_vectors WHERE kb_id=?", (kb.id,)).fetchone()
            cached = self._matrices.get(kb.id)
            if cached is None or cached[0] != tuple(version):
                rows = self._db.execute("SELECT chunk_id, vec FROM kb_vectors WHERE kb_id=? "
                                        "ORDER BY chunk_id", (kb.id,)).fetchall()
                ids = np.array([r[0] for r in rows], dtype=np.int64)
                matrix = (np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
                          if rows else np.zeros((0, 1), dtype=np.float32))
                cached = (tuple(version), ids, matrix)
                self._matrices[kb.id] = cached
        return cached[1], cached[2]

    def _bm25(self, kb: KnowledgeBase, kind: str, query: str | None) -> dict[int, float]:
        if query is None:
            return {}
        sql = (f"SELECT rowid, -bm25(kb_{kb.id}_{kind}) FROM kb_{kb.id}_{kind} "
               f"WHERE kb_{kb.id}_{kind} MATCH ? ORDER BY rank LIMIT {CANDIDATES}")
        with self._lock:
            try:
                rows = self._db.execute(sql, (query,)).fetchall()
            except sqlite3.OperationalError as e:  # a token FTS5 cannot parse: no results
                if "fts5" in str(e):
                    return {}
                raise
        return {r[0]: float(r[1]) for r in rows if r[1] > 0}

    def _hits(self, kb: KnowledgeBase, ranked: list[tuple[int, float]],
              parts: dict[int, dict[str, float]], k: int, document: str | None,
              filters: dict[str, Any]) -> list[Hit]:
        hits: list[Hit] = []
        with self._lock:
            for rowid, score in ranked:
                row = self._db.execute(
                    "SELECT c.text, c.start, c.end, c.page, c.article, c.heading, d.path, "
                    "d.title, d.format FROM kb_chunks c JOIN kb_documents d ON d.id = c.doc_id "
                    "WHERE c.id=?", (rowid,)).fetchone()
                if row is None or (document and document not in (row[6], Path(row[6]).name)):
                    continue
                text, start, end, page, article, heading, path, title, fmt = row
                source: dict[str, Any] = {"path": path, "title": title, "format": fmt,
                                          "start": start, "end": end}
                if page is not None:
                    source["page"] = page
                if article:
                    source["article"] = article
                if heading:
                    source["heading"] = heading
                if not _matches(source, filters):
                    continue
                hits.append(Hit(text, score, source, rowid, parts.get(rowid, {})))
                if len(hits) >= k:
                    break
        return hits


def _index_text(chunk: Chunk) -> str:
    """What gets tokenised: the heading path (a chapter title helps) and the chunk text."""
    return (" ".join(chunk.heading) + "\n" + chunk.text) if chunk.heading else chunk.text


def _matches(source: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Every key matches; a list of values matches when any of them does."""
    for key, wanted in filters.items():
        value = str(source.get(key) or "")
        options = [wanted] if isinstance(wanted, str) else list(wanted)
        if not any((w in value) if key == "heading" else (value == w) for w in options):
            return False
    return True
