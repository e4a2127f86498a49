"""What the packs' benchmarks share (bench/law_pack.py, bench/finance_pack.py,
bench/commerce_pack.py, bench/education_pack.py): reading an evaluation set, the retrieval ranks
and metrics over distinct statute articles, a helper server on a free port, the scripted
upstream's `CALL` for a tool case, a set asked through the Gateway as `jaju packs eval` asks it,
and its report question by question.

Importing it puts the tree's `src` first on the path, so a benchmark runs on this checkout.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"
sys.path.insert(0, str(ROOT / "src"))


def load(path: Path) -> list[dict]:
    """An evaluation set's rows (JSONL)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# --- retrieval over statute articles -------------------------------------------------------------


def _key(law: str, article: str) -> str:
    return f"{law.replace(' ', '')}|{article}"


def gold_keys(citations: list[str]) -> set[str]:
    """"근로기준법 제60조" -> {"근로기준법|제60조"}; a 부칙 citation keeps its "부칙 " prefix."""
    keys = set()
    for citation in citations:
        law, _, article = citation.partition(" 부칙 ")
        if article:
            keys.add(_key(law, "부칙 " + article))
        else:
            law, article = citation.rsplit(" ", 1)
            keys.add(_key(law, article))
    return keys


def rank_of(hits: list[dict], wanted: set[str], depth: int = 10) -> int | None:
    """The rank of the first gold article among the distinct articles of `hits`, or None."""
    seen: list[str] = []
    for hit in hits:
        key = _key(str(hit["source"].get("title") or ""), str(hit["source"].get("article") or ""))
        if key in seen:
            continue
        seen.append(key)
        if len(seen) > depth:
            return None
        if key in wanted:
            return len(seen)
    return None


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {"R@1": sum(r == 1 for r in ranks) / n,
            "R@5": sum(r is not None and r <= 5 for r in ranks) / n,
            "MRR@10": sum(1 / r for r in ranks if r) / n}


# --- end to end ------------------------------------------------------------------------------------


def start(script: str | Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server script that takes its port as its first argument (tests/tool_upstream.py,
    the commerce pack's orders_service.py) on a free port; return once /health answers."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen([sys.executable, str(script), str(port), *args])
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{script} did not come up")


def upstream_settings(port: int) -> dict[str, Any]:
    """Settings (dict form) that serve the packs' assistants on the scripted upstream."""
    return {"backends": {"agent": {"type": "openai", "url": f"http://127.0.0.1:{port}/v1"}},
            "packs": {"backend": "agent"}}


def with_call(question: str, tool: str, arguments: dict[str, Any]) -> str:
    """The question with the call tests/tool_upstream.py is to propose: `CALL ns_name {args}`
    (`tool` is the registered name, `finance.dsr`)."""
    call = json.dumps(arguments, ensure_ascii=False)
    return f"{question}\nCALL {tool.replace('.', '_')} {call}"


def run_eval(settings: Any, assistant: str, cases: list, *, title: str = "",
             rewrite: Callable[[dict], dict] | None = None) -> Any:
    """The harness on `cases` through the Gateway, as `jaju packs eval` runs it
    (jaju.cli.eval.with_gateway); `rewrite` changes each request (e.g. appends the expected
    call). The evaluation.Report."""
    from jaju.cli.eval import with_gateway
    from jaju.packs import evaluation

    async def job(chat: Callable[[dict], Any], state: Any) -> evaluation.Report:
        async def ask(body: dict) -> dict:
            return await chat(rewrite(body) if rewrite else body)

        return await evaluation.run(ask, assistant, cases, title=title)

    return with_gateway(settings, "local", job)


def print_report(report: Any, misses_only: bool = False) -> None:
    """Each question with a gold article or passage: `ok`/`MISS` (a gold one among the first
    five citations or not), its rank, what the answer cited first; tool runs and invented
    figures; then the harness's metrics."""
    for r in report.results:
        if r.case.tool:
            print(f"tool {r.case.id} called={r.tool_called} result_in_answer={r.tool_result}")
        if r.invented:
            print(f"invented {r.case.id}: {r.invented}")
        if not (r.case.gold or r.case.gold_passages):
            continue
        hit = r.rank is not None and r.rank <= 5
        if misses_only and hit:
            continue
        gold = (r.case.gold or r.case.gold_passages)[0]
        print(f"{'ok ' if hit else 'MISS'} {r.case.id} rank={r.rank} {r.case.question[:40]} | "
              f"gold={gold} | cited={r.citations[:5]}")
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in report.metrics().items()})
