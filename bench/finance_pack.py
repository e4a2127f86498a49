"""The finance pack on its evaluation sets, question by question: what each answer cited first
and the misses (no gold article or passage among the first five citations); for tuning on the
dev set and for reading the frozen set's figures (docs/benchmarks.md, "finance pack").

    JAJU_HOME=/tmp/fin jaju packs install finance
    JAJU_HOME=/tmp/fin python bench/finance_pack.py [dev|frozen]          # extractive answers
    JAJU_HOME=/tmp/fin python bench/finance_pack.py frozen --tools        # tool cases

`--tools` asks the set's tool cases through the scripted OpenAI-compatible upstream of the tests
(tests/tool_upstream.py, started here on a free port), which proposes exactly the expected call
(`CALL finance_NAME {arguments}` appended to the question): it measures whether jaju runs the
right tool with the right arguments and puts its result in the answer, not a model's choice.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from jaju.cli.common import load_settings
from jaju.cli.eval import with_gateway
from jaju.config import Settings
from jaju.packs import evaluation
from jaju.packs.finance import pack

TESTS = Path(__file__).resolve().parent.parent / "tests"


def _upstream() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(TESTS / "tool_upstream.py"), str(port)])
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("tool upstream did not start")


def main() -> None:
    name = next((a for a in sys.argv[1:] if not a.startswith("-")), "dev")
    path = pack().eval_set(name).path
    settings = load_settings(None, None)
    proc = None
    if "--tools" in sys.argv:
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        rows = [{**r, "question": f"{r['question']} CALL finance_{r['tool']['name']} "
                 f"{json.dumps(r['tool']['arguments'], ensure_ascii=False)}"}
                for r in rows if r.get("tool")]
        path = Path(tempfile.mkdtemp()) / "tools.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
        proc, port = _upstream()
        settings = Settings.model_validate({
            **settings.model_dump(exclude_unset=True),
            "backends": {"agent": {"type": "openai", "url": f"http://127.0.0.1:{port}/v1"}},
            "packs": {"backend": "agent"}})
    cases = evaluation.load_cases(path)

    async def job(chat: Any, state: Any) -> evaluation.Report:
        return await evaluation.run(chat, "finance", cases)

    try:
        report = with_gateway(settings, "local", job)
    finally:
        if proc is not None:
            proc.kill()
    for r in report.results:
        if r.case.tool:
            print(f"tool {r.case.id} called={r.tool_called} result_in_answer={r.tool_result}")
        if r.invented:
            print(f"invented {r.case.id}: {r.invented}")
        if not (r.case.gold or r.case.gold_passages):
            continue
        gold = (r.case.gold or r.case.gold_passages)[0]
        mark = "ok " if r.rank is not None and r.rank <= 5 else "MISS"
        print(f"{mark} {r.case.id} rank={r.rank} {r.case.question[:40]} | gold={gold} "
              f"| cited={r.citations[:5]}")
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in report.metrics().items()})


if __name__ == "__main__":
    main()
