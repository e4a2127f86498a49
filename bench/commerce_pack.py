"""The commerce pack's retrieval on its evaluation sets: R@1, R@5, MRR@10 over the distinct
articles among the search hits (what a generative assistant reads as its top_k=5 evidence).

The pack's six statutes (src/jaju/packs/commerce/data/statutes) go into one knowledge base with
the pack's dictionary, as `jaju packs install commerce` does it (the same `ingest` and
`KnowledgeIndex.search`, lexical signals, default weights). Only questions with gold articles
count (the catalogue and order questions are tool cases: tests/test_commerce_pack.py).

Run: .venv/bin/python bench/commerce_pack.py [--set frozen|dev|all] [--synonyms PATH|''] [--misses]
The frozen set is measured, never tuned on (see docs/benchmarks.md).

With --end-to-end, the set is asked of the pack's `shopping` assistant through the Gateway
instead (as `jaju packs eval commerce` does, guards and tools included), twice: on the
extractive backend (it quotes at most three passages), and on a scripted OpenAI-compatible
upstream (tests/tool_upstream.py) that proposes each tool case's expected call, with the order
service (jaju.packs.commerce.orders_service) running as the `orders` OpenAPI source; the
harness's table for each (retrieval, tool calls and results, invented figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

from jaju.knowledge import KnowledgeIndex  # noqa: E402
from jaju.knowledge import synonyms as synonym_dicts  # noqa: E402
from jaju.knowledge.ingest import ingest  # noqa: E402
from jaju.korean import Analyzer  # noqa: E402
from jaju.packs.commerce import pack  # noqa: E402
from jaju.plugins import get_plugin_manager, parsers  # noqa: E402
from law_pack import gold_keys, metrics, rank_of  # noqa: E402

DATA = ROOT / "src" / "jaju" / "packs" / "commerce" / "data"
SETS = {"frozen": DATA / "eval" / "frozen.jsonl", "dev": DATA / "eval" / "dev.jsonl"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=[*SETS, "all"], default="frozen")
    ap.add_argument("--synonyms", default=None,
                    help="a dictionary name or TSV path; '' for none (default: the pack's)")
    ap.add_argument("--misses", action="store_true", help="print the questions missed at R@5")
    ap.add_argument("--end-to-end", action="store_true",
                    help="through the assistant: extractive, and a scripted upstream with tools")
    args = ap.parse_args()
    if args.end_to_end:
        end_to_end("frozen" if args.set == "all" else args.set)
        return
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


def _start(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server taking its port as the last argument; return once /health answers."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, *args[:1], str(port), *args[1:]])
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{args[0]} did not come up")


def end_to_end(name: str) -> None:
    from rich.console import Console

    from jaju.caller import Caller
    from jaju.config import Settings
    from jaju.knowledge import SHARED_TENANT
    from jaju.packs import evaluation
    from jaju.packs.base import install_knowledge
    from jaju.packs.commerce import orders_service
    from jaju.state import AppState
    from jaju.store import open_store

    cases = evaluation.load_cases(SETS[name])
    by_question = {c.question: c for c in cases}

    def propose(body: dict) -> dict:  # the scripted upstream calls what the case expects
        case = by_question[body["messages"][-1]["content"]]
        if not case.tool:
            return body
        tool = pack().tool_name(case.tool["name"]).replace(".", "_")
        call = f"\nCALL {tool} {json.dumps(case.tool['arguments'], ensure_ascii=False)}"
        return {**body, "messages": [{"role": "user", "content": case.question + call}]}

    def run(settings: Settings, title: str, rewrite: bool) -> evaluation.Report:
        state = AppState.build(settings, load_plugins=False)
        caller = Caller("local", label="bench")

        async def main() -> evaluation.Report:
            await state.start()
            try:
                async def chat(body: dict) -> dict:
                    result = await state.gateway.chat(caller, propose(body) if rewrite else body)
                    assert isinstance(result, dict)
                    return result

                return await evaluation.run(chat, "shopping", cases, title=title)
            finally:
                await state.aclose()

        return asyncio.run(main())

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        index = KnowledgeIndex(home / "jaju.db", Analyzer())
        install_knowledge(pack(), index, parsers(get_plugin_manager(load_entrypoints=False)))
        index.close()
        store = open_store(home / "jaju.db")
        store.add_pack("commerce", SHARED_TENANT, pack().version, actor="bench")
        store.close()
        reports = [run(Settings.model_validate({"home": home}), "extractive", False)]
        upstream, port = _start([str(ROOT / "tests" / "tool_upstream.py"), "/dev/null"])
        service, service_port = _start([orders_service.__file__])
        try:
            reports.append(run(Settings.model_validate({
                "home": home,
                "backends": {"agent": {"type": "openai", "url": f"http://127.0.0.1:{port}/v1"}},
                "packs": {"backend": "agent"},
                "openapi": {"orders": {"spec": str(orders_service.SPEC), "allow_private": True,
                                       "base_url": f"http://127.0.0.1:{service_port}"}}}),
                "scripted upstream + tools", True))
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
