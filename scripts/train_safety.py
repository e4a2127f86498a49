"""Train the content-safety classifier shipped in src/jaju/guards/data/safety_model.npz.

Run: .venv/bin/python scripts/train_safety.py [TRAIN_TSV]
(default ../shared/data/safety/korean-hate-speech/train.tsv, BEEP! CC BY-SA 4.0).

Model: logistic regression over two hashed feature blocks with sublinear TF-IDF — character
1–4-grams of the evasion-folded text and character 1–5-grams within words — labels
offensive+hate vs none. No morphological analysis, so it scores thousands of sentences a
second on two cores.

Training data: the BEEP! comments, plus neutral Korean text from other sources as extra
"none" examples, so that the model learns that formal or unfamiliar text is not offensive
merely for not looking like an entertainment-news comment: statute sentences (근로기준법,
개인정보 보호법; 형법 is held out for the out-of-domain check in bench/safety.py), the PII
sentences and documents made for this project, and the everyday legal questions of the
retrieval benchmark. The threshold is chosen by 5-fold cross-validation on BEEP! only.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from jaju.guards.content import MODEL_FILE, squash  # noqa: E402

THRESHOLD = 0.45
TRAIN_STATUTES = ("근로기준법.md", "개인정보보호법.md")
HELD_OUT_STATUTE = "형법.md"


def load(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["comments"] for r in rows], np.array([r["hate"] != "none" for r in rows], int)


def statute_sentences(path: Path) -> list[str]:
    """Sentences of a statute in data/statutes (front matter and markup removed)."""
    text = path.read_text(encoding="utf-8").split("---", 2)[-1]
    out = []
    for line in text.splitlines():
        line = re.sub(r"\*\*|#+\s*|<[^>]+>", "", line).strip()
        for sentence in re.split(r"(?<=다\.)\s+", line):
            if len(sentence) >= 10:
                out.append(sentence)
    return out


def extra_negatives(shared: Path | None = None) -> list[str]:
    texts: list[str] = []
    for name in TRAIN_STATUTES:
        texts += statute_sentences(ROOT / "data" / "statutes" / name)
    sources = [ROOT / "bench" / "data" / "pii_hard.jsonl",
               ROOT / "bench" / "data" / "everyday_statutes.jsonl",
               ROOT / "bench" / "data" / "everyday_statutes_heldout.jsonl",
               (shared or ROOT.parent / "shared" / "data") / "pii" / "dev.jsonl"]
    for path in sources:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                texts.append(row.get("text") or row.get("q") or "")
    return [t for t in texts if t]


def vectorizers() -> list[tuple[str, Any]]:
    from sklearn.feature_extraction.text import HashingVectorizer

    return [
        ("char", HashingVectorizer(analyzer="char", ngram_range=(1, 4), n_features=2 ** 20,
                                   alternate_sign=False, norm=None, preprocessor=squash)),
        ("word", HashingVectorizer(analyzer="char_wb", ngram_range=(1, 5), n_features=2 ** 20,
                                   alternate_sign=False, norm=None,
                                   preprocessor=lambda s: unicodedata.normalize("NFKC", s)
                                   .lower())),
    ]


def fit(texts: list[str], labels: np.ndarray, extra: list[str] | None = None
        ) -> dict[str, np.ndarray]:
    """Train; return the arrays of the .npz (only non-zero weights and their idf values)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    extra = extra or []
    texts = list(texts) + extra
    labels = np.concatenate([labels, np.zeros(len(extra), int)])
    blocks, out, idfs = [], {}, {}
    for name, vec in vectorizers():
        counts = vec.transform(texts)
        tfidf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts)
        blocks.append(normalize(tfidf.transform(counts)))
        idfs[name] = (tfidf.idf_, counts.shape[1])
    clf = LogisticRegression(max_iter=3000, C=2).fit(hstack(blocks).tocsr(), labels)
    coef, at = clf.coef_[0], 0
    for name, (idf, size) in idfs.items():
        seen = np.flatnonzero(np.asarray(coef[at:at + size] != 0))
        out[f"{name}_coef_index"] = seen.astype(np.int32)
        out[f"{name}_coef_value"] = coef[at:at + size][seen].astype(np.float32)
        out[f"{name}_idf_index"] = seen.astype(np.int32)
        out[f"{name}_idf_value"] = idf[seen].astype(np.float32)
        at += size
    out["bias"] = np.array(clf.intercept_[0])
    out["threshold"] = np.array(THRESHOLD)
    return out


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        ROOT.parent / "shared/data/safety/korean-hate-speech/train.tsv")
    texts, labels = load(path)
    extra = extra_negatives()
    arrays = fit(texts, labels, extra)
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(MODEL_FILE, **arrays)
    print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size / 1e6:.1f} MB) from {len(texts)} "
          f"comments and {len(extra)} neutral texts from other sources")


if __name__ == "__main__":
    main()
