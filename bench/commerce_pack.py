"""The commerce pack's retrieval on its evaluation sets: R@1, R@5, MRR@10 over the distinct
articles among the search hits (what a generative assistant reads as its top_k=5 evidence).

The pack's six statutes (src/jaju/packs/commerce/data/statutes) go into one knowledge base with
the pack's dictionary, as `jaju packs install commerce` does it (the same `ingest` and
`KnowledgeIndex.search`, lexical signals, default weights). Only questions with gold articles
count (the catalogue and order questions are tool cases: tests/test_commerce_pack.py).

Run: .venv/bin/python bench/commerce_pack.py [--set frozen|dev|all] [--synonyms PATH|''] [--misses]
The frozen set is measured, never tuned on (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from law_pack import gold_keys, metrics, rank_of  # noqa: E402

from jaju.knowledge import KnowledgeIndex  # noqa: E402
from jaju.knowledge import synonyms as synonym_dicts  # noqa: E402
from jaju.knowledge.ingest import ingest  # noqa: E402
from jaju.korean import Analyzer  # noqa: E402
from jaju.packs.commerce import pack  # noqa: E402
from jaju.plugins import get_plugin_manager, parsers  # noqa: E402

DATA = ROOT / "src" / "jaju" / "packs" / "commerce" / "data"
SETS = {"frozen": DATA / "eval" / "frozen.jsonl", "dev": DATA / "eval" / "dev.jsonl"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=[*SETS, "all"], default="frozen")
    ap.add_argument("--synonyms", default=None,
                    help="a dictionary name or TSV path; '' for none (default: the pack's)")
    ap.add_argument("--misses", action="store_true", help="print the questions missed at R@5")
    args = ap.parse_args()
    synonyms = pack().knowledge[0].synonyms if args.synonyms is None else args.synonyms
    analyzer = Analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        index = KnowledgeIndex(Path(tmp) / "commerce.db", analyzer)
        kb = index.create("bench", "commerce")
        if synonyms:
            kb = index.set_synonyms(kb, synonym_dicts.load(synonyms, analyzer))
        report = ingest(index, kb, sorted((DATA / "statutes").glob("*.md")),
                        parsers(get_plugin_manager(load_entrypoints=False)))
        assert not report.failures, report.failures[:3]
        print(f"dictionary: {synonyms or '-'}", file=sys.stderr)
        rows = ["| set | questions | R@1 | R@5 | MRR@10 | ms/query |", "|---|---|---|---|---|---|"]
        for name in (list(SETS) if args.set == "all" else [args.set]):
            cases = [json.loads(x) for x in SETS[name].read_text(encoding="utf-8").splitlines()
                     if x.strip()]
            cases = [c for c in cases if c.get("gold")]
            ranks = []
            began = time.perf_counter()
            for case in cases:
                hits = [h.to_dict(signals=False) for h in index.search(kb, case["question"], 30)]
                r = rank_of(hits, gold_keys(case["gold"]))
                ranks.append(r)
                if args.misses and (r is None or r > 5):
                    top = [f"{h['source'].get('title', '')[:6]} {h['source'].get('article')}"
                           for h in hits[:5]]
                    print(f"  {case['id']} {case['question']} gold={case['gold']} top={top}",
                          file=sys.stderr)
            ms = 1000 * (time.perf_counter() - began) / max(1, len(cases))
            m = metrics(ranks)
            rows.append(f"| {name} | {len(cases)} | {m['R@1']:.3f} | {m['R@5']:.3f} | "
                        f"{m['MRR@10']:.3f} | {ms:.0f} |")
        index.close()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
