"""Where a knowledge index keeps its rows: the interface both engines answer, and SQLite.

`KnowledgeIndex` (index.py) does everything that decides a result — analysing, fusing,
weighting, filtering — once, for both engines. An engine only stores knowledge bases,
documents, chunks and vectors, and answers two questions about a knowledge base:

- `lexical(kb_id, kind, tokens)`: the best chunks for these analyser tokens ("morph" or
  "gram") with their BM25 scores;
- `nearest(kb_id, vector, n)`: the chunks whose vectors are closest, or None when the engine
  cannot rank vectors itself — then the index ranks them in memory over `load_vectors`,
  refreshed whenever `vector_version` changes.

SQLite (`SqliteKnowledge`, below) keeps the tokens in two FTS5 tables per knowledge base;
PostgreSQL (postgres.py) keeps them in one term table and computes FTS5's BM25 in SQL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from jaju.knowledge.chunking import SUPPLEMENTARY_PREFIX, Chunk
from jaju.store.migrations import KNOWLEDGE, migrate

KB_COLUMNS = "id, tenant, name, description, synonyms, embedder"
DOC_COLUMNS = "id, path, title, format, chars, chunks, sha256, ingested_at, meta"
SOURCE_SQL = ('SELECT c.id, c.text, c.start, c."end", c.page, c.article, c.heading, d.path, '
              "d.title, d.format, c.keywords FROM kb_chunks c "
              "JOIN kb_documents d ON d.id = c.doc_id "
              "WHERE c.id IN ({marks})")
"""A chunk with its document's path, title and format, for a hit."""
SUPPLEMENTARY_SQL = ("SELECT id FROM kb_chunks WHERE id IN ({marks}) "
                     "AND (heading LIKE {p} OR article LIKE {p})")
"""Statutes' 부칙 chunks: under a 부칙 heading, or labelled "부칙 제N조"."""


