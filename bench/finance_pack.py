"""The finance pack on its evaluation sets, question by question: what each answer cited first,
and the misses (the gold article not among the first five). For tuning on the dev set and for
reading the frozen set's figures (docs/benchmarks.md, "finance pack").

Run: JAJU_HOME=/tmp/fin python bench/finance_pack.py [dev|frozen]
(install first: jaju packs install finance)."""

from __future__ import annotations

import sys

from jaju.cli.common import load_settings
from jaju.cli.eval import with_gateway
from jaju.packs import evaluation
from jaju.packs.finance import pack


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "dev"
    cases = evaluation.load_cases(pack().eval_set(name).path)

    async def job(chat, state):  # type: ignore[no-untyped-def]
        return await evaluation.run(chat, "finance", cases)

    report = with_gateway(load_settings(None, None), "local", job)
    for r in report.results:
        if not r.case.gold:
            continue
        mark = "ok " if r.rank is not None and r.rank <= 5 else "MISS"
        print(f"{mark} {r.case.id} rank={r.rank} {r.case.question[:40]} | gold={r.case.gold[0]} "
              f"| cited={r.citations[:5]}")
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in report.metrics().items()})


if __name__ == "__main__":
    main()
