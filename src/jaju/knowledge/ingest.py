"""Ingestion: files and folders -> parsed documents -> chunks -> the index.

Each document is one transaction, so a run that is killed midway leaves whole documents only,
and running it again skips what is already in (same content hash) and finishes the rest. A
changed file replaces its old chunks. A file that cannot be read is reported with its reason
and the batch goes on.

A folder walk skips, and reports as "skipped" with the reason: files of a format no parser
reads, README/SOURCE/LICENSE-like files (`README.md`, `SOURCE.md`, `LICENSE`, `COPYING`,
`NOTICE`, also with a suffix such as `README.ko.md`) that describe a folder rather than belong
in it, hidden files and folders (dotfiles), file names that are not valid UTF-8, things that are
not regular files (FIFOs, sockets, devices), broken symlinks, and symlinks that lead out of the
folder (unless `follow_symlinks`). A file named explicitly is always tried.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import re
import stat
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jaju.errors import ConfigError, InvalidRequest
from jaju.guards.pii import detect
from jaju.knowledge.chunking import SUPPLEMENTARY, Chunk, chunk_blocks, document_text
from jaju.knowledge.index import KnowledgeBase, KnowledgeIndex, storable
from jaju.knowledge.parsers.base import Limits, ParseError, Parser


@dataclass
class FileResult:
    path: str
    status: str
    """"added", "replaced", "unchanged", "failed" or "skipped" (not for ingestion: see the
    module's docstring; not a failure)."""
    chunks: int = 0
    chars: int = 0
    reason: str = ""
    glossed: int = 0
    """Chunks that took a gloss (`keywords`)."""


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

    @property
    def skipped(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "skipped"]


FOLDER_NOTES = re.compile(r"^(?:readme|sources?|licen[cs]e|copying|notice)(?:[._-].*)?$",
                          re.IGNORECASE)
"""Names skipped in a folder walk: files about the folder (where it came from, its license),
not documents of it. Name such a file explicitly to ingest it."""


def display(path: Path | str) -> str:
    """A path for reports: bytes that are not UTF-8 shown as \\xNN instead of failing."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes come back from the OS as lone surrogates
        return False
    return True


@dataclass
class Collected:
    files: list[Path] = field(default_factory=list)
    skipped: list[FileResult] = field(default_factory=list)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def collect(paths: Iterable[Path], *, follow_symlinks: bool = False,
            suffixes: Container[str] | None = None) -> Collected:
    """The files to ingest under `paths` (files named are taken as they are; folders are walked
    recursively in name order), and what the walk skipped, with reasons (see the module's
    docstring). `suffixes`: the formats that can be read (others in folders are skipped)."""
    out = Collected()
    seen: set[str] = set()
    skipped_real: list[str] = []

    def skip(path: Path | str, reason: str) -> None:
        out.skipped.append(FileResult(display(os.path.abspath(path)), "skipped", reason=reason))
        skipped_real.append(os.path.realpath(path))

    def take(path: Path) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.files.append(path)

    def walk(folder: Path, root: str, visited: set[str]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            skip(folder, f"폴더를 읽을 수 없음 / cannot read the folder: {e.strerror}")
            return
        for entry in entries:
            path = Path(entry.path)
            if not _utf8(entry.name):
                skip(path, "파일 이름이 UTF-8이 아님 / the file name is not valid UTF-8")
                continue
            if entry.name.startswith("."):
                skip(path, "숨은 파일 / hidden (dotfile)")
                continue
            try:
                if entry.is_symlink():
                    real = os.path.realpath(path)
                    if not os.path.exists(real):
                        skip(path, "깨진 심볼릭 링크 / broken symlink")
                        continue
                    if not follow_symlinks and not _inside(real, root):
                        skip(path, "폴더 밖을 가리키는 심볼릭 링크 / symlink leading out of the "
                                   "folder (--follow-symlinks to follow it)")
                        continue
                mode = os.stat(path).st_mode
            except OSError as e:
                skip(path, f"읽을 수 없음 / cannot read: {e.strerror}")
                continue
            if stat.S_ISDIR(mode):
                real = os.path.realpath(path)
                if real in visited:
                    continue  # a symlink loop, or a folder reached twice
                walk(path, root, visited | {real})
            elif not stat.S_ISREG(mode):
                skip(path, "일반 파일이 아님 / not a regular file")
            elif FOLDER_NOTES.match(entry.name):
                skip(path, "폴더 설명 파일(README/SOURCE/LICENSE) / a note about the folder, "
                           "not a document (name it to ingest it)")
            elif suffixes is not None and path.suffix.lower() not in suffixes:
                skip(path, f"지원하지 않는 형식 / unsupported format '{path.suffix or entry.name}'")
            else:
                take(path)

    for path in paths:
        if not _utf8(str(path)):
            skip(path, "파일 이름이 UTF-8이 아님 / the file name is not valid UTF-8")
        elif path.is_dir():
            root = os.path.realpath(path)
            walk(path, root, {root})
        else:
            take(path)
    # a file skipped in a walk but also named explicitly is taken, not listed twice
    out.skipped = [r for r, real in zip(out.skipped, skipped_real, strict=True) if real not in seen]
    return out


def collect_files(paths: Iterable[Path], *, follow_symlinks: bool = False) -> list[Path]:
    """Files named, and files under folders named (see `collect`)."""
    return collect(paths, follow_symlinks=follow_symlinks).files


@functools.cache
def _takes_limits(parser: Parser) -> bool:
    try:
        return "limits" in inspect.signature(parser).parameters
    except (TypeError, ValueError):
        return False


def parse(parser: Parser, path: Path, limits: Limits | None = None) -> Any:
    """Call a parser, giving it `limits` when it accepts them (plugins may not)."""
    if limits is not None and _takes_limits(parser):
        return parser(path, limits=limits)  # type: ignore[call-arg]
    return parser(path)


def _digest(path: Path) -> tuple[str, bool]:
    """SHA-256 of the file, read in chunks, and whether it has anything but whitespace."""
    h = hashlib.sha256()
    blank = True
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            if blank and chunk.strip():
                blank = False
    return h.hexdigest(), blank


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


Keywords = Callable[[Path], dict[str, str]]
"""A file's index-only keywords by article label ("제60조" -> "연차 며칠 / 1년 일하면 휴가"):
a pack's everyday glosses of its statutes (see `Chunk.keywords`)."""


GLOSS_LABEL = re.compile(r"^(?:제[0-9]+조(?:의[0-9]+)?|전문)$")
WHOLE = "전문"
"""The label of a gloss for a document without articles (a one-sentence 규정): its chunks."""
MAX_GLOSS = 300
MAX_GLOSS_FILE = 10 * 1024 * 1024
"""Largest gloss file read (a statute's glosses take tens of kilobytes)."""


def _gloss_problem(label: str, gloss: str, table: dict[str, str]) -> str | None:
    if not GLOSS_LABEL.match(label):
        return "조 번호가 아닙니다 / not an article label (제60조, 제18조의2, or 전문)"
    if not any(ch.isalnum() for ch in gloss):
        return "설명이 없습니다 / no gloss"
    if "\x00" in gloss:
        return "NUL 문자가 있습니다 / contains NUL"
    if len(gloss) > MAX_GLOSS:
        return f"{MAX_GLOSS}자를 넘습니다 / longer than {MAX_GLOSS}"
    if label in table:
        return "같은 조가 두 번 나옵니다 / article given twice"
    return None


def read_glosses(folder: Path) -> dict[str, dict[str, str]]:
    """Everyday glosses of articles (`Chunk.keywords`; a pack's `glosses = "data/glosses"`,
    `jaju ingest --glosses DIR`): `<document file stem>.tsv` files of
    `제60조<TAB>연차 며칠 / 1년 일하면 휴가` lines (`#` comments and blank lines skipped; a
    byte-order mark allowed), as {stem: {article: gloss}}, stems and labels in Unicode NFC.
    The label `전문` glosses the chunks that belong to no article (a decree of one sentence).
    A missing folder, a `.tsv` that is not a regular file or is over MAX_GLOSS_FILE, or a
    malformed line is a ConfigError naming the file (and line)."""
    if not folder.is_dir():
        raise ConfigError(f"풀이 폴더가 없습니다 / no such glosses folder: {folder}")
    out: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.tsv")):
        if not path.is_file():  # a FIFO or a device would block or never end
            raise ConfigError(f"{path}: 일반 파일이 아닙니다 / not a regular file")
        try:
            if path.stat().st_size > MAX_GLOSS_FILE:
                raise ConfigError(f"{path}: {MAX_GLOSS_FILE // 2**20} MB를 넘습니다 / larger "
                                  f"than {MAX_GLOSS_FILE // 2**20} MB")
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: 풀이 파일을 읽을 수 없습니다 / cannot read the glosses "
                              f"(UTF-8 TSV expected): {e}") from e
        table: dict[str, str] = {}
        # lines end at \n (and \r\n) only: U+2028 and the like are characters of a gloss
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            label, _, gloss = unicodedata.normalize("NFC", line).partition("\t")
            label, gloss = label.strip(), gloss.strip()
            if problem := _gloss_problem(label, gloss, table):
                raise ConfigError(f"{path}:{number}: {problem}: {line[:60]!r}")
            table[label] = gloss
        out[unicodedata.normalize("NFC", path.stem)] = table
    return out


