"""The commerce pack's retrieval on its evaluation sets: R@1, R@5, MRR@10 over the distinct
articles among the search hits (what a generative assistant reads as its top_k=5 evidence).

The pack's six statutes (src/jaju/packs/commerce/data/statutes) go into one knowledge base with
the pack's dictionary, as `jaju packs install commerce` does it (the same `ingest` and
`KnowledgeIndex.search`, lexical signals, default weights). Only questions with gold articles
count (the catalogue and order questions are tool cases: tests/test_commerce_pack.py).

Run: .venv/bin/python bench/commerce_pack.py [--set frozen|dev|dev2|all] [--synonyms PATH|'']
                                            [--rerank] [--misses]
With --rerank, the hits are the `shopping` assistant's: 50 chunks reranked to articles as its
`rerank = "articles"` does (jaju.knowledge.rerank, its pack.toml weights). The frozen set is
measured, never tuned on (see docs/benchmarks.md).

With --end-to-end, the set is asked of the pack's `shopping` assistant through the Gateway
instead (as `jaju packs eval commerce` does, guards and tools included), twice: on the
extractive backend (it quotes at most three passages), and on a scripted OpenAI-compatible
upstream (tests/tool_upstream.py) that proposes each tool case's expected call, with the order
service (jaju.packs.commerce.orders_service) running as the `orders` OpenAPI source; the
harness's table for each (retrieval, tool calls and results, invented figures).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pack_kit import (  # first: this tree's src
    ROOT,
    TESTS,
    gold_keys,
    load,
    metrics,
    rank_of,
    run_eval,
    start,
    upstream_settings,
    with_call,
)

# isort: split
from jaju.knowledge import KnowledgeIndex
from jaju.knowledge import synonyms as synonym_dicts
from jaju.knowledge.ingest import ingest
from jaju.knowledge.rerank import CANDIDATES, Weights, rerank
from jaju.korean import Analyzer
from jaju.packs.commerce import pack
from jaju.plugins import get_plugin_manager, parsers

DATA = ROOT / "src" / "jaju" / "packs" / "commerce" / "data"
SETS = {"frozen": DATA / "eval" / "frozen.jsonl", "dev": DATA / "eval" / "dev.jsonl",
        "dev2": DATA / "eval" / "dev2.jsonl"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=[*SETS, "all"], default="frozen")
    ap.add_argument("--synonyms", default=None,
                    help="a dictionary name or TSV path; '' for none (default: the pack's)")
    ap.add_argument("--misses", action="store_true", help="print the questions missed at R@5")
    ap.add_argument("--rerank", action="store_true",
                    help="rank articles as the shopping assistant does (rerank = \"articles\")")
    ap.add_argument("--end-to-end", action="store_true",
                    help="through the assistant: extractive, and a scripted upstream with tools")
    args = ap.parse_args()
    if args.end_to_end:
        end_to_end("frozen" if args.set == "all" else args.set)
        return
    synonyms = pack().knowledge[0].synonyms if args.synonyms is None else args.synonyms
    weights = Weights(**pack().assistants[0].get("rerank_weights", {}))
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
            cases = [c for c in load(SETS[name]) if c.get("gold")]
            ranks = []
            began = time.perf_counter()
            for case in cases:
                if args.rerank:
                    found = rerank(case["question"], index.search(kb, case["question"], CANDIDATES),
                                   analyzer, kb.synonyms, weights=weights)
                else:
                    found = index.search(kb, case["question"], 30)
                hits = [h.to_dict(signals=False) for h in found]
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


def end_to_end(name: str) -> None:
    from rich.console import Console

    from jaju.config import Settings
    from jaju.knowledge import SHARED_TENANT
    from jaju.packs import evaluation
    from jaju.packs.base import install_knowledge
    from jaju.packs.commerce import orders_service
    from jaju.store import open_store

    cases = evaluation.load_cases(SETS[name])
    by_question = {c.question: c for c in cases}

    def propose(body: dict) -> dict:  # the scripted upstream calls what the case expects
        case = by_question[body["messages"][-1]["content"]]
        if not case.tool:
            return body
        question = with_call(case.question, pack().tool_name(case.tool["name"]),
                             case.tool["arguments"])
        return {**body, "messages": [{"role": "user", "content": question}]}

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        index = KnowledgeIndex(home / "jaju.db", Analyzer())
        install_knowledge(pack(), index, parsers(get_plugin_manager(load_entrypoints=False)))
        index.close()
        store = open_store(home / "jaju.db")
        store.add_pack("commerce", SHARED_TENANT, pack().version, actor="bench")
        store.close()
        reports = [run_eval(Settings.model_validate({"home": home}), "shopping", cases,
                            title="extractive")]
        upstream, port = start(TESTS / "tool_upstream.py")
        service, service_port = start(orders_service.__file__)
        try:
            reports.append(run_eval(Settings.model_validate({
                "home": home, **upstream_settings(port),
                "openapi": {"orders": {"spec": str(orders_service.SPEC), "allow_private": True,
                                       "base_url": f"http://127.0.0.1:{service_port}"}}}),
                "shopping", cases, title="scripted upstream + tools", rewrite=propose))
        finally:
            upstream.kill()
            service.kill()
    console = Console(width=120)
    console.print(evaluation.table(reports))
    for r in reports:
        tools_asked = [x for x in r.results if x.case.tool]
        print(f"{r.title}: {len(tools_asked)} tool cases, "
              f"{sum(bool(x.tool_called) for x in tools_asked)} called right, "
              f"{sum(bool(x.invented) for x in r.results)} answers with invented figures")


if __name__ == "__main__":
    main()
