"""What a parser returns: a document as a list of blocks, each knowing where it came from."""

from __future__ import annotations

import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from jaju.errors import ParseError

__all__ = ["Block", "ParseError", "ParsedDocument", "Parser", "decode_text", "nfc"]


@dataclass
class Block:
    text: str
    page: int | None = None
    """1-based page (PDF) or section (HWP/HWPX), when the format has them."""
    heading: tuple[str, ...] = ()
    """The heading path above this block, outermost first."""
    kind: str = "para"
    """"heading" or "para"."""


@dataclass
class ParsedDocument:
    blocks: list[Block]
    title: str | None = None
    format: str = ""


Parser = Callable[[Path], ParsedDocument]


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), then CP949/EUC-KR, then whatever charset-normalizer finds."""
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ParseError("텍스트 인코딩을 알 수 없습니다 / unknown text encoding")
    return str(best)


# --- limits: a document may not inflate without bound ----------------------------------------

MiB = 1 << 20
CHUNK = 1 * MiB


@dataclass(frozen=True)
class Limits:
    """How far a document may inflate while it is read: each archive member or compressed
    stream (`member_bytes`) and everything together (`total_bytes`). `None` means the default,
    proportionate to the file: max(64 MiB, 100 × its size) per member and max(256 MiB, 200 × its
    size) in all, generous for real documents (text XML inflates 5–20×) and far below what a
    decompression bomb (1,000× and more) asks for. Parsers take it as `limits=`; ingestion
    passes one to every parser that accepts the keyword."""

    member_bytes: int | None = None
    total_bytes: int | None = None

    def budget(self, path: Path) -> Budget:
        size = path.stat().st_size
        member = self.member_bytes if self.member_bytes is not None else max(64 * MiB, 100 * size)
        total = self.total_bytes if self.total_bytes is not None else max(256 * MiB, 200 * size)
        return Budget(path.name, member, total)


def _mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB" if n >= MiB else f"{n:,} bytes"


class Budget:
    """The inflation allowance of one document being read; `take` refuses past either cap."""

    def __init__(self, name: str, member: int, total: int) -> None:
        self.name, self.member, self.total = name, member, total
        self.used = 0

    def bomb(self, part: str, cap: int) -> ParseError:
        return ParseError(
            f"압축을 풀면 한도({_mib(cap)})를 넘게 커지는 파일입니다(압축 폭탄?): {part} / "
            f"the file inflates past the cap ({_mib(cap)}): {part} — a decompression bomb?")

    def declared(self, part: str, size: int) -> None:
        """Refuse before reading when an archive already declares too much."""
        if size > self.member:
            raise self.bomb(part, self.member)
        if self.used + size > self.total:
            raise self.bomb(part, self.total)

    def take(self, part: str, member_so_far: int, n: int) -> None:
        """Account `n` more inflated bytes of `part`, of which `member_so_far` came before."""
        if member_so_far + n > self.member:
            raise self.bomb(part, self.member)
        self.used += n
        if self.used > self.total:
            raise self.bomb(part, self.total)


class CappedReader:
    """A file object over a zip member that counts what it inflates and stops at the budget
    (for streaming parsers such as ElementTree.iterparse)."""

    def __init__(self, raw: IO[bytes], part: str, budget: Budget) -> None:
        self.raw, self.part, self.budget = raw, part, budget
        self.read_so_far = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(CHUNK if size is None or size < 0 else min(size, CHUNK))
        self.budget.take(self.part, self.read_so_far, len(data))
        self.read_so_far += len(data)
        return data


def read_member(z: zipfile.ZipFile, name: str, budget: Budget) -> bytes:
    """A zip member read in chunks under the budget (its declared size is checked first; zipfile
    never returns more than the declared size, and a lie fails its CRC check)."""
    budget.declared(name, z.getinfo(name).file_size)
    parts: list[bytes] = []
    with z.open(name) as f:
        reader = CappedReader(f, name, budget)
        while chunk := reader.read(CHUNK):
            parts.append(chunk)
    return b"".join(parts)


def check_archive(z: zipfile.ZipFile, budget: Budget, names: list[str] | None = None) -> None:
    """The declared sizes of the members (all, or those named) within the caps, one by one and
    together, before anything is inflated or a library reads the archive."""
    total = budget.used
    wanted = set(names) if names is not None else None
    for info in z.infolist():
        if wanted is not None and info.filename not in wanted:
            continue
        if info.file_size > budget.member:
            raise budget.bomb(info.filename, budget.member)
        total += info.file_size
        if total > budget.total:
            raise budget.bomb(info.filename, budget.total)


KEEP_WHILE = 16 * MiB
"""`inflate_raw` keeps what it inflates up to this much; past it, it only counts until the
stream ends or the cap is hit, then inflates again to keep it — so a bomb never sits in memory."""


def inflate_raw(data: bytes, part: str, budget: Budget) -> bytes:
    """Raw-deflate `data` incrementally (`zlib.decompressobj` with `max_length`), refusing past
    the budget. Raises `ParseError` on a corrupt stream."""
    try:
        out = _inflate(data, part, budget, keep=True)
    except zlib.error as e:
        raise ParseError(f"압축 해제 실패 / cannot inflate {part}: {e}") from e
    return out


def _inflate(data: bytes, part: str, budget: Budget, *, keep: bool) -> bytes:
    d = zlib.decompressobj(-15)
    kept: list[bytes] = []
    size = 0
    pending = data
    started_at = budget.used
    while True:
        chunk = d.decompress(pending, CHUNK)
        pending = d.unconsumed_tail
        if chunk:
            budget.take(part, size, len(chunk))
            size += len(chunk)
            if keep:
                kept.append(chunk)
                if size > KEEP_WHILE:  # large: count first, keep on a second pass
                    keep = False
                    kept.clear()
        if d.eof or (not chunk and not pending):
            break
    if keep:
        return b"".join(kept)
    budget.used = started_at  # within the caps: inflate again, keeping it this time
    d = zlib.decompressobj(-15)
    out = bytearray()
    pending = data
    while True:
        chunk = d.decompress(pending, CHUNK)
        pending = d.unconsumed_tail
        out += chunk
        if d.eof or (not chunk and not pending):
            break
    budget.used += len(out)
    return bytes(out)
