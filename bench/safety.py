"""Content-safety benchmark: "offensive or hate" vs "none", and how the model holds up on
Korean text from elsewhere.

Run: .venv/bin/python bench/safety.py [TRAIN_TSV] [--test TEST_TSV] [--korquad KORQUAD_JSON]
Without --test: 5-fold cross-validation on TRAIN_TSV (default: the BEEP! train split in
../shared), side by side with the plain baseline (TF-IDF character 1–3-grams + logistic
regression); jaju's model is trained exactly as scripts/train_safety.py trains the shipped one
(the extra neutral texts join every training fold; folds are scored on BEEP! only) and scored
through the shipped inference code. With --test: train on TRAIN_TSV, score TEST_TSV.
Then the shipped model: its flag rate on neutral text it was not trained on (KorQuAD
paragraphs and questions, 형법 sentences) and its throughput (sentences/s).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from train_safety import (  # noqa: E402
    HELD_OUT_STATUTE,
    THRESHOLD,
    extra_negatives,
    fit,
    load,
    statute_sentences,
)

THRESHOLDS = (0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)


def jaju_scores(train: list[str], y: np.ndarray, test: list[str]) -> np.ndarray:
    from jaju.guards.content import Classifier

    arrays = fit(train, y, extra_negatives())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        np.savez_compressed(path, **arrays)
        return Classifier(path).probability(test)


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


def out_of_domain(korquad: Path, n: int = 400) -> dict[str, list[str]]:
    rng = random.Random(0)
    sets: dict[str, list[str]] = {}
    if korquad.exists():
        data = json.loads(korquad.read_text(encoding="utf-8"))["data"]
        paragraphs = [p["context"] for a in data for p in a["paragraphs"]]
        questions = [q["question"] for a in data for p in a["paragraphs"] for q in p["qas"]]
        sets["KorQuAD paragraphs (Wikipedia)"] = rng.sample(paragraphs, min(n, len(paragraphs)))
        sets["KorQuAD questions"] = rng.sample(questions, min(n, len(questions)))
    lines = statute_sentences(ROOT / "data" / "statutes" / HELD_OUT_STATUTE)
    sets["형법 sentences (held out)"] = rng.sample(lines, min(n, len(lines)))
    return sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("train", nargs="?", type=Path,
                    default=ROOT.parent / "shared/data/safety/korean-hate-speech/train.tsv")
    ap.add_argument("--test", type=Path)
    ap.add_argument("--korquad", type=Path,
                    default=ROOT.parent / "shared/data/korquad/KorQuAD_v1.0_dev.json")
    args = ap.parse_args()
    texts, y = load(args.train)
    systems = {"baseline: char 1-3 TF-IDF + LR": (baseline_scores, 0.5),
               "jaju: hashed char + in-word char n-grams + LR, extra neutral text":
                   (jaju_scores, THRESHOLD)}
    rows = ["| system | precision | recall | F1 |", "|---|---|---|---|"]
    sweep: list[str] = []
    for name, (score, threshold) in systems.items():
        if args.test:
            test_texts, test_y = load(args.test)
            p, r, f = prf(test_y, (score(texts, y, test_texts) >= threshold).astype(int))
        else:
            from sklearn.model_selection import StratifiedKFold

            folds = StratifiedKFold(5, shuffle=True, random_state=0).split(texts, y)
            results: dict[float, list[tuple[float, float, float]]] = {
                t: [] for t in {threshold, *THRESHOLDS}}
            for tr, te in folds:
                s = score([texts[i] for i in tr], y[tr], [texts[i] for i in te])
                for t in results:
                    results[t].append(prf(y[te], (s >= t).astype(int)))
            p, r, f = (float(np.mean(v)) for v in zip(*results[threshold], strict=True))
            if score is jaju_scores:
                sweep = ["| threshold | precision | recall | F1 |", "|---|---|---|---|"]
                sweep += ["| {:.2f} | {:.3f} | {:.3f} | {:.3f} |".format(
                    t, *(float(np.mean(v)) for v in zip(*results[t], strict=True)))
                    for t in sorted(results)]
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
    started = time.perf_counter()
    for t in texts[:500]:
        model.probability([t])
    single = 500 / (time.perf_counter() - started)

    ood = ["| neutral texts (not trained on) | n | ≥ 0.5 | ≥ 0.7 | ≥ 0.9 |", "|---|---|---|---|---|"]
    for name, sample in out_of_domain(args.korquad).items():
        s = model.probability(sample)
        ood.append(f"| {name} | {len(sample)} | {(s >= 0.5).mean():.3f} | {(s >= 0.7).mean():.3f} "
                   f"| {(s >= 0.9).mean():.3f} |")
    how = f"test file {args.test.name}" if args.test else "5-fold cross-validation"
    text = "\n".join([f"{how} on {args.train.name} ({len(texts)} rows); jaju at threshold "
                      f"{THRESHOLD}.", "", *rows, "",
                      *(["jaju by threshold (same folds):", "", *sweep, ""] if sweep else []),
                      f"Shipped model: loads in {load_s:.2f} s; {rate:,.0f} sentences/s in "
                      f"batches of 500, {single:,.0f}/s one at a time (2 cores, CPU).", "",
                      "Share of neutral text the shipped model flags:", "", *ood])
    print(text)


if __name__ == "__main__":
    main()