def gloss_keywords(glosses: dict[str, dict[str, str]], files: Iterable[Path]
                   ) -> tuple[Keywords, list[str]]:
    """The `Keywords` that give each of `files` the glosses named after it, and notes on gloss
    files that name none of them (a typo, another folder's document). Two of `files` with the
    same name and a gloss file for it is a ConfigError: which one the glosses describe cannot
    be told."""
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(unicodedata.normalize("NFC", path.stem), []).append(path)
    for stem, paths in by_stem.items():
        if stem in glosses and len(paths) > 1:
            raise ConfigError(f"'{stem}.tsv'의 풀이가 어느 문서의 것인지 알 수 없습니다 / "
                              f"'{stem}.tsv' could describe any of {len(paths)} documents of "
                              f"that name ({', '.join(display(p) for p in paths[:3])}): "
                              "rename them or ingest them separately")
    notes = [f"'{stem}.tsv'에 맞는 문서가 없습니다 / '{stem}.tsv' names no document being "
             "ingested" for stem in sorted(set(glosses) - set(by_stem))]

    def keywords(path: Path) -> dict[str, str]:
        return glosses.get(unicodedata.normalize("NFC", path.stem), {})

    return keywords, notes


def _gloss_of(chunk: Chunk, table: dict[str, str]) -> str | None:
    """A chunk's gloss: its article's, or the whole text's (`전문`) for a chunk of no article
    outside the 부칙."""
    if chunk.article:
        return table.get(chunk.article)
    if any(SUPPLEMENTARY.match(h.strip()) for h in chunk.heading) or \
            SUPPLEMENTARY.match(chunk.text.split("\n", 1)[0].strip()):
        return None
    return table.get(WHOLE)


