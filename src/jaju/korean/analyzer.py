"""The Korean analyzer: Kiwi morphemes for search, character bigrams, sentence splitting.

Search indexes *content morphemes*: nouns, verb and adjective stems, roots, foreign words,
numbers and hanja, so "계약을" and "계약한" both match "계약". Character bigrams of each word
catch what the analyser splits differently (compounds, names, typos). One `Analyzer` holds one
Kiwi instance; build it once (about a second) and pass it around.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CONTENT_TAGS = {"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH",
                "VV-R", "VA-R", "VV-I", "VA-I", "MAG"}
STOP_MORPHS = {"것", "수", "등", "때", "중", "및", "이", "그", "저", "있", "하", "되", "않", "없",
               "같", "어떻", "무엇", "어디", "누구", "언제", "왜", "뭐", "거", "나", "너", "우리",
               "저희", "좀", "안", "못", "제일", "정말", "너무", "그냥", "많이", "더", "또", "잘"}
WORD = re.compile(r"[\w]+", re.UNICODE)
SENTENCE_END = re.compile(r"(?:(?<=[다요죠까니]\.)|(?<=[.?!。…][\"'”’)]))\s+|(?<=[?!。])\s+|\n+")
KIWI_SPAN = 400


def normalize(text: str) -> str:
    """NFC, and compatibility forms folded for search (full-width letters, circled numbers).
    The Korean middle dot of statute titles ("수집ㆍ이용") is the letter U+318D, which NFKC
    would turn into a conjoining vowel that Kiwi reads as a word: it becomes punctuation."""
    return unicodedata.normalize("NFKC", text.replace("\u318d", "\u00b7")).lower()


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


class Analyzer:
    def __init__(self, *, num_workers: int = -1) -> None:
        """`num_workers`: Kiwi's threads for batches (-1: all cores, 0: none)."""
        from kiwipiepy import Kiwi

        self._kiwi: Any = Kiwi(num_workers=num_workers)
        self._batch = num_workers != 0

    def morphemes(self, text: str, *, keep_stopwords: bool = False) -> list[str]:
        """Content morphemes of `text`, lower-cased, in order (duplicates kept).
        `keep_stopwords` keeps generic ones too (안, 주, 하): phrases are matched on those."""
        return _content(self._kiwi.tokenize(normalize(text)), keep_stopwords)

    def morphemes_many(self, texts: list[str]) -> list[list[str]]:
        if not texts:
            return []
        if not self._batch:
            return [self.morphemes(t) for t in texts]
        return [_content(tokens) for tokens in self._kiwi.tokenize([normalize(t) for t in texts])]

    def sentences(self, text: str) -> list[Sentence]:
        """Sentences with character offsets into `text`.

        A fast rule finds the plain cases (a sentence-final ending or punctuation followed by
        a space); Kiwi's sentence splitter, which analyses the text, handles any stretch the
        rule leaves longer than `KIWI_SPAN` characters."""
        out: list[Sentence] = []
        for start, end in _rule_spans(text):
            if end - start <= KIWI_SPAN:
                out.append(Sentence(text[start:end], start, end))
                continue
            for s in self._kiwi.split_into_sents(text[start:end]):
                out.append(Sentence(s.text, start + s.start, start + s.end))
        return out


def _content(tokens: Iterable[Any], keep_stopwords: bool = False) -> list[str]:
    out = []
    for t in tokens:
        tag = t.tag
        if tag in CONTENT_TAGS and (keep_stopwords or t.form not in STOP_MORPHS):
            out.append(t.form.lower())
    return out


def bigrams(text: str) -> list[str]:
    """Character bigrams of each word (a one-character word stays whole)."""
    out: list[str] = []
    for word in WORD.findall(normalize(text)):
        if len(word) == 1:
            out.append(word)
        else:
            out.extend(word[i:i + 2] for i in range(len(word) - 1))
    return out


def _rule_spans(text: str) -> list[tuple[int, int]]:
    """Spans between sentence-final punctuation (after a Korean ending or a quote) and line
    breaks; whitespace at the edges is left out."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]
