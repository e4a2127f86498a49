"""DOCX via python-docx: paragraphs and tables in body order; Heading styles build the path.

A table becomes one block per row, its cells separated by ` | ` (a cell spanning several grid
columns counts once; line breaks inside a cell become spaces), so rows stay rows in chunks and
citations. Before python-docx reads the package, every member's declared size is checked
against a `Limits` budget (zipfile never inflates past a declared size, and a lie fails its CRC
check), so a zip bomb is reported instead of being inflated into memory.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from jaju.knowledge.parsers.base import (
    Block,
    Limits,
    ParsedDocument,
    ParseError,
    check_archive,
    nfc,
)

HEADING_STYLE = re.compile(r"^(?:Heading|제목)\s*(\d)$", re.IGNORECASE)


def parse_docx(path: Path, limits: Limits | None = None) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not zipfile.is_zipfile(path):
        raise ParseError("DOCX(zip) 형식이 아닙니다 / not a DOCX (zip) file; encrypted or corrupt")
    budget = (limits or Limits()).budget(path)
    try:
        with zipfile.ZipFile(path) as z:
            check_archive(z, budget)
    except zipfile.BadZipFile as e:
        raise ParseError(f"DOCX를 열 수 없습니다 / cannot open DOCX: {e}") from e
    try:
        document = docx.Document(str(path))
    except Exception as e:  # python-docx raises several types for broken packages
        raise ParseError(f"DOCX를 열 수 없습니다 / cannot open DOCX: {e}") from e
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = nfc(item.text.strip())
            if not text:
                continue
            style = item.style.name if item.style is not None else ""
            match = HEADING_STYLE.match(style or "")
            if match or style == "Title":
                level = int(match.group(1)) if match else 0
                while stack and stack[-1][0] >= level:
                    stack.pop()
                blocks.append(Block(text, heading=tuple(h for _, h in stack), kind="heading"))
                stack.append((level, text))
            else:
                blocks.append(Block(text, heading=tuple(h for _, h in stack)))
        elif isinstance(item, Table):
            for line in table_rows(item):
                blocks.append(Block(line, heading=tuple(h for _, h in stack)))
    title = document.core_properties.title or (stack[0][1] if stack else None)
    return ParsedDocument(blocks, title=title or path.stem, format="docx")


def table_rows(table: Any) -> list[str]:
    """One line per row: `cell | cell | cell`. python-docx repeats a horizontally merged cell
    once per grid column it spans; it is kept once (by identity, so two cells that merely say the
    same thing both stay). Rows with no text are dropped."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(nfc(cell.text).split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines
