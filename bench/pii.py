"""PII benchmark: span-level precision/recall/F1 per type and overall, false positives on the
sentences without PII, and throughput, for jaju, Microsoft Presidio (its Korean recognizers
enabled, pattern-only: no NLP model) and the `korean-pii` package, side by side in one run.

Run: .venv/bin/python bench/pii.py [DEV_JSONL] [--hard bench/data/pii_hard.jsonl]
Needs `pip install presidio-analyzer korean-pii` in the venv (the script says if one is
missing and skips it). A span counts when start, end and type all match.

A third set is made from the hard set (deterministic, seed 7): every identifier is rewritten
the way real text writes it — full-width digits, en dash, minus or `－` for the hyphen, dots or
spaces as separators, zero-width spaces inside, lower-case or spaced passports, a full-width
`＠` — and every text without PII gets full-width digits and dash variants, with the spans moved
to match.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

Span = tuple[int, int, str]


def jaju_system() -> Callable[[str], list[Span]]:
    from jaju.guards.pii import detect

    return lambda text: [(f.start, f.end, f.type) for f in detect(text)]


def korean_pii_system() -> Callable[[str], list[Span]]:
    import korean_pii

    names = {"rrn": "RRN", "phone": "PHONE", "card": "CARD", "email": "EMAIL",
             "passport": "PASSPORT", "driver_license": "DRIVER", "account": "ACCOUNT"}
    return lambda text: [(d.start, d.end, names.get(d.type, d.type))
                         for d in korean_pii.detect(text)]


def presidio_system() -> Callable[[str], list[Span]]:
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())  # offline
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "ko", "model_name": "no_op"}],
    }).create_engine()
    registry = RecognizerRegistry(supported_languages=["ko"])
    for cls in (pr.KrRrnRecognizer, pr.KrFrnRecognizer, pr.KrBrnRecognizer,
                pr.KrDriverLicenseRecognizer, pr.KrPassportRecognizer, pr.EmailRecognizer,
                pr.PhoneRecognizer, pr.CreditCardRecognizer, pr.IpRecognizer):
        registry.add_recognizer(cls(supported_language="ko"))
    engine = AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["ko"])
    names = {"KR_RRN": "RRN", "KR_FRN": "ARN", "KR_BRN": "BRN", "KR_DRIVER_LICENSE": "DRIVER",
             "KR_PASSPORT": "PASSPORT", "CREDIT_CARD": "CARD", "EMAIL_ADDRESS": "EMAIL",
             "PHONE_NUMBER": "PHONE", "IP_ADDRESS": "IP"}
    return lambda text: [(r.start, r.end, names.get(r.entity_type, r.entity_type))
                         for r in engine.analyze(text, language="ko", score_threshold=0.4)]


WIDE = str.maketrans("0123456789.-@", "０１２３４５６７８９．－＠")


def _variant(kind: str, value: str, rng: random.Random) -> str:
    """One real-text spelling of an identifier."""
    dash = rng.choice(["\u2013", "\u2212", "\uff0d", "\u2014"])
    choices = {
        "RRN": [lambda v: v.replace("-", dash), lambda v: v.translate(WIDE),
                lambda v: v.replace("-", "."), lambda v: v.replace("-", " "),
                lambda v: v.replace("-", "\u200b-\u200b")],
        "PHONE": [lambda v: v.replace("-", "."), lambda v: v.replace("-", " ", 1),
                  lambda v: v.replace("-", dash), lambda v: v.translate(WIDE)],
        "CARD": [lambda v: v.replace("-", ".").replace(" ", "."), lambda v: v.translate(WIDE),
                 lambda v: v[:4] + "\u200b" + v[4:]],
        "ACCOUNT": [lambda v: v.replace("-", " "), lambda v: v.replace("-", dash)],
        "PASSPORT": [lambda v: v.lower(), lambda v: v[0] + " " + v[1:]],
        "EMAIL": [lambda v: v.replace("@", "＠")],
        "IP": [lambda v: v.translate(WIDE)],
    }
    choices["ARN"] = choices["CRN"] = choices["RRN"]
    choices["BRN"] = choices["DRIVER"] = [lambda v: v.replace("-", dash), lambda v: v.translate(WIDE)]
    options = [f for f in choices.get(kind, []) if f(value) != value]
    return rng.choice(options)(value) if options else value


def real_text_variants(rows: list[dict], seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for row in rows:
        text, spans = row["text"], sorted(row["spans"], key=lambda s: s["start"])
        if not spans:
            out.append({"text": text.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
                        .replace("－", rng.choice(["－", "\u2013", "\u2212"])), "spans": []})
            continue
        pieces, moved, at, shift = [], [], 0, 0
        for s in spans:
            value = _variant(s["type"], text[s["start"]:s["end"]], rng)
            pieces += [text[at:s["start"]], value]
            start = s["start"] + shift
            moved.append({"start": start, "end": start + len(value), "type": s["type"]})
            shift += len(value) - (s["end"] - s["start"])
            at = s["end"]
        pieces.append(text[at:])
        out.append({"text": "".join(pieces), "spans": moved})
    return out


def evaluate(detect: Callable[[str], list[Span]], rows: list[dict]) -> dict:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    negative_fp = 0
    for row in rows[:20]:  # warm up (lazy compilation, caches) outside the timing
        detect(row["text"])
    predictions = [set(detect(r["text"])) for r in rows]
    # throughput: the whole set, again and again for at least a second; the median pass
    passes: list[float] = []
    while len(passes) < 3 or sum(passes) < 1.0:
        started = time.perf_counter()
        for r in rows:
            detect(r["text"])
        passes.append(time.perf_counter() - started)
        if len(passes) >= 50:
            break
    seconds = sorted(passes)[len(passes) // 2]
    for row, predicted in zip(rows, predictions, strict=True):
        gold = {(s["start"], s["end"], s["type"]) for s in row["spans"]}
        for span in gold:
            (tp if span in predicted else fn)[span[2]] += 1
        for span in predicted - gold:
            fp[span[2]] += 1
        if not gold and predicted:
            negative_fp += 1
    size = sum(len(r["text"].encode("utf-8")) for r in rows)
    return {"tp": tp, "fp": fp, "fn": fn, "negative_fp": negative_fp,
            "negatives": sum(1 for r in rows if not r["spans"]),
            "mb_s": size / seconds / 1e6 if seconds else float("inf")}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def table(name: str, rows: list[dict], systems: dict[str, Callable[[str], list[Span]]]
          ) -> list[str]:
    results = {s: evaluate(fn, rows) for s, fn in systems.items()}
    types = sorted({s["type"] for r in rows for s in r["spans"]})
    out = [f"**{name}** ({len(rows)} texts, "
           f"{sum(len(r['spans']) for r in rows)} spans, "
           f"{sum(1 for r in rows if not r['spans'])} without PII)", "",
           "| type | " + " | ".join(f"{s} P / R / F1" for s in systems) + " |",
           "|---|" + "---|" * len(systems)]
    for t in [*types, "overall"]:
        cells = []
        for res in results.values():
            if t == "overall":
                p, r, f = prf(sum(res["tp"].values()), sum(res["fp"].values()),
                              sum(res["fn"].values()))
            else:
                p, r, f = prf(res["tp"][t], res["fp"][t], res["fn"][t])
            cells.append(f"{p:.3f} / {r:.3f} / **{f:.3f}**" if t == "overall"
                         else f"{p:.3f} / {r:.3f} / {f:.3f}")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    out.append("| texts without PII flagged | " + " | ".join(
        f"{res['negative_fp']} of {res['negatives']}" for res in results.values()) + " |")
    out.append("| throughput MB/s | " + " | ".join(
        f"{res['mb_s']:.2f}" for res in results.values()) + " |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dev", nargs="?", type=Path,
                    default=ROOT.parent / "shared" / "data" / "pii" / "dev.jsonl")
    ap.add_argument("--hard", type=Path, default=ROOT / "bench" / "data" / "pii_hard.jsonl")
    args = ap.parse_args()
    systems: dict[str, Callable[[str], list[Span]]] = {"jaju": jaju_system()}
    for name, make in (("Presidio", presidio_system), ("korean-pii", korean_pii_system)):
        try:
            systems[name] = make()
        except ImportError as e:
            print(f"skipping {name}: {e}", file=sys.stderr)
    lines = []
    for label, path in (("shared dev set", args.dev), ("hard set", args.hard)):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
        lines += [*table(f"{label}: {path.name}", rows, systems), ""]
    lines += [*table(f"real-text variants of the hard set: {args.hard.name}, seed 7",
                     real_text_variants(rows), systems), ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
