"""DOCX via python-docx: paragraphs and tables in body order; Heading styles build the path."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from jaju.knowledge.parsers.base import Block, ParsedDocument, ParseError, nfc

HEADING_STYLE = re.compile(r"^(?:Heading|제목)\s*(\d)$", re.IGNORECASE)


def parse_docx(path: Path) -> ParsedDocument:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    if not zipfile.is_zipfile(path):
        raise ParseError("DOCX(zip) 형식이 아닙니다 / not a DOCX (zip) file; encrypted or corrupt")
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
            for row in item.rows:
                cells = [nfc(c.text.strip()) for c in row.cells]
                line = " | ".join(dict.fromkeys(c for c in cells if c))
                if line:
                    blocks.append(Block(line, heading=tuple(h for _, h in stack)))
    title = document.core_properties.title or (stack[0][1] if stack else None)
    return ParsedDocument(blocks, title=title or path.stem, format="docx")
