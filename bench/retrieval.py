"""Retrieval benchmark: KorQuAD 1.0 dev through jaju's own ingest and search, side by side with
plain whitespace-token BM25 (rank_bm25's BM25Okapi, what LangChain's BM25Retriever uses), and
the everyday-Korean statute questions in bench/data/everyday_statutes.jsonl.

Run: .venv/bin/python bench/retrieval.py [KORQUAD_DIR] [--limit N] [--out FILE]
KORQUAD_DIR defaults to ../shared/data/korquad (the file is read there, never copied).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from jaju.knowledge import KnowledgeIndex  # noqa: E402
from jaju.knowledge import synonyms as synonym_dicts  # noqa: E402
from jaju.knowledge.ingest import ingest  # noqa: E402
from jaju.korean import Analyzer  # noqa: E402
from jaju.plugins import get_plugin_manager, parsers  # noqa: E402


def metrics(ranks: list[int | None]) -> dict[str, float]:
    """ranks: 1-based rank of the relevant item in the top 10, or None."""
    n = len(ranks)
    return {
        "R@1": sum(r == 1 for r in ranks) / n,
        "R@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "R@10": sum(r is not None and r <= 10 for r in ranks) / n,
        "MRR@10": sum(1 / r for r in ranks if r) / n,
        "nDCG@10": sum(1 / math.log2(r + 1) for r in ranks if r) / n,
    }


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def first_rank(ids: list[str], relevant: Callable[[str], bool]) -> int | None:
    seen: list[str] = []
    for i in ids:
        if i not in seen:
            seen.append(i)
        if len(seen) > 10:
            break
        if relevant(i):
            return len(seen)
    return None


def korquad(data_dir: Path, work: Path, analyzer: Analyzer, limit: int | None,
            signals_list: list[tuple[str, ...]]) -> list[str]:
    raw = json.loads((data_dir / "KorQuAD_v1.0_dev.json").read_text(encoding="utf-8"))
    paragraphs = [p for article in raw["data"] for p in article["paragraphs"]]
    questions = [(q["question"], i) for i, p in enumerate(paragraphs) for q in p["qas"]]
    if limit:
        questions = questions[:limit]
    corpus = work / "korquad"
    corpus.mkdir()
    for i, p in enumerate(paragraphs):
        (corpus / f"p{i:04d}.txt").write_text(p["context"], encoding="utf-8")
    chars = sum(len(p["context"]) for p in paragraphs)

    index = KnowledgeIndex(work / "korquad.db", analyzer)
    kb = index.create("bench", "korquad")
    started = time.perf_counter()
    report = ingest(index, kb, [corpus], parsers(get_plugin_manager(load_entrypoints=False)))
    ingest_seconds = time.perf_counter() - started
    assert not report.failures, report.failures[:3]
    dense_note = ""
    if any("dense" in s for s in signals_list):
        started = time.perf_counter()
        kb = index.set_embedder(kb, "use")
        dense_seconds = time.perf_counter() - started
        dense_note = (f" Embedding every chunk with the `use` embedder (for the dense rows) "
                      f"takes another {dense_seconds:.1f} s ({chars / dense_seconds:,.0f} "
                      "characters/s).")

    rows = ["| system | R@1 | R@10 | MRR@10 | nDCG@10 | query p50 ms | query p99 ms |",
            "|---|---|---|---|---|---|---|"]

    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([p["context"].split() for p in paragraphs])
    ranks, times = [], []
    for question, answer in questions:
        t0 = time.perf_counter()
        scores = bm25.get_scores(question.split())
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:10]
        times.append((time.perf_counter() - t0) * 1000)
        ranks.append(top.index(answer) + 1 if answer in top else None)
    m = metrics(ranks)
    rows.append(f"| whitespace BM25 (rank_bm25) | {m['R@1']:.3f} | {m['R@10']:.3f} | "
                f"{m['MRR@10']:.3f} | {m['nDCG@10']:.3f} | {pct(times, .5):.1f} | "
                f"{pct(times, .99):.1f} |")
    print(rows[-1], file=sys.stderr)

    for signals in signals_list:
        ranks, times = [], []
        for question, answer in questions:
            t0 = time.perf_counter()
            hits = index.search(kb, question, 30, signals=signals)
            times.append((time.perf_counter() - t0) * 1000)
            ids = [Path(h.source["path"]).stem for h in hits]
            ranks.append(first_rank(ids, lambda i, a=answer: i == f"p{a:04d}"))
        m = metrics(ranks)
        rows.append(f"| jaju ({' + '.join(signals)}) | {m['R@1']:.3f} | {m['R@10']:.3f} | "
                    f"{m['MRR@10']:.3f} | {m['nDCG@10']:.3f} | {pct(times, .5):.1f} | "
                    f"{pct(times, .99):.1f} |")
        print(rows[-1], file=sys.stderr)
    index.close()
    return [f"KorQuAD 1.0 dev: {len(paragraphs)} paragraphs ({chars:,} characters) as the corpus, "
            f"{len(questions)} questions. jaju ingest end to end (parse, chunk, Kiwi, SQLite): "
            f"{ingest_seconds:.1f} s = **{chars / ingest_seconds:,.0f} characters/s** (default "
            f"configuration: lexical index only).{dense_note}", "",
            *rows]


def _cases(name: str) -> list[dict]:
    text = (HERE / "data" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def everyday(work: Path, analyzer: Analyzer, signals_list: list[tuple[str, ...]]) -> list[str]:
    sets = {"dev": _cases("everyday_statutes.jsonl"),
            "held-out": _cases("everyday_statutes_heldout.jsonl"),
            "fresh": _cases("everyday_statutes_fresh.jsonl"),
            "fresh-2": _cases("everyday_statutes_fresh2.jsonl"),
            "fresh-3": _cases("everyday_statutes_fresh3.jsonl")}
    index = KnowledgeIndex(work / "statutes.db", analyzer)
    kb = index.create("bench", "statutes")
    ingest(index, kb, sorted((ROOT / "data" / "statutes").glob("*.md")),
           parsers(get_plugin_manager(load_entrypoints=False)))
    if any("dense" in s for s in signals_list):
        kb = index.set_embedder(kb, "use")
    plain = kb
    with_synonyms = index.set_synonyms(kb, synonym_dicts.load("everyday-legal", analyzer))
    rows = ["| signals | synonyms | dev R@5 | dev MRR@10 | held-out R@5 | held-out MRR@10 | "
            "fresh R@5 | fresh MRR@10 | fresh-2 R@5 | fresh-2 MRR@10 | fresh-3 R@5 | "
            "fresh-3 MRR@10 | all R@5 | all MRR@10 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    variants = [(s, with_synonyms, "everyday-legal") for s in signals_list]
    variants.insert(0, (signals_list[0], plain, "none"))
    for signals, base, label in variants:
        cells = []
        every: list[int | None] = []
        for cases in sets.values():
            ranks = []
            for case in cases:
                hits = index.search(base, case["q"], 30, signals=signals)
                ids = [f"{h.source.get('title')}|{h.source.get('article')}" for h in hits]
                wanted = {f"{case['law']}|{a}" for a in case["articles"]}
                ranks.append(first_rank(ids, lambda i, w=wanted: i in w))
            m = metrics(ranks)
            cells += [f"{m['R@5']:.3f}", f"{m['MRR@10']:.3f}"]
            every += ranks
        m = metrics(every)
        cells += [f"{m['R@5']:.3f}", f"{m['MRR@10']:.3f}"]
        rows.append(f"| {' + '.join(signals)} | {label} | {' | '.join(cells)} |")
        print(rows[-1], file=sys.stderr)
    index.close()
    return [f"Everyday questions over the sample statutes, written the way people ask, each "
            f"with the article(s) that answer it: a dev set of {len(sets['dev'])} "
            "(bench/data/everyday_statutes.jsonl; the everyday-legal synonym dictionary was "
            f"extended while looking at its misses) and a held-out set of "
            f"{len(sets['held-out'])} (everyday_statutes_heldout.jsonl, written after the "
            "dictionary was first frozen, then measured after each later change, so no longer "
            f"blind), and a fresh set of {len(sets['fresh'])} (everyday_statutes_fresh.jsonl, "
            "written in session 3 before any change it was used to measure). "
            "A hit counts when its law and article match.", "", *rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" /
                    "korquad")
    ap.add_argument("--limit", type=int, help="only the first N KorQuAD questions")
    ap.add_argument("--signals", default="morph,gram",
                    help="semicolon-separated signal sets to compare, e.g. 'morph;morph,gram'")
    ap.add_argument("--skip-korquad", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    signals_list = [tuple(s.split(",")) for s in args.signals.split(";")]
    analyzer = Analyzer()
    analyzer.morphemes("준비 운동")  # Kiwi initialises lazily: keep that out of the timing
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_korquad:
            lines += ["### KorQuAD 1.0 dev (paragraph retrieval)", "",
                      *korquad(args.data, work, analyzer, args.limit, signals_list), ""]
        lines += ["### Everyday questions → statute articles", "",
                  *everyday(work, analyzer, signals_list)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    _ = statistics


if __name__ == "__main__":
    main()
