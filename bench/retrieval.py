"""Retrieval benchmark: KorQuAD 1.0 dev through jaju's own ingest and search, side by side with
plain whitespace-token BM25 (rank_bm25's BM25Okapi, what LangChain's BM25Retriever uses), and
the everyday-Korean statute questions in bench/data/everyday_statutes.jsonl.

Run: .venv/bin/python bench/retrieval.py [KORQUAD_DIR] [--limit N] [--out FILE]
KORQUAD_DIR defaults to ../shared/data/korquad (the file is read there, never copied).

`--store postgresql://…` runs KorQuAD a second time, in the same run and the same way, through a
knowledge base on that PostgreSQL database (what `[store] url` gives every replica), and prints
both engines side by side: quality, ingest and query times, and how many questions got the same
top 10 from both. The benchmark's knowledge base (tenant `bench`, `korquad`) is replaced there.
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


def korquad_questions(data_dir: Path, work: Path, limit: int | None
                     ) -> tuple[list[dict], list[tuple[str, int]], Path, int]:
    """KorQuAD's paragraphs written as text files under `work` (one per paragraph), and the
    (question, paragraph number) pairs."""
    raw = json.loads((data_dir / "KorQuAD_v1.0_dev.json").read_text(encoding="utf-8"))
    paragraphs = [p for article in raw["data"] for p in article["paragraphs"]]
    questions = [(q["question"], i) for i, p in enumerate(paragraphs) for q in p["qas"]]
    if limit:
        questions = questions[:limit]
    corpus = work / "korquad"
    if not corpus.exists():
        corpus.mkdir()
        for i, p in enumerate(paragraphs):
            (corpus / f"p{i:04d}.txt").write_text(p["context"], encoding="utf-8")
    return paragraphs, questions, corpus, sum(len(p["context"]) for p in paragraphs)


def run_engine(where: Path | str, corpus: Path, analyzer: Analyzer,
               questions: list[tuple[str, int]], signals_list: list[tuple[str, ...]]
               ) -> dict:
    """Ingest the corpus into a fresh knowledge base at `where` and ask every question with each
    signal set: ranks, the top-10 paragraph lists, query times, ingest and embedding seconds."""
    index = KnowledgeIndex(where, analyzer)
    old = index.find("bench", "korquad")
    if old is not None:
        index.delete(old)
    kb = index.create("bench", "korquad")
    started = time.perf_counter()
    report = ingest(index, kb, [corpus], parsers(get_plugin_manager(load_entrypoints=False)))
    out: dict = {"engine": index.engine, "ingest": time.perf_counter() - started,
                 "dense": None, "runs": {}}
    assert not report.failures, report.failures[:3]
    if any("dense" in s for s in signals_list):
        started = time.perf_counter()
        kb = index.set_embedder(kb, "use")
        out["dense"] = time.perf_counter() - started
    for signals in signals_list:
        ranks, times, tops = [], [], []
        for question, answer in questions:
            t0 = time.perf_counter()
            hits = index.search(kb, question, 30, signals=signals)
            times.append((time.perf_counter() - t0) * 1000)
            ids = [Path(h.source["path"]).stem for h in hits]
            ranks.append(first_rank(ids, lambda i, a=answer: i == f"p{a:04d}"))
            tops.append(list(dict.fromkeys(ids))[:10])
        out["runs"][signals] = (ranks, times, tops)
    index.close()
    return out


def row(label: str, ranks: list[int | None], times: list[float]) -> str:
    m = metrics(ranks)
    return (f"| {label} | {m['R@1']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} | "
            f"{m['nDCG@10']:.3f} | {pct(times, .5):.1f} | {pct(times, .99):.1f} |")


def korquad(data_dir: Path, work: Path, analyzer: Analyzer, limit: int | None,
            signals_list: list[tuple[str, ...]]) -> list[str]:
    paragraphs, questions, corpus, chars = korquad_questions(data_dir, work, limit)
    result = run_engine(work / "korquad.db", corpus, analyzer, questions, signals_list)
    ingest_seconds = result["ingest"]
    dense_note = ""
    if result["dense"] is not None:
        dense_seconds = result["dense"]
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
    rows.append(row("whitespace BM25 (rank_bm25)", ranks, times))
    print(rows[-1], file=sys.stderr)

    for signals, (ranks, times, _) in result["runs"].items():
        rows.append(row(f"jaju ({' + '.join(signals)})", ranks, times))
        print(rows[-1], file=sys.stderr)
    return [f"KorQuAD 1.0 dev: {len(paragraphs)} paragraphs ({chars:,} characters) as the corpus, "
            f"{len(questions)} questions. jaju ingest end to end (parse, chunk, Kiwi, SQLite): "
            f"{ingest_seconds:.1f} s = **{chars / ingest_seconds:,.0f} characters/s** (default "
            f"configuration: lexical index only).{dense_note}", "",
            *rows]


def korquad_engines(data_dir: Path, work: Path, analyzer: Analyzer, limit: int | None,
                    signals_list: list[tuple[str, ...]], store: str) -> list[str]:
    """KorQuAD through SQLite and through PostgreSQL (`store`), one after the other."""
    paragraphs, questions, corpus, chars = korquad_questions(data_dir, work, limit)
    results = [run_engine(where, corpus, analyzer, questions, signals_list)
               for where in (work / "engines.db", store)]
    rows = ["| engine | signals | R@1 | R@10 | MRR@10 | nDCG@10 | query p50 ms | query p99 ms | "
            "same top 10 as SQLite |", "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for signals, (ranks, times, tops) in result["runs"].items():
            same = sum(a == b for a, b in zip(tops, results[0]["runs"][signals][2], strict=True))
            cells = row("", ranks, times)[4:]
            rows.append(f"| {result['engine']} | {' + '.join(signals)} | {cells} "
                        f"{same / len(tops):.1%} |")
            print(rows[-1], file=sys.stderr)
    timing = ["| engine | ingest s | characters/s | `use` embedding s |", "|---|---|---|---|"]
    for result in results:
        dense = f"{result['dense']:.1f}" if result["dense"] is not None else "-"
        timing.append(f"| {result['engine']} | {result['ingest']:.1f} | "
                      f"{chars / result['ingest']:,.0f} | {dense} |")
    return [f"KorQuAD 1.0 dev: {len(paragraphs)} paragraphs ({chars:,} characters), "
            f"{len(questions)} questions, through a knowledge base on each engine in one run.",
            "", *rows, "", *timing]


def _cases(name: str) -> list[dict]:
    text = (HERE / "data" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# The everyday question sets, in the order they were written. Each later set was written before
# the dictionary change it was first measured on, and frozen; after that first (blind)
# measurement its misses were studied, so only a set's first measurement is blind.
EVERYDAY_SETS = [
    ("dev", "everyday_statutes.jsonl", "the dictionary was extended while looking at its misses"),
    ("held-out", "everyday_statutes_heldout.jsonl", "session 1; blind 0.441 / 0.500"),
    ("fresh", "everyday_statutes_fresh.jsonl", "session 3, before pass 3; blind 0.733 / 0.717"),
    ("fresh-2", "everyday_statutes_fresh2.jsonl", "after pass 3, before 4; blind 0.567 / 0.650"),
    ("fresh-3", "everyday_statutes_fresh3.jsonl", "after pass 4, before 5; blind 0.724 / 0.759"),
    ("fresh-4", "everyday_statutes_fresh4.jsonl", "after pass 5, before 6; blind 0.647 / 0.627"),
]
EVERYDAY_MODES = [  # (column, signals, with the dictionary)
    ("lexical, no dictionary", ("morph", "gram"), False),
    ("lexical", ("morph", "gram"), True),
    ("dense only", ("dense",), True),
    ("fused", ("morph", "gram", "dense"), True),
]


def everyday(work: Path, analyzer: Analyzer) -> list[str]:
    """Recall@5 / MRR@10 of each everyday set under each search mode (the dense signal is the
    shipped multilingual USE; lexical is Kiwi morphemes + character bigrams)."""
    index = KnowledgeIndex(work / "statutes.db", analyzer)
    kb = index.create("bench", "statutes")
    ingest(index, kb, sorted((ROOT / "data" / "statutes").glob("*.md")),
           parsers(get_plugin_manager(load_entrypoints=False)))
    plain = index.set_embedder(kb, "use")
    with_synonyms = index.set_synonyms(plain, synonym_dicts.load("everyday-legal", analyzer))
    rows = ["| set | questions | written | " + " | ".join(
                f"{name} R@5 | {name} MRR@10" for name, _, _ in EVERYDAY_MODES) + " |",
            "|---|---|---|" + "---|---|" * len(EVERYDAY_MODES)]
    totals: dict[str, list[int | None]] = {name: [] for name, _, _ in EVERYDAY_MODES}
    for label, file, written in EVERYDAY_SETS:
        cases = _cases(file)
        cells = []
        for name, signals, synonyms in EVERYDAY_MODES:
            ranks = []
            for case in cases:
                hits = index.search(with_synonyms if synonyms else plain, case["q"], 30,
                                    signals=signals)
                ids = [f"{h.source.get('title')}|{h.source.get('article')}" for h in hits]
                wanted = {f"{case['law']}|{a}" for a in case["articles"]}
                ranks.append(first_rank(ids, lambda i, w=wanted: i in w))
            m = metrics(ranks)
            cells += [f"{m['R@5']:.3f}", f"{m['MRR@10']:.3f}"]
            totals[name] += ranks
        rows.append(f"| {label} | {len(cases)} | {written} | {' | '.join(cells)} |")
        print(rows[-1], file=sys.stderr)
    cells = []
    for name, _, _ in EVERYDAY_MODES:
        m = metrics(totals[name])
        cells += [f"{m['R@5']:.3f}", f"{m['MRR@10']:.3f}"]
    rows.append(f"| all | {len(totals['fused'])} | | {' | '.join(cells)} |")
    index.close()
    return ["Everyday questions over the sample statutes, written the way people ask (not "
            "copied from the articles), each with the article(s) that answer it; a hit counts "
            "when its law and article match. Sets are in bench/data/everyday_statutes*.jsonl. "
            "The blind figures (lexical / fused) are each set's first measurement, taken "
            "before its misses were studied.", "", *rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data" /
                    "korquad")
    ap.add_argument("--limit", type=int, help="only the first N KorQuAD questions")
    ap.add_argument("--signals", default="morph,gram",
                    help="semicolon-separated signal sets to compare, e.g. 'morph;morph,gram'")
    ap.add_argument("--skip-korquad", action="store_true")
    ap.add_argument("--store", help="also run KorQuAD on this PostgreSQL database "
                    "(postgresql://…), beside SQLite, and print both engines side by side")
    ap.add_argument("--only-engines", action="store_true",
                    help="with --store: only the engine comparison")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    signals_list = [tuple(s.split(",")) for s in args.signals.split(";")]
    analyzer = Analyzer()
    analyzer.morphemes("준비 운동")  # Kiwi initialises lazily: keep that out of the timing
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.store:
            lines += ["### KorQuAD on SQLite and PostgreSQL", "",
                      *korquad_engines(args.data, work, analyzer, args.limit, signals_list,
                                       args.store), ""]
        if not args.skip_korquad and not args.only_engines:
            lines += ["### KorQuAD 1.0 dev (paragraph retrieval)", "",
                      *korquad(args.data, work, analyzer, args.limit, signals_list), ""]
        if not args.only_engines:
            lines += ["### Everyday questions → statute articles", "",
                      *everyday(work, analyzer)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    _ = statistics


if __name__ == "__main__":
    main()
