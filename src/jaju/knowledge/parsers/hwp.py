"""HWP 5.x (binary, OLE2 compound file) read with olefile.

Layout (from Hancom's published HWP 5.0 format document): the `FileHeader` stream holds the
signature, version and flags (bit 0 compressed, bit 1 password, bit 2 distribution-protected);
`BodyText/SectionN` streams hold records, raw-deflate compressed when bit 0 is set. A record
header is 32 bits: tag (10 bits), level (10), size (12; 0xFFF means a 32-bit size follows).
Paragraph text is the HWPTAG_PARA_TEXT record (tag 67): UTF-16LE in which code units below 32
are controls; most controls occupy 8 code units (the control plus 7 of parameters).

Sections are inflated incrementally under a `Limits` budget (per stream and per document), so a
section that inflates to gigabytes is reported as a bomb, not read into memory.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from jaju.knowledge.parsers.base import Block, Limits, ParsedDocument, ParseError, inflate_raw, nfc

SIGNATURE = b"HWP Document File"
TAG_PARA_TEXT = 67
ONE_UNIT_CONTROLS = {0, 10, 13, 24, 25, 26, 27, 28, 29, 30, 31}
SPACE_CONTROLS = {9, 24, 30, 31}  # tab, hyphen, non-breaking and fixed-width spaces


def parse_hwp(path: Path, limits: Limits | None = None) -> ParsedDocument:
    import olefile

    budget = (limits or Limits()).budget(path)
    if not olefile.isOleFile(str(path)):
        raise ParseError("HWP 5.x(OLE) 형식이 아닙니다 / not an HWP 5.x (OLE) file")
    try:
        ole = olefile.OleFileIO(str(path))
    except OSError as e:
        raise ParseError(f"손상된 HWP입니다 / corrupt HWP: {e}") from e
    try:
        if not ole.exists("FileHeader"):
            raise ParseError("HWP FileHeader가 없습니다 / no FileHeader: not an HWP document")
        header = ole.openstream("FileHeader").read()
        if not header.startswith(SIGNATURE):
            raise ParseError("HWP 서명이 없습니다 / bad HWP signature")
        flags = struct.unpack_from("<I", header, 36)[0]
        if flags & 0b10:
            raise ParseError("암호로 보호된 HWP입니다 / the HWP document is password-protected")
        if flags & 0b100:
            raise ParseError("배포용(복사 방지) HWP 문서라 본문을 읽을 수 없습니다 / "
                             "distribution-protected HWP: its text is encrypted")
        compressed = bool(flags & 1)
        sections = sorted(
            (int(entry[1][len("Section"):]), "/".join(entry))
            for entry in ole.listdir()
            if len(entry) == 2 and entry[0] == "BodyText" and entry[1].startswith("Section")
        )
        if not sections:
            raise ParseError("HWP 본문이 없습니다 / no BodyText sections")
        blocks: list[Block] = []
        for number, name in sections:
            data = ole.openstream(name).read()
            if compressed:
                data = inflate_raw(data, name, budget)
            else:
                budget.take(name, 0, len(data))
            for text in _paragraphs(data):
                text = nfc(text.strip())
                if text:
                    blocks.append(Block(text, page=number + 1))
    finally:
        ole.close()
    return ParsedDocument(blocks, title=path.stem, format="hwp")


NONZERO = re.compile(rb"[^\0]")


def _paragraphs(data: bytes) -> list[str]:
    out: list[str] = []
    pos, end = 0, len(data)
    while pos + 4 <= end:
        (head,) = struct.unpack_from("<I", data, pos)
        if head == 0:  # no real record has tag 0: skip a run of zero words at C speed
            found = NONZERO.search(data, pos)
            pos = end if found is None else pos + (found.start() - pos) // 4 * 4
            continue
        pos += 4
        tag, size = head & 0x3FF, (head >> 20) & 0xFFF
        if size == 0xFFF:
            if pos + 4 > end:
                break
            (size,) = struct.unpack_from("<I", data, pos)
            pos += 4
        if pos + size > end:
            raise ParseError("HWP 레코드가 잘렸습니다 / truncated HWP record")
        if tag == TAG_PARA_TEXT:
            out.append(_decode_para_text(data[pos:pos + size]))
        pos += size
    return out


def _decode_para_text(raw: bytes) -> str:
    units = struct.unpack(f"<{len(raw) // 2}H", raw[: len(raw) // 2 * 2])
    chars: list[str] = []
    i, n = 0, len(units)
    while i < n:
        code = units[i]
        if code >= 32:
            chars.append(chr(code))
            i += 1
            continue
        if code in SPACE_CONTROLS:
            chars.append("\t" if code == 9 else " ")
        elif code == 10:
            chars.append("\n")
        i += 1 if code in ONE_UNIT_CONTROLS else 8
    # surrogate pairs arrive as two code units: join them into one character
    return "".join(chars).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