def _with_keywords(digest: str, table: dict[str, str]) -> str:
    """The document's hash when keywords are added to it: it changes when they do, so that an
    edited gloss re-indexes its statute."""
    if not table:
        return digest
    listed = "\n".join(f"{k}\t{v}" for k, v in sorted(table.items()))
    return hashlib.sha256(f"{digest}\n{listed}".encode()).hexdigest()


def _prepare(index: KnowledgeIndex, kb: KnowledgeBase, path: Path,
             parsers: dict[str, Parser], limits: Limits | None = None,
             keywords: Keywords | None = None) -> _Prepared | FileResult:
    key = str(path.resolve())
    parser = parsers.get(path.suffix.lower())
    if parser is None:
        return FileResult(key, "failed", reason=f"지원하지 않는 형식 / unsupported format "
                                                 f"'{path.suffix or path.name}'")
    if not path.exists():
        return FileResult(key, "failed", reason="읽을 수 없음 / cannot read: no such file")
    if not path.is_file():
        return FileResult(key, "failed", reason="일반 파일이 아님 / not a regular file")
    try:
        digest, blank = _digest(path)
    except OSError as e:
        return FileResult(key, "failed", reason=f"읽을 수 없음 / cannot read: {e.strerror}")
    table = keywords(path) if keywords else {}
    digest = _with_keywords(digest, table)
    previous = index.document_hash(kb, key)
    if previous == digest:
        return FileResult(key, "unchanged")
    if blank:
        return FileResult(key, "failed", reason="빈 파일 / empty file")
    try:
        document = parse(parser, path, limits)
    except ParseError as e:
        return FileResult(key, "failed", reason=str(e))
    except Exception as e:  # a parser library choking on a broken file
        return FileResult(key, "failed", reason=f"손상된 파일 / corrupt file: "
                                                 f"{type(e).__name__}: {e}")
    blocks = [replace(b, text=storable(b.text), heading=tuple(map(storable, b.heading)))
              for b in document.blocks if b.text.strip()]
    if not blocks:
        return FileResult(key, "failed", reason="텍스트가 없음 / no text in the document")
    analyzer = index.analyzer

    def split(text: str) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in analyzer.sentences(text)]

    chunks = chunk_blocks(blocks, split_sentences=split)
    if table:
        chunks = [replace(c, keywords=storable(gloss)) if (gloss := _gloss_of(c, table)) else c
                  for c in chunks]
    text = document_text(blocks)
    pii = Counter(f.type for f in detect(text))  # a report only: documents are indexed as they are
    title = storable(document.title) if document.title else document.title
    return _Prepared(path, key, digest, title, document.format, len(text), chunks,
                     previous is not None, {"pii": dict(pii)} if pii else {})


