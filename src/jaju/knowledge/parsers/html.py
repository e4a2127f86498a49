"""HTML: headings give the heading path; leaf block elements give paragraphs."""

from __future__ import annotations

from pathlib import Path

from jaju.knowledge.parsers.base import Block, ParsedDocument, decode_text, nfc

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCKS = {"p", "li", "td", "th", "pre", "blockquote", "dt", "dd", "caption", "figcaption"}


def parse_html(path: Path) -> ParsedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title_tag = soup.find("title")
    title = nfc(title_tag.get_text(" ", strip=True)) if title_tag else None
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []
    wanted = set(HEADINGS) | BLOCKS
    for el in soup.find_all(wanted):
        if el.name in BLOCKS and el.find(wanted):
            continue  # not a leaf: its children are blocks of their own
        text = nfc(" ".join(el.get_text(" ", strip=True).split()))
        if not text:
            continue
        if el.name in HEADINGS:
            level = HEADINGS[el.name]
            while stack and stack[-1][0] >= level:
                stack.pop()
            blocks.append(Block(text, heading=tuple(h for _, h in stack), kind="heading"))
            stack.append((level, text))
            title = title or text
        else:
            blocks.append(Block(text, heading=tuple(h for _, h in stack)))
    if not blocks:
        body = nfc(soup.get_text("\n", strip=True))
        blocks = [Block(line) for line in body.split("\n") if line.strip()]
    return ParsedDocument(blocks, title=title or path.stem, format="html")
