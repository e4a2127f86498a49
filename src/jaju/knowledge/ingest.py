"""Ingestion: files and folders -> parsed documents -> chunks -> the index.

Each document is one transaction, so a run that is killed midway leaves whole documents only,
and running it again skips what is already in (same content hash) and finishes the rest. A
changed file replaces its old chunks. A file that cannot be read is reported with its reason
and the batch goes on.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaju.guards.pii import detect
from jaju.knowledge.chunking import Chunk, chunk_blocks, document_text
from jaju.knowledge.index import KnowledgeBase, KnowledgeIndex
from jaju.knowledge.parsers.base import ParseError, Parser


@dataclass
class FileResult:
    path: str
    status: str
    """"added", "replaced", "unchanged" or "failed"."""
    chunks: int = 0
    chars: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def chunks(self) -> int:
        return sum(r.chunks for r in self.results)

    @property
    def chars(self) -> int:
        return sum(r.chars for r in self.results)

    @property
    def failures(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files named, and files under folders named (recursively, hidden ones skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            found.append(path)
    return found


@dataclass
class _Prepared:
    path: Path
    key: str
    digest: str
    title: str | None
    format: str
    chars: int
    chunks: list[Chunk]
    replaces: bool
    meta: dict[str, Any]


BATCH_CHARS = 300_000
"""Documents are analysed together (Kiwi is much faster on a batch) up to this many
characters, then written one transaction per document."""


def _prepare(index: KnowledgeIndex, kb: KnowledgeBase, path: Path,
             parsers: dict[str, Parser]) -> _Prepared | FileResult:
    key = str(path.resolve())
    parser = parsers.get(path.suffix.lower())
    if parser is None:
        return FileResult(key, "failed", reason=f"지원하지 않는 형식 / unsupported format "
                                                 f"'{path.suffix or path.name}'")
    try:
        data = path.read_bytes()
    except OSError as e:
        return FileResult(key, "failed", reason=f"읽을 수 없음 / cannot read: {e.strerror}")
    digest = hashlib.sha256(data).hexdigest()
    previous = index.document_hash(kb, key)
    if previous == digest:
        return FileResult(key, "unchanged")
    if not data.strip():
        return FileResult(key, "failed", reason="빈 파일 / empty file")
    try:
        document = parser(path)
    except ParseError as e:
        return FileResult(key, "failed", reason=str(e))
    except Exception as e:  # a parser library choking on a broken file
        return FileResult(key, "failed", reason=f"손상된 파일 / corrupt file: "
                                                 f"{type(e).__name__}: {e}")
    blocks = [b for b in document.blocks if b.text.strip()]
    if not blocks:
        return FileResult(key, "failed", reason="텍스트가 없음 / no text in the document")
    analyzer = index.analyzer

    def split(text: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in analyzer.sentences(text)]

    chunks = chunk_blocks(blocks, split_sentences=split)
    text = document_text(blocks)
    pii = Counter(f.type for f in detect(text))  # a report only: documents are indexed as they are
    return _Prepared(path, key, digest, document.title, document.format, len(text), chunks,
                     previous is not None, {"pii": dict(pii)} if pii else {})


def ingest_file(index: KnowledgeIndex, kb: KnowledgeBase, path: Path,
                parsers: dict[str, Parser]) -> FileResult:
    """Ingest one file (see `ingest` for many: it batches the analysis)."""
    report = ingest(index, kb, [path], parsers)
    return report.results[0]


def ingest(index: KnowledgeIndex, kb: KnowledgeBase, paths: Iterable[Path],
           parsers: dict[str, Parser],
           on_file: Callable[[Path, FileResult], None] | None = None) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport()
    pending: list[_Prepared] = []

    def done(path: Path, result: FileResult) -> None:
        report.results.append(result)
        if on_file:
            on_file(path, result)

    def flush() -> None:
        all_chunks = [c for p in pending for c in p.chunks]
        morphemes = index.analyze(all_chunks)
        vectors = index.embed_chunks(kb, all_chunks)
        at = 0
        for p in pending:
            own = morphemes[at:at + len(p.chunks)]
            own_vectors = vectors[at:at + len(p.chunks)] if vectors is not None else None
            at += len(p.chunks)
            index.add_document(kb, path=p.key, sha256=p.digest, title=p.title, fmt=p.format,
                               chars=p.chars, chunks=p.chunks, morphemes=own,
                               vectors=own_vectors, meta=p.meta)
            done(p.path, FileResult(p.key, "replaced" if p.replaces else "added",
                                    len(p.chunks), p.chars))
        pending.clear()

    for path in collect_files(paths):
        prepared = _prepare(index, kb, path, parsers)
        if isinstance(prepared, FileResult):
            done(path, prepared)
            continue
        pending.append(prepared)
        if sum(p.chars for p in pending) >= BATCH_CHARS:
            flush()
    if pending:
        flush()
    report.seconds = time.perf_counter() - started
    return report
