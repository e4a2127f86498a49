"""The law pack's retrieval on its evaluation sets: R@1, R@5, MRR@10.

The pack's statutes (src/jaju/packs/law/data/statutes) go into one knowledge base with the
shipped everyday-legal dictionary, exactly as

    jaju ingest src/jaju/packs/law/data/statutes --kb law --synonyms everyday-legal
    jaju search "질문" --kb law

do it (the same `ingest` and `KnowledgeIndex.search`, lexical signals, default weights). A
question counts at rank r when the r-th distinct article among the hits (law title + article,
부칙 articles labelled `부칙 제N조` and so never a main-act article) is one of its gold
citations.

Run: .venv/bin/python bench/law_pack.py [--set frozen|dev|dev2|devs|all] [--misses]
                                        [--signals morph,gram] [--embedder e5] [--rerank]
With --embedder, the chunks are embedded too and every set is measured twice on the same
knowledge base: lexical signals alone, and fused with the dense signal (+ query latency).
With --rerank, each of those runs is measured again with the law assistant's article
reranking (`rerank = "articles"`: `jaju.knowledge.rerank` over the first 50 chunks).
The frozen set is measured, never tuned on (see docs/benchmarks.md); `--set devs` runs the
two dev sets only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pack_kit import ROOT, gold_keys, load, metrics, rank_of  # first: this tree's src

# isort: split
from jaju.knowledge import KnowledgeIndex
from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.ingest import ingest
from jaju.knowledge.rerank import CANDIDATES, rerank
from jaju.korean import Analyzer
from jaju.plugins import get_plugin_manager, parsers

PACK = ROOT / "src" / "jaju" / "packs" / "law" / "data"
SETS = {"frozen": PACK / "eval" / "frozen.jsonl", "dev": PACK / "eval" / "dev.jsonl",
        "dev2": PACK / "eval" / "dev2.jsonl"}
DEV_SETS = ("dev", "dev2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=[*SETS, "devs", "all"], default="frozen")
    ap.add_argument("--signals", default="morph,gram")
    ap.add_argument("--synonyms", default="everyday-legal", help="'' for none")
    ap.add_argument("--misses", action="store_true", help="print the questions missed at R@1")
    ap.add_argument("--embedder", default=None, help="dense signal: e5, use, openai:URL#MODEL")
    ap.add_argument("--rerank", action="store_true", help="also measure article reranking")
    ap.add_argument("--db", default=None, help="keep the knowledge base in this file (reused "
                    "when it exists: no second ingest or embedding)")
    args = ap.parse_args()
    base = [("lexical", tuple(args.signals.split(",")))]
    if args.embedder:
        base.append((f"+ {args.embedder}", (*base[0][1], "dense")))
    runs = [(label, signals, False) for label, signals in base]
    if args.rerank:
        runs += [(label + ", articles reranked", signals, True) for label, signals in base]
    analyzer = Analyzer()
    names = {"all": list(SETS), "devs": list(DEV_SETS)}.get(args.set, [args.set])
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "law.db"
        reuse = db.exists()
        index = KnowledgeIndex(db, analyzer)
        kb = index.create("bench", "law")
        if args.synonyms:  # always the dictionary as it is now, also on a reused base
            kb = index.set_synonyms(kb, synonym_dicts.load(args.synonyms, analyzer))
        if args.embedder and not reuse:
            kb = index.set_embedder(kb, args.embedder)
        if not reuse:
            started = time.perf_counter()
            report = ingest(index, kb, sorted((PACK / "statutes").glob("*.md")),
                            parsers(get_plugin_manager(load_entrypoints=False)))
            assert not report.failures, report.failures[:3]
            seconds = time.perf_counter() - started
            print(f"ingest: {seconds:.1f} s, {report.chars / seconds:,.0f} characters/s",
                  file=sys.stderr)
        rows = ["| set | signals | questions | R@1 | R@5 | MRR@10 | ms/query |",
                "|---|---|---|---|---|---|---|"]
        for name in names:
            cases = load(SETS[name])
            for label, signals, reranked in runs:
                ranks = []
                began = time.perf_counter()
                for case in cases:
                    if reranked:
                        found = index.search(kb, case["question"], CANDIDATES, signals=signals)
                        found = rerank(case["question"], found, analyzer, kb.synonyms)
                    else:
                        found = index.search(kb, case["question"], 30, signals=signals)
                    hits = [h.to_dict() for h in found]
                    rank = rank_of(hits, gold_keys(case["gold"]))
                    ranks.append(rank)
                    if args.misses and rank != 1:
                        top = [f"{h['source'].get('title')} {h['source'].get('article')}"
                               for h in hits[:3]]
                        print(f"{case['id']} rank={rank} {case['question']}\n    gold "
                              f"{case['gold']}\n    top  {top}", file=sys.stderr)
                ms = (time.perf_counter() - began) * 1000 / len(cases)
                m = metrics(ranks)
                rows.append(f"| {name} | {label} | {len(cases)} | {m['R@1']:.3f} | "
                            f"{m['R@5']:.3f} | {m['MRR@10']:.3f} | {ms:.0f} |")
        index.close()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
