"""A pack's statutes: the national law markdown files of its `data/statutes` folder, read into
articles (부칙 apart), and articles looked up by citation — one implementation that every pack
with statutes reuses (the law pack's and the education pack's `lookup_article` tools).

A pack passes its own folder and its own aliases (short names people type: 근기법, 학폭법):

```python
def lookup_article(citation: str, law: str | None = None) -> dict[str, Any]:
    return article_lookup(citation, law, STATUTES, ALIASES)
```

Titles match with spaces and middle dots ignored (초중등교육법 = 초ㆍ중등교육법), and a unique
prefix is enough ("개인정보보호법" finds "개인정보 보호법").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CITATION = re.compile(
    r"^(?P<law>.*?)\s*(?P<supp>부\s*칙\s*(?:[<(（〈]\s*(?P<amend>[^>)）〉]*)[>)）〉])?\s*)?"
    r"제\s*(?P<art>\d+)\s*조(?:\s*의\s*(?P<sub>\d+))?"
    r"(?:\s*제\s*(?P<para>\d+)\s*항)?(?:\s*제\s*(?P<item>\d+(?:의\d+)?)\s*호)?\s*$")
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass(frozen=True)
class Article:
    law: str
    number: str  # 제347조, 제43조의2
    title: str
    text: str  # the article's text, markdown stripped
    amendment: str = ""  # for 부칙 articles: "제21857호,2026.8.4"


@dataclass(frozen=True)
class Statute:
    title: str
    path: Path
    articles: dict[str, Article]
    supplementary: list[tuple[str, dict[str, Article]]]  # (amendment, articles), oldest first


@dataclass(frozen=True)
class Found:
    """An article found by citation, and the part of it the citation asked for."""

    citation: str  # as written back: "형법 제347조제1항", "근로기준법 부칙 제2조"
    statute: Statute
    label: str  # 제347조, 부칙 제2조
    article: Article
    text: str  # the article's text, or the 항 or 호 asked for


def title_key(name: str) -> str:
    """A title as typed or as written: NFC, no spaces, no middle dots (초ㆍ중등 = 초중등)."""
    return re.sub(r"[\s\u318d\u00b7\u30fb]", "", unicodedata.normalize("NFC", name))


def _clean(text: str) -> str:
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~])", r"\1", text).replace("**", "")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


@cache
def statutes(folder: Path) -> dict[str, Statute]:
    """The statutes of `folder` (one markdown file each) by `title_key` of their title."""
    out = {}
    for path in sorted(folder.glob("*.md")):
        text = unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))
        match = re.search(r"^제목:\s*(.+)$", text, re.MULTILINE)
        title = match.group(1).strip().strip("'\"") if match else path.stem
        main, _, supp = text.partition("\n## 부칙")
        articles = {}
        for m in re.finditer(r"^##### (제\d+조(?:의\d+)?)[ \t]*(?:\(([^)\n]*)\))?[^\n]*\n(.*?)"
                             r"(?=^#|\Z)", main, re.MULTILINE | re.DOTALL):
            articles[m.group(1)] = Article(title, m.group(1), (m.group(2) or "").strip(),
                                           _clean(m.group(3)))
        parts = []
        for block in re.split(r"^(?=부칙\s*[<(（])", supp, flags=re.MULTILINE):
            head = re.match(r"부칙\s*(?:[(（][^)）\n]*[)）]\s*)?<([^>\n]*)>", block)
            if not head:
                continue
            found = {}
            for m in re.finditer(r"^(제\d+조(?:의\d+)?)\s*(?:\(([^)\n]*)\))?(.*?)(?=^제\d+조|\Z)",
                                 block[head.end():], re.MULTILINE | re.DOTALL):
                found[m.group(1)] = Article(title, m.group(1), (m.group(2) or "").strip(),
                                            _clean(m.group(3)), head.group(1).strip())
            parts.append((head.group(1).strip(), found))
        out[title_key(title)] = Statute(title, path, articles, parts)
    return out


def find_statute(name: str, folder: Path, aliases: Mapping[str, str] | None = None) -> Statute:
    """The statute of `folder` that `name` names: its title, an alias, or a unique prefix."""
    table = statutes(folder)
    key = title_key(name)
    key = next((title_key(title) for alias, title in (aliases or {}).items()
                if title_key(alias) == key),
               key)
    if key in table:
        return table[key]
    candidates = [s for k, s in table.items() if k.startswith(key) or key.startswith(k)]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(s.title for s in table.values())
    raise ValueError(f"이 팩에 없는 법령입니다 / no statute {name!r} in the pack ({known})")


def _paragraph(text: str, number: int) -> str | None:
    if number > len(CIRCLED):
        return None
    marker = CIRCLED[number - 1]
    start = text.find(marker)
    if start == -1:
        return None
    end = text.find(CIRCLED[number], start) if number < len(CIRCLED) else -1
    return text[start:end if end != -1 else len(text)].strip()


def _item(text: str, item: str) -> str | None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^{re.escape(item)}\.\s", line):
            out = [line]
            for follow in lines[i + 1:]:
                if re.match(r"^\d+(?:의\d+)?\.\s", follow) or follow[:1] in CIRCLED:
                    break
                out.append(follow)
            return "\n".join(out)
    return None


def find_article(citation: str, law: str | None, folder: Path,
                 aliases: Mapping[str, str] | None = None) -> Found:
    """The article (or 항, 호) a citation names in the statutes of `folder`: "근로기준법 제26조",
    "형법 제347조제1항", "부칙 제2조" with `law` (부칙: the latest amendment's, or the one named
    as in "부칙 <제8372호> 제2조"). A citation that names nothing there is a ValueError."""
    match = CITATION.match(unicodedata.normalize("NFC", citation).strip())
    if not match:
        raise ValueError(f"조문 인용을 읽을 수 없습니다 / cannot read citation {citation!r} "
                         "(e.g. '근로기준법 제26조', '형법 제347조제1항')")
    name = match.group("law").strip() or (law or "")
    if not name:
        raise ValueError("법령명을 주세요 / name the law (citation or `law`)")
    statute = find_statute(name, folder, aliases)
    number = f"제{match.group('art')}조" + (f"의{match.group('sub')}" if match.group("sub") else "")
    article: Article | None
    if match.group("supp"):
        amend = match.group("amend")
        parts = statute.supplementary
        if amend:
            wanted = title_key(amend)
            parts = [p for p in parts
                     if title_key(p[0]).startswith(wanted) or wanted in title_key(p[0])]
        article = next((arts[number] for _, arts in reversed(parts) if number in arts), None)
        label = f"부칙 {number}"
    else:
        article = statute.articles.get(number)
        label = number
    if article is None:
        raise ValueError(f"{statute.title}에 {label}가 없습니다 / no {label} in {statute.title}")
    text = article.text
    cite = f"{statute.title} {label}"
    if match.group("para"):
        paragraph = _paragraph(text, int(match.group("para")))
        if paragraph is None:
            raise ValueError(f"{cite}에 제{match.group('para')}항이 없습니다 / no paragraph "
                             f"{match.group('para')} in {cite}")
        text = paragraph
        cite += f"제{match.group('para')}항"
    if match.group("item"):
        item = _item(text, match.group("item"))
        if item is None:
            raise ValueError(f"{cite}에 제{match.group('item')}호가 없습니다 / no item "
                             f"{match.group('item')} in {cite}")
        text = item
        cite += f"제{match.group('item')}호"
    return Found(cite, statute, label, article, text)


def article_lookup(citation: str, law: str | None, folder: Path,
                   aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A pack's `lookup_article` tool result, ``{"result", "articles", "notes"}``: the law, the
    article, its title and text (or the 항, 호 asked for), the file it is in, and for a 부칙
    article its amendment."""
    found = find_article(citation, law, folder, aliases)
    result = {"law": found.statute.title, "article": found.label, "title": found.article.title,
              "text": found.text, "file": found.statute.path.name}
    if found.article.amendment:
        result["amendment"] = f"부칙 <{found.article.amendment}>"
    return {"result": result, "articles": [found.citation], "notes": []}
