"""Content-safety benchmark: "offensive or hate" vs "none".

Run: .venv/bin/python bench/safety.py [TRAIN_TSV] [--test TEST_TSV]
Without --test: 5-fold cross-validation on TRAIN_TSV (default: the BEEP! train split in
../shared), side by side with the plain baseline (TF-IDF character 1–3-grams + logistic
regression). With --test: train on TRAIN_TSV, score TEST_TSV (same columns). Also measures the
shipped model's throughput (sentences/s) in batches.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from train_safety import THRESHOLD, features, load  # noqa: E402


def jaju_scores(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    tr_blocks, te_blocks = [], []
    for (_, vec, data_tr), (_, _, data_te) in zip(features(train), features(test), strict=True):
        counts = vec.transform(data_tr)
        tfidf = TfidfTransformer(sublinear_tf=True, norm=None).fit(counts)
        tr_blocks.append(normalize(tfidf.transform(counts)))
        te_blocks.append(normalize(tfidf.transform(vec.transform(data_te))))
    clf = LogisticRegression(max_iter=3000, C=2).fit(hstack(tr_blocks).tocsr(), y)
    return clf.predict_proba(hstack(te_blocks).tocsr())[:, 1]


def baseline_scores(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2)
    clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(train), y)
    return clf.predict_proba(vec.transform(test))[:, 1]


def prf(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    p = tp / max(1, int(pred.sum()))
    r = tp / max(1, int(y.sum()))
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("train", nargs="?", type=Path,
                    default=ROOT.parent / "shared/data/safety/korean-hate-speech/train.tsv")
    ap.add_argument("--test", type=Path)
    args = ap.parse_args()
    texts, y = load(args.train)
    systems = {"baseline: char 1-3 TF-IDF + LR": (baseline_scores, 0.5),
               "jaju: hashed char + word + Kiwi morphemes + LR": (jaju_scores, THRESHOLD)}
    rows = ["| system | precision | recall | F1 |", "|---|---|---|---|"]
    for name, (score, threshold) in systems.items():
        if args.test:
            test_texts, test_y = load(args.test)
            p, r, f = prf(test_y, (score(texts, y, test_texts) >= threshold).astype(int))
        else:
            from sklearn.model_selection import StratifiedKFold

            folds = StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y)
            results = []
            for tr, te in folds:
                s = score([texts[i] for i in tr], y[tr], [texts[i] for i in te])
                results.append(prf(y[te], (s >= threshold).astype(int)))
            p, r, f = (float(np.mean(v)) for v in zip(*results, strict=True))
        rows.append(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} |")
        print(rows[-1], file=sys.stderr)

    from jaju.guards.content import Classifier

    started = time.perf_counter()
    model = Classifier()
    load_s = time.perf_counter() - started
    model.probability(texts[:50])
    started = time.perf_counter()
    for i in range(0, 4000, 500):
        model.probability(texts[i:i + 500])
    rate = 4000 / (time.perf_counter() - started)
    how = f"test file {args.test.name}" if args.test else "5-fold cross-validation"
    text = "\n".join([f"{how} on {args.train.name} ({len(texts)} rows).", "", *rows, "",
                      f"Shipped model: loads in {load_s:.2f} s; {rate:,.0f} sentences/s in "
                      "batches of 500 (2 cores, CPU)."])
    print(text)


if __name__ == "__main__":
    main()
