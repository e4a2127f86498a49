"""The finance pack on its evaluation sets, question by question: what each answer cited first
and the misses (no gold article or passage among the first five citations); for tuning on the
dev set and for reading the frozen set's figures (docs/benchmarks.md, "finance pack").

    JAJU_HOME=/tmp/fin jaju packs install finance
    JAJU_HOME=/tmp/fin python bench/finance_pack.py [dev|dev2|frozen] [--misses]  # extractive
    JAJU_HOME=/tmp/fin python bench/finance_pack.py frozen --tools        # tool cases

`--tools` asks the set's tool cases through the scripted OpenAI-compatible upstream of the tests
(tests/tool_upstream.py, started here on a free port), which proposes exactly the expected call
(`CALL finance_NAME {arguments}` appended to the question): it measures whether jaju runs the
right tool with the right arguments and puts its result in the answer, not a model's choice.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from pack_kit import (  # first: this tree's src
    TESTS,
    print_report,
    run_eval,
    start,
    upstream_settings,
    with_call,
)

# isort: split
from jaju.cli.common import load_settings
from jaju.config import Settings
from jaju.packs import evaluation
from jaju.packs.finance import pack


def main() -> None:
    name = next((a for a in sys.argv[1:] if not a.startswith("-")), "dev")
    settings = load_settings(None, None)
    cases = evaluation.load_cases(pack().eval_set(name).path)
    proc = None
    if "--tools" in sys.argv:  # the expected call is part of each tool case's question
        cases = [replace(c, question=with_call(c.question, pack().tool_name(c.tool["name"]),
                                               c.tool["arguments"]))
                 for c in cases if c.tool]
        proc, port = start(TESTS / "tool_upstream.py")
        settings = Settings.model_validate({**settings.model_dump(exclude_unset=True),
                                            **upstream_settings(port)})
    try:
        report = run_eval(settings, "finance", cases)
    finally:
        if proc is not None:
            proc.kill()
    print_report(report, misses_only="--misses" in sys.argv)


if __name__ == "__main__":
    main()
