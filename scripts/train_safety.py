"""Train the content-safety classifier shipped in src/jaju/guards/data/safety_model.npz.

Run: .venv/bin/python scripts/train_safety.py [TRAIN_TSV]
(default ../shared/data/safety/korean-hate-speech/train.tsv, BEEP! CC BY-SA 4.0).

Model: logistic regression (C=2) over three hashed feature blocks with sublinear TF-IDF —
character 1–4-grams of the evasion-folded text, character 1–5-grams within words, and Kiwi
morpheme uni/bigrams — labels offensive+hate vs none. The decision threshold (0.45) was chosen
by 5-fold cross-validation (bench/safety.py). Only non-zero weights and idf values are stored.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from jaju.guards.content import MODEL_FILE, squash  # noqa: E402

THRESHOLD = 0.45


def load(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["comments"] for r in rows], np.array([r["hate"] != "none" for r in rows], int)


def features(texts: list[str]):  # type: ignore[no-untyped-def]
    import unicodedata

    from kiwipiepy import Kiwi
    from sklearn.feature_extraction.text import HashingVectorizer

    kiwi = Kiwi(num_workers=-1)
    morph = [" ".join(f"{t.form}/{t.tag[0]}" for t in kiwi.tokenize(s)) for s in texts]
    return [
        ("char", HashingVectorizer(analyzer="char", ngram_range=(1, 4), n_features=2 ** 20,
                                   alternate_sign=False, norm=None, preprocessor=squash), texts),
        ("word", HashingVectorizer(analyzer="char_wb", ngram_range=(1, 5), n_features=2 ** 20,
                                   alternate_sign=False, norm=None,
                                   preprocessor=lambda s: unicodedata.normalize("NFKC", s)
                                   .lower()), texts),
        ("morph", HashingVectorizer(token_pattern=r"\S+", ngram_range=(1, 2),
                                    n_features=2 ** 18, alternate_sign=False, norm=None,
                                    lowercase=False), morph),
    ]


def fit(texts: list[str], labels: np.ndarray) -> dict[str, np.ndarray]:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    blocks, out, idfs = [], {}, {}
    for name, vec, data in features(texts):
        counts = vec.transform(data)
        tfidf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts)
        blocks.append(normalize(tfidf.transform(counts)))
        idfs[name] = (tfidf.idf_, counts.shape[1])
    clf = LogisticRegression(max_iter=3000, C=2).fit(hstack(blocks).tocsr(), labels)
    coef, at = clf.coef_[0], 0
    for name, (idf, size) in idfs.items():
        seen = np.flatnonzero(np.asarray((coef[at:at + size] != 0)))
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
    arrays = fit(texts, labels)
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(MODEL_FILE, **arrays)
    print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size / 1e6:.1f} MB) from {len(texts)} rows")


if __name__ == "__main__":
    main()
