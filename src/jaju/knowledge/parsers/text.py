"""Plain text and Markdown. Markdown headings become the heading path of what follows."""

from __future__ import annotations

import re
from pathlib import Path

from jaju.knowledge.parsers.base import Block, ParsedDocument, ParseError, decode_text, nfc

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
FRONT_TITLE = re.compile(r"^(?:제목|title)\s*:\s*(.+)$", re.MULTILINE)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def parse_text(path: Path) -> ParsedDocument:
    text = nfc(decode_text(path.read_bytes()))
    blocks = [Block(p) for p in _paragraphs(text)]
    return ParsedDocument(blocks, title=path.stem, format="text")


def _clean_md(line: str) -> str:
    line = ESCAPE.sub(r"\1", line)
    return line.replace("**", "").replace("__", "")


def parse_markdown(path: Path) -> ParsedDocument:
    text = nfc(decode_text(path.read_bytes())).replace("\r\n", "\n")
    title = None
    if text.startswith("---\n"):  # YAML front matter: keep only a title
        end = text.find("\n---", 4)
        if end == -1:
            raise ParseError("front matter is not closed")
        match = FRONT_TITLE.search(text[4:end])
        title = match.group(1).strip().strip("'\"") if match else None
        text = text[end + 4:]
    blocks: list[Block] = []
    path_stack: list[tuple[int, str]] = []
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            para = "\n".join(buffer).strip()
            if para:
                blocks.append(Block(para, heading=tuple(h for _, h in path_stack)))
            buffer.clear()

    for raw in text.split("\n"):
        match = HEADING.match(raw)
        if match:
            flush()
            level, heading = len(match.group(1)), _clean_md(match.group(2)).strip()
            while path_stack and path_stack[-1][0] >= level:
                path_stack.pop()
            path_stack.append((level, heading))
            blocks.append(Block(heading, heading=tuple(h for _, h in path_stack[:-1]),
                                kind="heading"))
            if title is None and level == 1:
                title = heading
        elif not raw.strip():
            flush()
        else:
            buffer.append(_clean_md(raw.strip()))
    flush()
    return ParsedDocument(blocks, title=title or path.stem, format="markdown")