def ingest_file(index: KnowledgeIndex, kb: KnowledgeBase, path: Path,
                parsers: dict[str, Parser]) -> FileResult:
    """Ingest one file (see `ingest` for many: it batches the analysis)."""
    report = ingest(index, kb, [path], parsers)
    return report.results[0]


def ingest(index: KnowledgeIndex, kb: KnowledgeBase, paths: Iterable[Path],
           parsers: dict[str, Parser],
           on_file: Callable[[Path, FileResult], None] | None = None, *,
           follow_symlinks: bool = False, limits: Limits | None = None,
           keywords: Keywords | None = None) -> IngestReport:
    """Ingest files and folders. `limits` caps how far a document may inflate (default:
    proportionate to each file, see `Limits`); `follow_symlinks` follows symlinks that lead out
    of a folder being walked; `keywords` gives a file's articles index-only keywords."""
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
            try:
                index.add_document(kb, path=p.key, sha256=p.digest, title=p.title,
                                   fmt=p.format, chars=p.chars, chunks=p.chunks,
                                   morphemes=own, vectors=own_vectors, meta=p.meta)
            except InvalidRequest as e:  # a value the engine cannot store: this file fails,
                done(p.path, FileResult(p.key, "failed", reason=e.message))  # the batch goes on
                continue
            done(p.path, FileResult(p.key, "replaced" if p.replaces else "added",
                                    len(p.chunks), p.chars,
                                    glossed=sum(bool(c.keywords) for c in p.chunks)))
        pending.clear()

    collected = collect(paths, follow_symlinks=follow_symlinks, suffixes=parsers)
    for result in collected.skipped:
        done(Path(os.fsdecode(result.path)), result)
    for path in collected.files:
        prepared = _prepare(index, kb, path, parsers, limits, keywords)
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
