"""HWPX (OWPML, KS X 6101): a zip of XML sections. Each <hp:p> is a paragraph; paragraphs
nested in tables and text boxes come out as paragraphs of their own. Members are streamed to
the XML parser through a byte counter under a `Limits` budget (declared sizes checked first), so
a zip bomb is reported, not inflated."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

from jaju.knowledge.parsers.base import (
    Block,
    Budget,
    CappedReader,
    Limits,
    ParsedDocument,
    ParseError,
    check_archive,
    nfc,
    read_member,
)

SECTION = re.compile(r"^Contents/section(\d+)\.xml$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_hwpx(path: Path, limits: Limits | None = None) -> ParsedDocument:
    if not zipfile.is_zipfile(path):
        raise ParseError("HWPX(zip) 형식이 아닙니다 / not an HWPX (zip) file")
    budget = (limits or Limits()).budget(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            manifest = read_member(z, "META-INF/manifest.xml", budget) \
                if "META-INF/manifest.xml" in names else b""
            if b"encryption-data" in manifest:
                raise ParseError("암호화된 HWPX입니다 / the HWPX document is encrypted")
            sections = sorted((int(m.group(1)), n) for n in names if (m := SECTION.match(n)))
            if not sections:
                raise ParseError("HWPX에 본문 섹션이 없습니다 / no body sections in HWPX")
            blocks: list[Block] = []
            check_archive(z, budget, [n for _, n in sections])
            for number, name in sections:
                blocks += _read_section(z, name, number + 1, budget)
    except (zipfile.BadZipFile, ET.ParseError, KeyError, EOFError, zlib.error) as e:
        raise ParseError(f"손상된 HWPX입니다 / corrupt HWPX: {e}") from e
    return ParsedDocument(blocks, title=path.stem, format="hwpx")


def _read_section(z: zipfile.ZipFile, name: str, section: int, budget: Budget) -> list[Block]:
    budget.declared(name, z.getinfo(name).file_size)
    with z.open(name) as f:
        return _section_blocks(CappedReader(f, name, budget), section)


def _section_blocks(f, section: int) -> list[Block]:  # type: ignore[no-untyped-def]
    blocks: list[Block] = []
    stack: list[list[str]] = []
    for event, el in ET.iterparse(f, events=("start", "end")):
        name = _local(el.tag)
        if name == "p":
            if event == "start":
                stack.append([])
            else:
                text = nfc("".join(stack.pop()).strip())
                if text:
                    blocks.append(Block(text, page=section))
                el.clear()
        elif event == "end" and stack:
            if name == "t":
                stack[-1].append(_text_of(el))
            elif name == "tab":
                stack[-1].append("\t")
            elif name == "lineBreak":
                stack[-1].append("\n")
    return blocks


def _text_of(el: ET.Element) -> str:
    """Text of <hp:t>, including text after inline children (tabs, marks) inside it."""
    parts = [el.text or ""]
    for child in el:
        if _local(child.tag) == "tab":
            parts.append("\t")
        parts.append(child.tail or "")
    return "".join(parts)
