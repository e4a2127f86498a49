"""Korean-aware chunking: document structure first, then sentences, with a size target.

1. Blocks are grouped by structure: a statute article (`제N조`, `제N조의M`) with all its 항 (①②)
   and 호 (1. 2.) stays together; other paragraphs group under their heading and page.
2. A group that fits `max_chars` is one chunk. A longer one is cut at block boundaries, and a
   block that alone is too long is cut at Korean sentence boundaries (Kiwi), to about
   `target_chars`, repeating the last unit as overlap when it is short. Pieces of an article
   repeat the article's title line, so each piece still says which article it is.

Every chunk keeps where it came from: character offsets into the document text (blocks joined
by blank lines), page or section, article, and heading path.

Supplementary provisions (부칙) restart their article numbers, so an article after a `부칙`
heading or a `부칙 <제8372호,2007.4.11>` line is labelled `부칙 제2조`, never `제2조`: a citation
reads "근로기준법 부칙 제2조" and cannot pass for the main act's 제2조. The amendment line it
follows is added to its heading path (which 부칙 of the many a statute has).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from jaju.knowledge.parsers.base import Block

ARTICLE = re.compile(r"^제\s*(\d+)\s*조(?:\s*의\s*(\d+))?(?=\s*[(（]|$)")
"""An article starts with its number and its title in brackets: 제23조(해고 등의 제한), or is a
heading block holding just the number. "제2조 중 ..." (amendment text) is not an article."""
SUPPLEMENTARY = re.compile(r"^부\s*칙(?:\s*[<(（〈][^\n]*)?$")
"""A 부칙 heading or the line opening one amendment's 부칙: "부칙", "부칙 <제8372호,2007.4.11>"."""
SUPPLEMENTARY_PREFIX = "부칙 "
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int
    page: int | None = None
    article: str | None = None
    heading: tuple[str, ...] = ()
    keywords: str = ""
    """Index-only text: words a reader searches by that the text itself lacks (a pack's
    everyday gloss of a statute article: "월급 밀림 / 알바비 안 줌"). Indexed and embedded with
    the chunk, stored beside it, never shown as its text."""


@dataclass
class _Unit:
    text: str
    start: int
    end: int


def article_of(text: str) -> str | None:
    match = ARTICLE.match(text)
    if not match:
        return None
    return f"제{match.group(1)}조" + (f"의{match.group(2)}" if match.group(2) else "")


def is_supplementary(article: str | None) -> bool:
    """Whether an article label names a 부칙 article ("부칙 제2조")."""
    return bool(article) and str(article).startswith(SUPPLEMENTARY_PREFIX)


def document_text(blocks: list[Block]) -> str:
    return SEPARATOR.join(b.text for b in blocks)


def chunk_blocks(
    blocks: list[Block],
    *,
    split_sentences: Callable[[str], list[tuple[int, int]]],
    target_chars: int = 700,
    max_chars: int = 1000,
) -> list[Chunk]:
    """Cut `blocks` into chunks. `split_sentences(text)` returns (start, end) offsets."""
    offsets, pos = [], 0
    for b in blocks:
        offsets.append(pos)
        pos += len(b.text) + len(SEPARATOR)

    groups: list[tuple[str | None, list[int]]] = []
    amendment: dict[int, str] = {}  # group index -> the 부칙 line its article follows
    in_article = False
    supplementary: str | None = None  # inside a 부칙: its opening line
    for i, b in enumerate(blocks):
        if SUPPLEMENTARY.match(b.text.strip()):
            supplementary = b.text.strip()
        elif b.kind == "heading" and not article_of(b.text.split(" ", 1)[0]):
            supplementary = None  # another part of the document (a 부칙 heading sets it again)
        if supplementary is None and any(SUPPLEMENTARY.match(h) for h in b.heading):
            supplementary = "부칙"
        article = article_of(b.text) or (article_of(b.text.split(" ", 1)[0])
                                          if b.kind == "heading" else None)
        if article:
            if supplementary is not None:
                article = SUPPLEMENTARY_PREFIX + article
                if supplementary != "부칙" and supplementary not in b.heading:
                    amendment[len(groups)] = supplementary
            groups.append((article, [i]))
            in_article = True
            continue
        if b.kind == "heading":
            in_article = False  # a chapter heading ends the article before it
            continue  # headings live on in the heading path of what follows
        if supplementary is not None and SUPPLEMENTARY.match(b.text.strip()):
            in_article = False  # the next amendment's 부칙 ends the article before it
        if in_article:
            groups[-1][1].append(i)  # 항 and 호 stay with their article
            continue
        last = groups[-1] if groups else None
        if (last is not None and last[0] is None
                and blocks[last[1][-1]].heading == b.heading
                and blocks[last[1][-1]].page == b.page):
            last[1].append(i)
        else:
            groups.append((None, [i]))

    chunks: list[Chunk] = []
    for number, (article, members) in enumerate(groups):
        first = blocks[members[0]]
        heading = first.heading + ((amendment[number],) if number in amendment else ())
        units: list[_Unit] = []
        for i in members:
            text, start = blocks[i].text, offsets[i]
            if len(text) <= max_chars:
                units.append(_Unit(text, start, start + len(text)))
                continue
            spans = split_sentences(text) or [(0, len(text))]
            for s, e in _pack_spans(spans, max_chars):
                units.append(_Unit(text[s:e].strip(), start + s, start + e))
        title = first.text.split("\n", 1)[0] if article else None
        for piece_no, piece in enumerate(_pack(units, target_chars, max_chars)):
            body = "\n".join(u.text for u in piece)
            if title and piece_no > 0 and not body.startswith(title):
                body = f"{title}\n{body}"
            chunks.append(Chunk(body, piece[0].start, piece[-1].end, first.page, article,
                                heading))
    return chunks


def _pack_spans(spans: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Merge consecutive sentence spans up to max_chars; hard-cut a sentence longer than that."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while e - s > max_chars:
            out.append((s, s + max_chars))
            s += max_chars
        if out and e - out[-1][0] <= max_chars // 2:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _pack(units: list[_Unit], target: int, limit: int) -> list[list[_Unit]]:
    pieces: list[list[_Unit]] = []
    current: list[_Unit] = []
    size = 0
    for unit in units:
        n = len(unit.text)
        if current and size + n > target and size + n > limit // 2:
            pieces.append(current)
            tail = current[-1]
            # overlap: carry a short last unit into the next piece
            current, size = ([tail], len(tail.text)) if len(tail.text) < target // 4 else ([], 0)
        current.append(unit)
        size += n
    if current:
        pieces.append(current)
    return pieces
