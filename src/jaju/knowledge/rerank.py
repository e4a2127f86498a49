"""Article-level reranking of statute search hits: the right article first.

`KnowledgeIndex.search` ranks chunks. A question about a statute wants an article, and chunk
scores alone put the wrong one first in familiar ways: a long article cut into several chunks
fills the top places; the definitions article (제2조 정의) shares every word of a field; the
penalty articles (벌칙, 과태료) repeat the words of the duties they punish; a question about
a lease finds 민법's general articles as well as 주택임대차보호법's. This module takes the
chunks `search` returned (a few dozen candidates) and ranks *articles*, one hit each:

- **chunk evidence**: the article's best chunk score (relative to the best of all), plus a
  little for each further chunk of it that was found;
- **title**: how much of the article's title (제60조 (연차 유급휴가)) the question's words and
  their dictionary expansions cover — a title names what the article is about;
- **statute prior**: how much of the candidates' evidence falls in the article's statute, so a
  question routed to 주택임대차보호법 by most of its hits keeps its best articles there;
- **general articles** (목적, 벌칙, 과태료, 양벌규정, 준용) count less, 벌칙 and 과태료 unless
  the question asks about punishment; a question about punishment or about what a term means
  counts the 벌칙 or 정의 title as matched. A 양벌규정 (the employer fined along with the
  offender) is never what "처벌받나요?" asks. (정의 articles are not counted less: for 스토킹 or 보이스피싱
  the definitions article is where the acts are described, and the dev sets lost questions
  when it was.)

A passage that is no article (a school notice, a page of product terms) competes on its chunk
score alone, unless `Weights.passages` gives it the title and statute bonuses on its document's
title and evidence (the education pack sets it: its notices share one index with the statutes).

Plain functions over `Hit`s, no state: `rerank(query, hits, analyzer, synonyms)`. The default
weights were tuned on the law pack's dev sets only (dev.jsonl, dev2.jsonl; docs/benchmarks.md);
an assistant may override them (`rerank_weights` in its settings or pack.toml).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache

from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.index import Hit
from jaju.korean.analyzer import Analyzer

TITLE = re.compile(r"^\s*(?:부칙\s*)?제\s*\d+\s*조(?:\s*의\s*\d+)?\s*\(([^)]*)\)")
GENERAL_TITLES = {"목적": "purpose", "정의": "definition", "벌칙": "penalty",
                  "과태료": "penalty", "양벌규정": "general", "준용규정": "general",
                  "준용": "general", "권한의 위임": "general", "권한의 위임ㆍ위탁": "general",
                  "벌칙 적용에서 공무원 의제": "general", "벌칙 적용 시 공무원 의제": "general",
                  "벌칙 적용 시의 공무원 의제": "general", "규제의 재검토": "general",
                  "미수범": "general", "자격정지의 병과": "general", "벌금의 병과": "general"}
PENALTY_WORDS = ("처벌", "벌금", "벌칙", "징역", "과태료", "형량", "감옥", "벌받", "구속")
DEFINITION_WORDS = ("정의", "뜻", "의미", "무엇", "뭐예요", "뭔가요", "이란")


@dataclass(frozen=True)
class Weights:
    chunk: float = 1.0
    extra_chunk: float = 0.03
    title: float = 0.6
    statute: float = 0.2
    general: float = 0.6
    """Multiplier for a general article the question does not ask about."""
    gloss: float = 0.0
    """Weight of the best-matching phrase of the article's gloss (`Hit.keywords`), matched as
    the title is."""
    passages: float = 0.0
    """Share of the title and statute terms a passage that is no article gets, on its
    document's title ("12-겨울방학", "자주은행 예금·대출 상품약관") and its document's share of
    the evidence. 0 (the law pack's value: all its passages are articles) leaves such a passage
    its chunk score alone; a pack whose notices or product terms compete with statute articles
    sets 1, or the articles' title and statute bonuses push every notice down."""


DEFAULT = Weights()
CANDIDATES = 50
"""Chunks `search` is asked for before reranking (the gold article is among the first 50
chunks for ~0.9 of the dev questions)."""


def document_title(hit: Hit) -> str:
    """A passage's document title without its file-order prefix: "12-겨울방학" -> "겨울방학"."""
    return re.sub(r"^[\d\s._-]+", "", str(hit.source.get("title") or ""))


def article_key(hit: Hit) -> tuple[str, str] | None:
    article = hit.source.get("article")
    if not article:
        return None
    return (str(hit.source.get("title") or hit.source.get("path") or ""), str(article))


def article_title(text: str) -> str:
    """"제60조 (연차 유급휴가)\n..." -> "연차 유급휴가" ("" when the chunk has no title)."""
    match = TITLE.match(text)
    return match.group(1).strip() if match else ""


@lru_cache(maxsize=8192)
def _title_terms(analyzer: Analyzer, title: str) -> frozenset[str]:
    return frozenset(analyzer.morphemes(title)) | frozenset(_bigrams(title))


def _bigrams(text: str) -> list[str]:
    compact = re.sub(r"\W", "", text)
    return [compact[i:i + 2] for i in range(len(compact) - 1)]


def query_terms(query: str, analyzer: Analyzer,
                synonyms: dict[str, list[str]] | None) -> tuple[set[str], set[str]]:
    """The question's own content morphemes and bigrams, and the formal terms its everyday words
    expand to (morphemes and the bigrams of those terms)."""
    own = set(analyzer.morphemes(query)) | set(_bigrams(query))
    added = synonym_dicts.expand(analyzer.morphemes(query, keep_stopwords=True), synonyms or {})
    expanded = set(added) | {g for term in added for g in _bigrams(term)}
    return own, expanded - own


def title_match(title: str, own: set[str], expanded: set[str], analyzer: Analyzer) -> float:
    """Share of the title's terms found in the question (expansions count 0.7)."""
    terms = _title_terms(analyzer, title)
    if not terms:
        return 0.0
    hit = sum(1.0 if t in own else 0.7 if t in expanded else 0.0 for t in terms)
    return hit / len(terms)


def _document(hit: Hit, weights: Weights) -> str:
    """The statute-prior group of a passage that is no article: its document when passages
    compete (weights.passages), else none ("")."""
    return "#" + str(hit.source.get("path") or hit.source.get("title") or "") \
        if weights.passages else ""


def _general_kind(title: str) -> str | None:
    return GENERAL_TITLES.get(title.replace(" ", "")) or GENERAL_TITLES.get(title)


def rerank(query: str, hits: list[Hit], analyzer: Analyzer,
           synonyms: dict[str, list[str]] | None = None, k: int | None = None,
           weights: Weights = DEFAULT) -> list[Hit]:
    """One hit per article (its best chunk, or a found chunk holding it and more), best
    article first; hits without an article (not a statute) keep their chunk score and compete
    as they are. `k`: how many to return."""
    if not hits:
        return []
    best = max(h.score for h in hits) or 1.0
    own, expanded = query_terms(query, analyzer, synonyms)
    compact = query.replace(" ", "")
    asks_penalty = any(w in compact for w in PENALTY_WORDS)
    asks_definition = any(w in compact for w in DEFINITION_WORDS)

    groups: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    for index, hit in enumerate(hits):  # a passage that is no article stays on its own
        groups[article_key(hit) or (_document(hit, weights), f"#{index}")].append(hit)
    statute_mass: dict[str, float] = defaultdict(float)
    for (statute, _), members in groups.items():
        statute_mass[statute] += max(h.score for h in members) / best
    total_mass = sum(statute_mass.values()) or 1.0

    scored: list[tuple[float, Hit]] = []
    for key, members in groups.items():
        top = max(members, key=lambda h: h.score)
        score = weights.chunk * top.score / best
        score += weights.extra_chunk * (len(members) - 1)
        if article_key(top) is not None:
            title = article_title(top.text)
            kind = _general_kind(title)
            asked = (kind == "penalty" and asks_penalty) or \
                (kind == "definition" and asks_definition)
            # a question about punishment names the 벌칙 title in other words, and one about
            # what a term means the 정의 title
            match = 1.0 if asked else title_match(title, own, expanded, analyzer)
            score += weights.title * match
            if weights.gloss and top.keywords:
                score += weights.gloss * max(title_match(phrase, own, expanded, analyzer)
                                             for phrase in top.keywords.split(" / "))
            score += weights.statute * statute_mass[key[0]] / total_mass
            if kind not in (None, "definition") and not asked:
                score *= weights.general
        elif weights.passages:  # a notice or a page of terms, on its document's title
            match = title_match(document_title(top), own, expanded, analyzer)
            score += weights.passages * (weights.title * match
                                         + weights.statute * statute_mass[key[0]] / total_mass)
        scored.append((score, _fullest(top, members)))
    scored.sort(key=lambda item: -item[0])
    out = [replace(hit, score=score) for score, hit in scored]
    return out[:k] if k else out


def _fullest(top: Hit, members: list[Hit]) -> Hit:
    """The passage shown for an article: its best chunk, or a found chunk of it that holds
    the best one whole and more. A list article is cut into its lead-in ("다음 각 호의 행위를
    하여서는 아니 된다") and the lead-in with its items; the short lead-in scores higher, but
    the answer is in an item."""
    best = top.text.strip()
    fuller = [h for h in members if best and len(h.text) > len(top.text) and best in h.text
              and h.source.get("path") == top.source.get("path")]
    return max(fuller, key=lambda h: h.score) if fuller else top
