"""Synonym dictionaries: everyday words -> the formal terms documents use.

People ask "잘렸어요" and "월급"; statutes say 해고 and 임금. A dictionary maps the morphemes of
an everyday phrase to the morphemes of formal terms; search adds the formal terms to a query
whose morphemes contain the phrase. Shipped dictionaries live beside this file as TSV.
"""

from __future__ import annotations

from pathlib import Path

from jaju.errors import ConfigError
from jaju.korean.analyzer import STOP_MORPHS, Analyzer, normalize

HERE = Path(__file__).parent
MAX_KEY_PARTS = 8  # longer phrases are not looked for in a query


def available() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.tsv"))


def load(name_or_path: str, analyzer: Analyzer) -> dict[str, list[str]]:
    """Read a dictionary (a shipped name or a TSV path): {"key morphemes": [morphemes]}."""
    path = HERE / f"{name_or_path}.tsv"
    if not path.exists():
        path = Path(name_or_path)
    if not path.exists():
        raise ConfigError(f"동의어 사전이 없습니다 / no synonym dictionary '{name_or_path}' "
                          f"(shipped: {', '.join(available())})")
    mapping: dict[str, list[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" not in line:
            raise ConfigError(f"{path}:{number}: expected 'words<TAB>terms'")
        words, terms = line.split("\t", 1)
        values = []
        for term in (t.strip() for t in terms.split(",")):
            if not term:
                continue
            if " " not in term:  # a single formal word: keep it whole, as documents spell it
                values.append(normalize(term))
            values += analyzer.morphemes(term)
        keys = {" ".join(analyzer.morphemes(words, keep_stopwords=True))}
        if " " not in words.strip() and words.strip().endswith("다"):
            stem = words.strip()[:-1]  # a verb in dictionary form: its stem
            if len(stem) > 1 and all(len(k) == 1 for k in keys):
                keys = set()  # 속이다 analysed as 속 + 이다: "속이 쓰려요" is not 사기
            keys.add(stem)
        for key in keys - {""}:
            if len(key) == 1 and " " in words.strip():
                continue  # a phrase that shrank to one syllable would match far too much
            if all(part in STOP_MORPHS for part in key.split(" ")):
                continue  # "해도 된다" is only 하 + 되: it would match every question
            mapping.setdefault(key, [])
            mapping[key] += [v for v in dict.fromkeys(values) if v not in mapping[key]]
    return mapping


def expand(morphemes: list[str], mapping: dict[str, list[str]]) -> list[str]:
    """Formal-term morphemes for every dictionary phrase found (contiguously) in `morphemes`
    (the query's morphemes with stopwords kept, as the keys were analysed).

    Looks up the query's own runs of morphemes, so the cost follows the query, not the size
    of the dictionary (it runs on every search of a knowledge base with one)."""
    if not mapping:
        return []
    longest = min(len(morphemes), MAX_KEY_PARTS)
    found: dict[str, None] = {}
    for i, first in enumerate(morphemes):
        for size in range(1, longest + 1):
            key = " ".join(morphemes[i:i + size])
            if key in mapping:
                found[key] = None
        for end in range(2, len(first)):  # a compound noun: "월급날" contains "월급"
            if first[:end] in mapping:
                found[first[:end]] = None
    return [term for key in found for term in mapping[key]]
