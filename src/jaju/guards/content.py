"""Korean content safety: a curated lexicon (with evasion handling) plus a learned classifier.

Categories: `profanity` (욕설·모욕), `hate` (gender, region, age, religion, origin, disability),
`sexual`, `violence` (incl. self-harm). The lexicon (`data/lexicon.tsv`, documented there)
matches after the text is normalised against common evasions: NFKC, lower case, Latin and
digit look-alikes, and spaces or symbols inserted between Hangul letters ("시 발", "시.발"),
including initial-consonant spellings (ㅅㅂ) and words typed as separate letters ("ㄷㅏㅁㅂㅐ",
composed back into syllables for the lexicon). The classifier — logistic regression over hashed
character n-grams, trained by `scripts/train_safety.py` on the BEEP! Korean hate-speech corpus
(CC BY-SA 4.0) plus neutral text from other sources — gives an `offensive` probability for
what the lexicon cannot list. Both load from files inside the package: CPU only, no downloads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).parent / "data"
MODEL_FILE = DATA / "safety_model.npz"
LEXICON_FILE = DATA / "lexicon.tsv"
LEXICON_CATEGORIES = ("profanity", "hate", "sexual", "violence", "minors")
"""What the lexicon scores (0 or 1). `minors`: asking how to get what the law keeps from
minors (담배·술 몰래 사는 법, 도박 사이트) — for a pupils' tenant; not in the default list."""
CATEGORIES = (*LEXICON_CATEGORIES, "offensive")
OPT_IN = ("minors",)
"""Categories a policy names to use (`categories`); a check's `flagged` leaves them out."""
OFFENSIVE_THRESHOLD = 0.7
LOOKALIKES = str.maketrans({"0": "ㅇ", "@": "ㅇ", "$": "ㅅ", "¥": "ㅅ"})
INSERTED = re.compile(r"(?<=[가-힣ㄱ-ㅎㅏ-ㅣ])[\s\W_0-9]{1,3}(?=[가-힣ㄱ-ㅎㅏ-ㅣ])")


def _fold(ch: str) -> str:
    # NFKC, except for compatibility jamo (ㅅ, ㅂ): NFKC would turn them into conjoining jamo
    return ch if "\u3131" <= ch <= "\u318e" else unicodedata.normalize("NFKC", ch)


def normalise(text: str) -> str:
    """The text as the lexicon sees it: evasions folded away."""
    text = "".join(_fold(ch) for ch in unicodedata.normalize("NFC", text)).lower()
    if ODD_LETTERS.search(text):  # rare: translating every text would double the cost
        text = text.translate(LETTER_FORMS)
    return INSERTED.sub("", text)


CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
JUNGSEONG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
JONGSEONG = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]
DOUBLE_VOWELS = {"ㅗㅏ": "ㅘ", "ㅗㅐ": "ㅙ", "ㅗㅣ": "ㅚ", "ㅜㅓ": "ㅝ", "ㅜㅔ": "ㅞ", "ㅜㅣ": "ㅟ",
                 "ㅡㅣ": "ㅢ"}
DOUBLE_FINALS = {"ㄱㅅ": "ㄳ", "ㄴㅈ": "ㄵ", "ㄴㅎ": "ㄶ", "ㄹㄱ": "ㄺ", "ㄹㅁ": "ㄻ", "ㄹㅂ": "ㄼ",
                 "ㄹㅅ": "ㄽ", "ㄹㅌ": "ㄾ", "ㄹㅍ": "ㄿ", "ㄹㅎ": "ㅀ", "ㅂㅅ": "ㅄ"}
LETTERS = re.compile(r"[가-힣]?[ㄱ-ㅣ]{2,}|[가-힣][ㄱ-ㅎ]")
"""Letters typed one by one, with the syllable before them (its final may be among them)."""
CONJOINING = {0x1100 + i: ch for i, ch in enumerate(CHOSEONG)} | {
    0x1161 + i: ch for i, ch in enumerate(JUNGSEONG)} | {
    0x11A8 + i: ch for i, ch in enumerate(JONGSEONG[1:])}
"""Conjoining jamo (left alone by NFC, or made by NFKC from half-width letters) to the
compatibility letters a keyboard types."""
FILLERS = "\u3164\uffa0\u115f\u1160"
"""Hangul fillers: blank letters, dropped like the symbols inserted between letters."""
LETTER_FORMS = CONJOINING | {ord(ch): None for ch in FILLERS}
ODD_LETTERS = re.compile("[\u1100-\u11ff\u3164\uffa0]")
"""Conjoining letters and fillers: the texts that need LETTER_FORMS."""


def compose(text: str) -> str:
    """Runs of compatibility jamo typed one by one, composed into syllables as a Korean
    keyboard would ("ㄷㅏㅁㅂㅐ" → "담배"); consonants without a vowel (ㅅㅂ) stay as typed."""
    return LETTERS.sub(lambda m: _run(m.group()), text)