class KnowledgeStorage:
    """What an engine answers (see the module docstring). Rows are plain tuples."""

    name = ""

    def close(self) -> None: ...

    # knowledge bases: (id, tenant, name, description, synonyms JSON, embedder)
    def create_kb(self, tenant: str, name: str, description: str, synonyms: str) -> int:
        raise NotImplementedError

    def find_kb(self, tenant: str, name: str) -> tuple[Any, ...] | None:
        raise NotImplementedError

    def list_kbs(self, tenant: str | None, shared: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def set_synonyms(self, kb_id: int, synonyms: str) -> None:
        raise NotImplementedError

    def set_embedder(self, kb_id: int, spec: str | None, drop_vectors: bool) -> None:
        raise NotImplementedError

    def delete_kb(self, kb_id: int) -> None:
        raise NotImplementedError

    def stats(self, kb_id: int) -> tuple[int, int, int]:
        """(documents, characters, chunks)."""
        raise NotImplementedError

    # documents and chunks
    def documents(self, kb_id: int) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def chunks(self, kb_id: int, doc_id: int) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def document_hash(self, kb_id: int, path: str) -> str | None:
        raise NotImplementedError

    def remove_document(self, kb_id: int, path: str) -> bool:
        raise NotImplementedError

    def add_document(self, kb_id: int, doc: dict[str, Any], chunks: list[Chunk],
                     morphs: list[list[str]], grams: list[list[str]],
                     vectors: np.ndarray | None) -> int:
        """Replace the document at doc["path"], in one transaction; return its id."""
        raise NotImplementedError

    # search
    def lexical(self, kb_id: int, kind: str, tokens: list[str], limit: int) -> dict[int, float]:
        """Chunk id -> BM25 score (> 0) of the best `limit` chunks for `tokens` (OR)."""
        raise NotImplementedError

    def supplementary(self, ids: list[int]) -> set[int]:
        raise NotImplementedError

    def sources(self, ids: list[int]) -> dict[int, tuple[Any, ...]]:
        """Chunk id -> (text, start, end, page, article, heading, path, title, format)."""
        raise NotImplementedError

    # vectors
    def unembedded(self, kb_id: int) -> list[tuple[int, str, str, str]]:
        """(chunk id, text, heading, keywords) of chunks without a vector."""
        raise NotImplementedError

    def put_vectors(self, kb_id: int, items: list[tuple[int, np.ndarray]]) -> None:
        raise NotImplementedError

    def vector_version(self, kb_id: int) -> Hashable:
        """Changes whenever the knowledge base's vectors do (the in-memory matrix's stamp)."""
        raise NotImplementedError

    def load_vectors(self, kb_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, their vectors as rows), in chunk id order."""
        raise NotImplementedError

    def nearest(self, kb_id: int, vector: np.ndarray, n: int) -> dict[int, float] | None:
        """Chunk id -> cosine similarity of the `n` nearest chunks, or None: the index ranks
        the vectors itself (`load_vectors`)."""
        return None


def fts_query(tokens: list[str]) -> str | None:
    """An FTS5 OR-query of distinct quoted tokens, or None when there is nothing to look for."""
    distinct = list(dict.fromkeys(t for t in tokens if t.strip()))
    if not distinct:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in distinct)


def as_matrix(blobs: list[bytes]) -> np.ndarray:
    """float32 rows from stored vectors (an empty 0×1 matrix for none)."""
    if not blobs:
        return np.zeros((0, 1), dtype=np.float32)
    return np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])


class SqliteKnowledge(KnowledgeStorage):
    """One SQLite file (JAJU_HOME/jaju.db by default); two FTS5 tables per knowledge base
    (`kb_N_morph`, `kb_N_gram`) whose rowids are the chunk ids."""

    name = "sqlite"

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        with self._lock:
            migrate(self._db, KNOWLEDGE)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- knowledge bases ----------------------------------------------------------------------

    def create_kb(self, tenant: str, name: str, description: str, synonyms: str) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO kb (tenant, name, description, synonyms, created_at) "
                             "VALUES (?,?,?,?,?)", (tenant, name, description, synonyms,
                                                    time.time()))
            kb_id = int(cur.lastrowid or 0)
            for kind in ("morph", "gram"):
                db.execute(f"CREATE VIRTUAL TABLE kb_{kb_id}_{kind} USING fts5(tokens, "
                           "tokenize='unicode61 remove_diacritics 0')")
        return kb_id

    def find_kb(self, tenant: str, name: str) -> tuple[Any, ...] | None:
        rows = self._all(f"SELECT {KB_COLUMNS} FROM kb WHERE name=? AND tenant=?", (name, tenant))
        return rows[0] if rows else None

    def list_kbs(self, tenant: str | None, shared: str) -> list[tuple[Any, ...]]:
        sql, args = f"SELECT {KB_COLUMNS} FROM kb", tuple[str, ...]()
        if tenant is not None:
            sql, args = sql + " WHERE tenant IN (?, ?)", (tenant, shared)
        return self._all(sql + " ORDER BY tenant, name", args)

    def set_synonyms(self, kb_id: int, synonyms: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE kb SET synonyms=? WHERE id=?", (synonyms, kb_id))

    def set_embedder(self, kb_id: int, spec: str | None, drop_vectors: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE kb SET embedder=? WHERE id=?", (spec, kb_id))
            if drop_vectors:
                db.execute("DELETE FROM kb_vectors WHERE kb_id=?", (kb_id,))

    def delete_kb(self, kb_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM kb_vectors WHERE kb_id=?", (kb_id,))
            db.execute("DELETE FROM kb_chunks WHERE kb_id=?", (kb_id,))
            db.execute("DELETE FROM kb_documents WHERE kb_id=?", (kb_id,))
            db.execute("DELETE FROM kb WHERE id=?", (kb_id,))
            for kind in ("morph", "gram"):
                db.execute(f"DROP TABLE IF EXISTS kb_{kb_id}_{kind}")

    def stats(self, kb_id: int) -> tuple[int, int, int]:
        docs, chars, chunks = self._all(
            "SELECT COUNT(*), COALESCE(SUM(chars), 0), COALESCE(SUM(chunks), 0) "
            "FROM kb_documents WHERE kb_id=?", (kb_id,))[0]
        return docs, chars, chunks

    # --- documents ------------------------------------------------------------------------------

    def documents(self, kb_id: int) -> list[tuple[Any, ...]]:
        return self._all(f"SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id=? ORDER BY path",
                         (kb_id,))

    def chunks(self, kb_id: int, doc_id: int) -> list[tuple[Any, ...]]:
        return self._all('SELECT id, seq, text, start, "end", page, article, heading, keywords '
                         "FROM kb_chunks WHERE kb_id=? AND doc_id=? ORDER BY seq", (kb_id, doc_id))

    def document_hash(self, kb_id: int, path: str) -> str | None:
        rows = self._all("SELECT sha256 FROM kb_documents WHERE kb_id=? AND path=?", (kb_id, path))
        return rows[0][0] if rows else None

    def remove_document(self, kb_id: int, path: str) -> bool:
        with self._tx() as db:
            return self._remove(db, kb_id, path)

    def _remove(self, db: sqlite3.Connection, kb_id: int, path: str) -> bool:
        row = db.execute("SELECT id FROM kb_documents WHERE kb_id=? AND path=?",
                         (kb_id, path)).fetchone()
        if row is None:
            return False
        ids = [r[0] for r in db.execute("SELECT id FROM kb_chunks WHERE doc_id=?", (row[0],))]
        for kind in ("morph", "gram"):
            db.executemany(f"DELETE FROM kb_{kb_id}_{kind} WHERE rowid=?", [(i,) for i in ids])
        db.executemany("DELETE FROM kb_vectors WHERE chunk_id=?", [(i,) for i in ids])
        db.execute("DELETE FROM kb_chunks WHERE doc_id=?", (row[0],))
        db.execute("DELETE FROM kb_documents WHERE id=?", (row[0],))
        return True

    def add_document(self, kb_id: int, doc: dict[str, Any], chunks: list[Chunk],
                     morphs: list[list[str]], grams: list[list[str]],
                     vectors: np.ndarray | None) -> int:
        with self._tx() as db:
            self._remove(db, kb_id, doc["path"])
            cur = db.execute(
                "INSERT INTO kb_documents (kb_id, path, sha256, title, format, chars, chunks, "
                "meta, ingested_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (kb_id, doc["path"], doc["sha256"], doc["title"], doc["format"], doc["chars"],
                 len(chunks), doc["meta"], time.time()))
            doc_id = int(cur.lastrowid or 0)
            for seq, (chunk, morph, gram) in enumerate(zip(chunks, morphs, grams, strict=True)):
                cur = db.execute(
                    'INSERT INTO kb_chunks (kb_id, doc_id, seq, text, start, "end", page, '
                    "article, heading, keywords) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (kb_id, doc_id, seq, chunk.text, chunk.start, chunk.end, chunk.page,
                     chunk.article, " > ".join(chunk.heading), chunk.keywords))
                rowid = cur.lastrowid
                db.execute(f"INSERT INTO kb_{kb_id}_morph (rowid, tokens) VALUES (?, ?)",
                           (rowid, " ".join(morph)))
                db.execute(f"INSERT INTO kb_{kb_id}_gram (rowid, tokens) VALUES (?, ?)",
                           (rowid, " ".join(gram)))
                if vectors is not None:
                    db.execute("INSERT INTO kb_vectors VALUES (?,?,?)",
                               (rowid, kb_id, vectors[seq].astype(np.float32).tobytes()))
        return doc_id

    # --- search ---------------------------------------------------------------------------------

    def lexical(self, kb_id: int, kind: str, tokens: list[str], limit: int) -> dict[int, float]:
        query = fts_query(tokens)
        if query is None:
            return {}
        table = f"kb_{kb_id}_{kind}"
        sql = (f"SELECT rowid, -bm25({table}) FROM {table} WHERE {table} MATCH ? "
               f"ORDER BY rank LIMIT {int(limit)}")
        try:
            rows = self._all(sql, (query,))
        except sqlite3.OperationalError as e:  # a token FTS5 cannot parse: no results;
            # no such table: the knowledge base was deleted during this search (PostgreSQL
            # finds no rows then, so both engines answer "no hits")
            if "fts5" in str(e) or "no such table" in str(e):
                return {}
            raise
        return {r[0]: float(r[1]) for r in rows if r[1] > 0}

    def supplementary(self, ids: list[int]) -> set[int]:
        sql = SUPPLEMENTARY_SQL.format(marks=",".join("?" * len(ids)), p="?")
        return {r[0] for r in self._all(sql, [*ids, "%부칙%", SUPPLEMENTARY_PREFIX + "%"])}

    def sources(self, ids: list[int]) -> dict[int, tuple[Any, ...]]:
        rows = self._all(SOURCE_SQL.format(marks=",".join("?" * len(ids))), ids)
        return {r[0]: tuple(r[1:]) for r in rows}

    # --- vectors --------------------------------------------------------------------------------

    def unembedded(self, kb_id: int) -> list[tuple[int, str, str, str]]:
        return [(int(r[0]), r[1], r[2], r[3]) for r in self._all(
            "SELECT c.id, c.text, c.heading, c.keywords FROM kb_chunks c "
            "LEFT JOIN kb_vectors v ON v.chunk_id = c.id "
            "WHERE c.kb_id=? AND v.chunk_id IS NULL", (kb_id,))]

    def put_vectors(self, kb_id: int, items: list[tuple[int, np.ndarray]]) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO kb_vectors VALUES (?,?,?)",
                           [(cid, kb_id, v.astype(np.float32).tobytes()) for cid, v in items])

    def vector_version(self, kb_id: int) -> Hashable:
        return tuple(self._all("SELECT COUNT(*), COALESCE(MAX(chunk_id), 0) FROM kb_vectors "
                               "WHERE kb_id=?", (kb_id,))[0])

    def load_vectors(self, kb_id: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._all("SELECT chunk_id, vec FROM kb_vectors WHERE kb_id=? ORDER BY chunk_id",
                         (kb_id,))
        return np.array([r[0] for r in rows], dtype=np.int64), as_matrix([r[1] for r in rows])


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
