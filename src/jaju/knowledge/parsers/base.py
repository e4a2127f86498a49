"""What a parser returns: a document as a list of blocks, each knowing where it came from."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
