"""The knowledge index on PostgreSQL, shared by every replica that uses the same store.

**Lexical search.** The analyser's tokens (the same Kiwi morphemes and character bigrams the
SQLite index keeps in FTS5) are split the way FTS5's `unicode61` tokenizer splits them and
stored one row per (knowledge base, kind, term, chunk) in `kb_terms`, with the term's count in
the chunk and the chunk's length. A search computes FTS5's own BM25 in SQL (k1 = 1.2,
b = 0.75, idf = ln((N − df + 0.5) / (df + 0.5)), floored at 1e-6) from those rows and the
totals kept on the knowledge base's row, so both engines hand the same candidates with the
same scores to the one fusion in index.py. We chose this over PostgreSQL's full-text search
(`ts_rank`, or `rum`'s distance) because those rank differently from BM25 and the fusion's
weights were measured on BM25; and over pg_trgm because the tokens are analysed already.
A query token that `unicode61` splits in pieces ("알렉산더 헤이그", "3.5") is a phrase for FTS5;
here it is a phrase term stored for each such token of a chunk (`index_terms`). One difference
remains: FTS5 also finds that phrase where the pieces come from two adjacent tokens.

**Dense vectors.** Stored in `kb_vectors` (float32 bytes). Where the server has the pgvector
extension, a copy goes into a `vector` column and PostgreSQL ranks them (`<=>`, exact); without
it — Debian 12 ships no pgvector — each replica ranks them in memory, in a matrix per knowledge
base that it reloads when the knowledge base's version stamp moves (one small query per search).
`vectors="auto"` (the default) uses pgvector when it is installed or can be created.

Connections come from a small psycopg pool; every call is synchronous, for worker threads
(the gateway calls the index through `asyncio.to_thread`), never the event loop.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from jaju.errors import ConfigError, InvalidRequest, ServiceUnavailable
from jaju.knowledge.chunking import SUPPLEMENTARY_PREFIX, Chunk
from jaju.knowledge.storage import DOC_COLUMNS, KB_COLUMNS, KnowledgeStorage, as_matrix
from jaju.store.migrations import KNOWLEDGE, migrate_postgres
from jaju.store.postgres import hide_password, scrub

log = logging.getLogger("jaju")
K1, B = 1.2, 0.75
"""FTS5's BM25 parameters (sqlite3 ext/fts5/fts5_aux.c)."""
MAX_TERM = 200
"""Longer terms are cut (a B-tree key must stay small); no word is this long."""
PIECES = re.compile(r"[^\W_]+")
"""Runs of letters and digits: FTS5's unicode61 token characters (remove_diacritics 0)."""
POOL_WAIT = 10.0
"""Seconds a call waits for a connection while the server is unreachable, then fails (503)."""
Vectors = Literal["auto", "pgvector", "gateway"]


def _pieces(token: str) -> list[str]:
    return [p[:MAX_TERM] for p in PIECES.findall(token.lower())]


def index_terms(tokens: list[str]) -> tuple[list[str], int]:
    """The terms FTS5 would index for these tokens (repeats kept), and the chunk's length in
    FTS5's count. A token that splits in pieces ("알렉산더 헤이그", a name Kiwi keeps whole)
    also gives its runs of pieces as phrase terms (up to four pieces, and the whole), which
    count for its phrase but not for the length: a query for that token is a phrase for FTS5."""
    out: list[str] = []
    length = 0
    for token in tokens:
        pieces = _pieces(token)
        length += len(pieces)
        out += pieces
        for n in range(2, min(len(pieces), 4) + 1):
            out += [" ".join(pieces[i:i + n])[:MAX_TERM] for i in range(len(pieces) - n + 1)]
        if len(pieces) > 4:
            out.append(" ".join(pieces)[:MAX_TERM])
    return out, length


def query_terms(tokens: list[str]) -> list[str]:
    """Distinct terms of a query: a token in pieces looks for its phrase term."""
    found = (" ".join(_pieces(t))[:MAX_TERM] for t in tokens)
    return list(dict.fromkeys(t for t in found if t))