def _run(run: str) -> str:
    first = ord(run[0]) - 0xAC00
    if first < 0:  # letters only
        return _syllables(run)
    if first % 28:  # the syllable has its final: the letters start a new one
        return run[0] + _syllables(run[1:])
    return _syllables(CHOSEONG[first // 588] + JUNGSEONG[first % 588 // 28] + run[1:])


def _syllables(jamo: str) -> str:
    out, i, n = [], 0, len(jamo)

    def vowel_at(k: int) -> bool:
        return k < n and jamo[k] in JUNGSEONG

    while i < n:
        if jamo[i] not in CHOSEONG or not vowel_at(i + 1):
            out.append(jamo[i])
            i += 1
            continue
        initial, vowel, j = jamo[i], jamo[i + 1], i + 2
        if j < n and vowel + jamo[j] in DOUBLE_VOWELS:
            vowel, j = DOUBLE_VOWELS[vowel + jamo[j]], j + 1
        final = ""
        if j < n and jamo[j] in JONGSEONG and not vowel_at(j + 1):  # else it starts the next
            final, j = jamo[j], j + 1
            if j < n and final + jamo[j] in DOUBLE_FINALS and not vowel_at(j + 1):
                final, j = DOUBLE_FINALS[final + jamo[j]], j + 1
        code = (CHOSEONG.index(initial) * 21 + JUNGSEONG.index(vowel)) * 28
        out.append(chr(0xAC00 + code + JONGSEONG.index(final)))
        i = j
    return "".join(out)


def squash(text: str) -> str:
    return normalise(text)


@dataclass
class ContentResult:
    flagged: bool
    categories: dict[str, float] = field(default_factory=dict)
    matches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"flagged": self.flagged,
                "categories": {k: round(v, 3) for k, v in self.categories.items()},
                "matches": self.matches}


class Lexicon:
    def __init__(self, path: Path = LEXICON_FILE) -> None:
        self.terms: list[tuple[str, str, re.Pattern[str]]] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            category, term = line.split("\t")[:2]
            folded = normalise(term.strip())
            self.terms.append((category, term.strip(), re.compile(re.escape(folded))))

    def scan(self, text: str) -> dict[str, list[str]]:
        folded = normalise(text).translate(LOOKALIKES)
        plain = unicodedata.normalize("NFKC", text).lower()
        forms = [folded, plain]
        if LETTERS.search(folded):
            forms.append(compose(folded))  # a word typed letter by letter
        hits: dict[str, list[str]] = {}
        for category, term, pattern in self.terms:
            if any(pattern.search(form) for form in forms):
                hits.setdefault(category, []).append(term)
        return hits


class Classifier:
    """Logistic regression over hashed features; weights stored sparse in an .npz file."""

    def __init__(self, path: Path = MODEL_FILE) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        data = np.load(path)
        self.bias = float(data["bias"])
        self.threshold = float(data["threshold"])
        self.blocks: list[tuple[str, Any, np.ndarray, np.ndarray]] = []
        specs: list[tuple[str, int, dict[str, Any]]] = [
            ("char", 2 ** 20, {"analyzer": "char", "ngram_range": (1, 4),
                               "preprocessor": squash}),
            ("word", 2 ** 20, {"analyzer": "char_wb", "ngram_range": (1, 5),
                               "preprocessor": lambda s: unicodedata.normalize("NFKC", s)
                               .lower()}),
        ]
        for name, size, kwargs in specs:
            if f"{name}_idf_index" not in data:
                continue
            idf = np.zeros(size, dtype=np.float32)
            coef = np.zeros(size, dtype=np.float32)
            idf[data[f"{name}_idf_index"]] = data[f"{name}_idf_value"]
            coef[data[f"{name}_coef_index"]] = data[f"{name}_coef_value"]
            vec = HashingVectorizer(alternate_sign=False, norm=None, n_features=size, **kwargs)
            self.blocks.append((name, vec, idf, coef))

    def probability(self, texts: list[str]) -> np.ndarray:
        score = np.full(len(texts), self.bias, dtype=np.float64)
        for _, vec, idf, coef in self.blocks:
            counts = vec.transform(texts).tocsr()
            # sublinear tf-idf, L2-normalised per text, dotted with the weights: all O(nnz)
            weights = (np.log(counts.data) + 1.0) * idf[counts.indices]
            rows = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
            norms = np.sqrt(np.bincount(rows, weights=weights ** 2, minlength=len(texts)))
            norms[norms == 0] = 1.0
            score += np.bincount(rows, weights=weights * coef[counts.indices],
                                 minlength=len(texts)) / norms
        return 1.0 / (1.0 + np.exp(-score))


class ContentGuard:
    def __init__(self, thresholds: dict[str, float] | None = None) -> None:
        self.lexicon = Lexicon()
        self.classifier = Classifier() if MODEL_FILE.exists() else None
        # 0.45 maximises F1 on the comments the model was trained on; 0.7 keeps the flag rate
        # on neutral text from elsewhere at 0-3% (precision 0.84, recall 0.52 on the
        # comments). See docs/guards.md and docs/benchmarks.md.
        self.thresholds = {"offensive": OFFENSIVE_THRESHOLD if self.classifier else 1.0,
                           **(thresholds or {})}

    def check(self, text: str) -> ContentResult:
        hits = self.lexicon.scan(text)
        categories = {c: (1.0 if c in hits else 0.0) for c in LEXICON_CATEGORIES}
        if self.classifier is not None:
            categories["offensive"] = float(self.classifier.probability([text])[0])
        flagged = any(score >= self.thresholds.get(name, 0.5)
                      for name, score in categories.items() if score > 0 and name not in OPT_IN)
        return ContentResult(flagged, categories, sorted({t for ts in hits.values()
                                                          for t in ts}))