def _literal(vector: np.ndarray) -> str:
    """A pgvector text literal."""
    return "[" + ",".join(f"{x:.7g}" for x in vector.astype(np.float32)) + "]"


class PostgresKnowledge(KnowledgeStorage):
    name = "postgresql"

    def __init__(self, url: str, *, vectors: Vectors = "auto", pool_size: int = 4) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = hide_password(url)
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                migrate_postgres(conn, KNOWLEDGE)
                self.pgvector_column = self._prepare_pgvector(conn, vectors)
        except psycopg.Error as e:
            raise ConfigError(f"지식 베이스 저장소에 연결할 수 없습니다 / cannot open the knowledge "
                              f"index at {self.url}: {scrub(str(e).strip(), url)}") from e
        self.pgvector = self.pgvector_column and vectors != "gateway"
        """Rank vectors with pgvector (else in the gateway, over `load_vectors`)."""
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                    check=ConnectionPool.check_connection,
                                    kwargs={"connect_timeout": 5}, name="jaju-knowledge")

    @staticmethod
    def _prepare_pgvector(conn: Any, vectors: Vectors) -> bool:
        """Whether `kb_vectors` has a pgvector column (added now when the extension can be)."""
        import psycopg

        if vectors == "gateway" and not _has_extension(conn):
            return False
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(4242001)")
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute("ALTER TABLE kb_vectors ADD COLUMN IF NOT EXISTS embedding vector")
        except psycopg.Error as e:
            if vectors == "pgvector":
                raise ConfigError(f"pgvector를 쓸 수 없습니다 / pgvector is not available on "
                                  f"this server: {str(e).strip()}") from e
            log.info("knowledge: no pgvector (%s); vectors are ranked in the gateway",
                     str(e).strip().splitlines()[0])
            return False
        for chunk_id, blob in conn.execute(  # vectors stored before pgvector came
                "SELECT chunk_id, vec FROM kb_vectors WHERE embedding IS NULL").fetchall():
            conn.execute("UPDATE kb_vectors SET embedding=%s::vector WHERE chunk_id=%s",
                         (_literal(np.frombuffer(blob, dtype=np.float32)), chunk_id))
        conn.commit()
        return True

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A connection in a transaction, committed at the end (rolled back on an error). An
        unreachable server is a 503 (`store_unavailable`); the pool reconnects by itself."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection(timeout=POOL_WAIT) as conn:
                yield conn
        except (psycopg.DataError, psycopg.errors.ProgramLimitExceeded) as e:
            # a value PostgreSQL cannot hold (NUL in text, an index row too long): the input's
            # fault, a 400 — not the server's (ProgramLimitExceeded is an OperationalError)
            raise InvalidRequest(f"저장할 수 없는 값입니다 / the knowledge index cannot store "
                                 f"this value: {str(e).strip().splitlines()[0]}",
                                 code="unstorable_value") from e
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise ServiceUnavailable(f"지식 베이스 저장소에 연결할 수 없습니다 / the knowledge index "
                                     f"is unavailable ({type(e).__name__})",
                                     code="store_unavailable") from e

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any] | dict[str, Any] = ()
             ) -> list[tuple[Any, ...]]:
        with self._tx() as conn:
            return list(conn.execute(sql, args).fetchall())

    # --- knowledge bases ----------------------------------------------------------------------

    def create_kb(self, tenant: str, name: str, description: str, synonyms: str) -> int:
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO kb (tenant, name, description, synonyms, created_at) "
                "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (tenant, name) DO NOTHING RETURNING id",
                (tenant, name, description, synonyms, time.time())).fetchone()
            if row is None:  # another replica made it a moment ago
                row = conn.execute("SELECT id FROM kb WHERE tenant=%s AND name=%s",
                                   (tenant, name)).fetchone()
        return int(row[0])

    def find_kb(self, tenant: str, name: str) -> tuple[Any, ...] | None:
        rows = self._all(f"SELECT {KB_COLUMNS} FROM kb WHERE name=%s AND tenant=%s",
                         (name, tenant))
        return rows[0] if rows else None

    def list_kbs(self, tenant: str | None, shared: str) -> list[tuple[Any, ...]]:
        sql, args = f"SELECT {KB_COLUMNS} FROM kb", tuple[str, ...]()
        if tenant is not None:
            sql, args = sql + " WHERE tenant IN (%s, %s)", (tenant, shared)
        return self._all(sql + " ORDER BY tenant, name", args)

    def set_synonyms(self, kb_id: int, synonyms: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE kb SET synonyms=%s WHERE id=%s", (synonyms, kb_id))

    def set_embedder(self, kb_id: int, spec: str | None, drop_vectors: bool) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE kb SET embedder=%s, version=version+1 WHERE id=%s",
                         (spec, kb_id))
            if drop_vectors:
                conn.execute("DELETE FROM kb_vectors WHERE kb_id=%s", (kb_id,))

    def delete_kb(self, kb_id: int) -> None:
        with self._tx() as conn:
            for table in ("kb_terms", "kb_vectors", "kb_chunks", "kb_documents"):
                conn.execute(f"DELETE FROM {table} WHERE kb_id=%s", (kb_id,))
            conn.execute("DELETE FROM kb WHERE id=%s", (kb_id,))

    def stats(self, kb_id: int) -> tuple[int, int, int]:
        docs, chars, chunks = self._all(
            "SELECT COUNT(*), COALESCE(SUM(chars), 0), COALESCE(SUM(chunks), 0) "
            "FROM kb_documents WHERE kb_id=%s", (kb_id,))[0]
        return int(docs), int(chars), int(chunks)

    # --- documents ------------------------------------------------------------------------------

    def documents(self, kb_id: int) -> list[tuple[Any, ...]]:
        return self._all(f"SELECT {DOC_COLUMNS} FROM kb_documents WHERE kb_id=%s ORDER BY path",
                         (kb_id,))

    def chunks(self, kb_id: int, doc_id: int) -> list[tuple[Any, ...]]:
        return self._all('SELECT id, seq, text, start, "end", page, article, heading, keywords '
                         "FROM kb_chunks WHERE kb_id=%s AND doc_id=%s ORDER BY seq",
                         (kb_id, doc_id))

    def document_hash(self, kb_id: int, path: str) -> str | None:
        rows = self._all("SELECT sha256 FROM kb_documents WHERE kb_id=%s AND path=%s",
                         (kb_id, path))
        return rows[0][0] if rows else None

    def remove_document(self, kb_id: int, path: str) -> bool:
        with self._tx() as conn:
            self._lock_kb(conn, kb_id)
            return self._remove(conn, kb_id, path)

    @staticmethod
    def _lock_kb(conn: Any, kb_id: int) -> None:
        """Writers to one knowledge base take turns (its totals are read-modify-write)."""
        conn.execute("SELECT id FROM kb WHERE id=%s FOR UPDATE", (kb_id,))

    def _remove(self, conn: Any, kb_id: int, path: str) -> bool:
        row = conn.execute("SELECT id FROM kb_documents WHERE kb_id=%s AND path=%s",
                           (kb_id, path)).fetchone()
        if row is None:
            return False
        n, morph, gram = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(morph_len), 0), COALESCE(SUM(gram_len), 0) "
            "FROM kb_chunks WHERE doc_id=%s", (row[0],)).fetchone()
        ids = "(SELECT id FROM kb_chunks WHERE doc_id=%s)"
        conn.execute(f"DELETE FROM kb_terms WHERE chunk_id IN {ids}", (row[0],))
        conn.execute(f"DELETE FROM kb_vectors WHERE chunk_id IN {ids}", (row[0],))
        conn.execute("DELETE FROM kb_chunks WHERE doc_id=%s", (row[0],))
        conn.execute("DELETE FROM kb_documents WHERE id=%s", (row[0],))
        conn.execute("UPDATE kb SET n_chunks=n_chunks-%s, morph_tokens=morph_tokens-%s, "
                     "gram_tokens=gram_tokens-%s, version=version+1 WHERE id=%s",
                     (n, morph, gram, kb_id))
        return True

    def add_document(self, kb_id: int, doc: dict[str, Any], chunks: list[Chunk],
                     morphs: list[list[str]], grams: list[list[str]],
                     vectors: np.ndarray | None) -> int:
        indexed = [(index_terms(m), index_terms(g)) for m, g in zip(morphs, grams, strict=True)]
        with self._tx() as conn:
            self._lock_kb(conn, kb_id)
            self._remove(conn, kb_id, doc["path"])
            doc_id = conn.execute(
                "INSERT INTO kb_documents (kb_id, path, sha256, title, format, chars, chunks, "
                "meta, ingested_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (kb_id, doc["path"], doc["sha256"], doc["title"], doc["format"], doc["chars"],
                 len(chunks), doc["meta"], time.time())).fetchone()[0]
            ids = [r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('kb_chunks', 'id')) "
                "FROM generate_series(1, %s)", (len(chunks),)).fetchall()]
            with conn.cursor() as cur:
                cur.executemany(
                    'INSERT INTO kb_chunks (id, kb_id, doc_id, seq, text, start, "end", page, '
                    "article, heading, keywords, morph_len, gram_len) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    [(cid, kb_id, doc_id, seq, c.text, c.start, c.end, c.page, c.article,
                      " > ".join(c.heading), c.keywords, m[1], g[1])
                     for seq, (cid, c, (m, g)) in enumerate(zip(ids, chunks, indexed,
                                                                strict=True))])
                with cur.copy("COPY kb_terms (kb_id, kind, term, chunk_id, tf, dl) "
                              "FROM STDIN") as copy:
                    for cid, (m, g) in zip(ids, indexed, strict=True):
                        for kind, (found, length) in (("morph", m), ("gram", g)):
                            for term, tf in Counter(found).items():
                                copy.write_row((kb_id, kind, term, cid, tf, length))
            if vectors is not None:
                self._insert_vectors(conn, kb_id, list(zip(ids, vectors, strict=True)))
            conn.execute("UPDATE kb SET n_chunks=n_chunks+%s, morph_tokens=morph_tokens+%s, "
                         "gram_tokens=gram_tokens+%s, version=version+1 WHERE id=%s",
                         (len(chunks), sum(m[1] for m, _ in indexed),
                          sum(g[1] for _, g in indexed), kb_id))
        return int(doc_id)

    # --- search ---------------------------------------------------------------------------------

    LEXICAL_SQL = """
        WITH p AS MATERIALIZED (
            SELECT q.term, k.chunk_id, k.tf, k.dl FROM unnest(%(terms)s::text[]) AS q(term),
                LATERAL (SELECT chunk_id, tf, dl FROM kb_terms
                         WHERE kb_id = %(kb)s AND kind = %(kind)s AND term = q.term
                         OFFSET 0) k),
        totals AS (
            SELECT n_chunks::float8 AS n,
                   (CASE WHEN %(kind)s = 'morph' THEN morph_tokens ELSE gram_tokens END)::float8
                   / GREATEST(n_chunks, 1) AS avgdl
            FROM kb WHERE id = %(kb)s),
        idf AS (
            SELECT df.term, CASE WHEN x.v <= 0 THEN 1e-6 ELSE x.v END AS idf
            FROM (SELECT term, COUNT(*)::float8 AS df FROM p GROUP BY term) df, totals,
                 LATERAL (SELECT ln((totals.n - df.df + 0.5) / (df.df + 0.5)) AS v) x)
        SELECT p.chunk_id,
               SUM(idf.idf * p.tf * (%(k1)s + 1)
                   / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.dl / NULLIF(totals.avgdl, 0))))
                   AS score
        FROM p JOIN idf ON idf.term = p.term, totals
        GROUP BY p.chunk_id
        ORDER BY score DESC, p.chunk_id
        LIMIT %(limit)s
    """
    """FTS5's BM25 over the postings of the query's terms: one index range scan per term
    (`OFFSET 0` keeps the planner from merging the lookups into one scan of the whole
    knowledge base, which it would do while the table's statistics are still those of an
    empty table, i.e. right after a large ingest)."""

    def lexical(self, kb_id: int, kind: str, tokens: list[str], limit: int) -> dict[int, float]:
        wanted = query_terms(tokens)
        if not wanted:
            return {}
        rows = self._all(self.LEXICAL_SQL, {"terms": wanted, "kind": kind, "kb": kb_id,
                                            "k1": K1, "b": B, "limit": int(limit)})
        return {int(r[0]): float(r[1]) for r in rows if r[1] is not None and r[1] > 0}

    def supplementary(self, ids: list[int]) -> set[int]:
        rows = self._all("SELECT id FROM kb_chunks WHERE id = ANY(%s) "
                         "AND (heading LIKE %s OR article LIKE %s)",
                         (ids, "%부칙%", SUPPLEMENTARY_PREFIX + "%"))
        return {int(r[0]) for r in rows}

    def sources(self, ids: list[int]) -> dict[int, tuple[Any, ...]]:
        rows = self._all('SELECT c.id, c.text, c.start, c."end", c.page, c.article, c.heading, '
                         "d.path, d.title, d.format, c.keywords FROM kb_chunks c "
                         "JOIN kb_documents d "
                         "ON d.id = c.doc_id WHERE c.id = ANY(%s)", (ids,))
        return {int(r[0]): tuple(r[1:]) for r in rows}

    # --- vectors --------------------------------------------------------------------------------

    def unembedded(self, kb_id: int) -> list[tuple[int, str, str, str]]:
        return [(int(r[0]), r[1], r[2], r[3]) for r in self._all(
            "SELECT c.id, c.text, c.heading, c.keywords FROM kb_chunks c "
            "LEFT JOIN kb_vectors v ON v.chunk_id = c.id "
            "WHERE c.kb_id=%s AND v.chunk_id IS NULL ORDER BY c.id",
            (kb_id,))]

    def put_vectors(self, kb_id: int, items: list[tuple[int, np.ndarray]]) -> None:
        with self._tx() as conn:
            self._insert_vectors(conn, kb_id, items)
            conn.execute("UPDATE kb SET version=version+1 WHERE id=%s", (kb_id,))

    def _insert_vectors(self, conn: Any, kb_id: int, items: list[tuple[int, np.ndarray]]) -> None:
        with conn.cursor() as cur:
            if self.pgvector_column:
                cur.executemany(
                    "INSERT INTO kb_vectors (chunk_id, kb_id, vec, embedding) "
                    "VALUES (%s,%s,%s,%s::vector) ON CONFLICT (chunk_id) DO UPDATE "
                    "SET vec=excluded.vec, embedding=excluded.embedding",
                    [(cid, kb_id, v.astype(np.float32).tobytes(), _literal(v))
                     for cid, v in items])
            else:
                cur.executemany(
                    "INSERT INTO kb_vectors (chunk_id, kb_id, vec) VALUES (%s,%s,%s) "
                    "ON CONFLICT (chunk_id) DO UPDATE SET vec=excluded.vec",
                    [(cid, kb_id, v.astype(np.float32).tobytes()) for cid, v in items])

    def vector_version(self, kb_id: int) -> Hashable:
        rows = self._all("SELECT version FROM kb WHERE id=%s", (kb_id,))
        return int(rows[0][0]) if rows else -1

    def load_vectors(self, kb_id: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._all("SELECT chunk_id, vec FROM kb_vectors WHERE kb_id=%s ORDER BY chunk_id",
                         (kb_id,))
        return (np.array([r[0] for r in rows], dtype=np.int64),
                as_matrix([bytes(r[1]) for r in rows]))

    def nearest(self, kb_id: int, vector: np.ndarray, n: int) -> dict[int, float] | None:
        if not self.pgvector:
            return None
        literal = _literal(vector)
        rows = self._all("SELECT chunk_id, 1 - (embedding <=> %s::vector) FROM kb_vectors "
                         "WHERE kb_id=%s AND embedding IS NOT NULL "
                         "ORDER BY embedding <=> %s::vector, chunk_id LIMIT %s",
                         (literal, kb_id, literal, int(n)))
        return {int(r[0]): float(r[1]) for r in rows}


def _has_extension(conn: Any) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname='vector'").fetchone()
    conn.commit()
    return row is not None
