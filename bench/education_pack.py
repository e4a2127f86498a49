"""The education pack on its evaluation sets, question by question, as `jaju packs eval
education` asks them (the `education` assistant on the extractive backend, article reranking
and all): what each answer cited first, the misses (no gold article or passage among the first
five citations) and the harness's metrics; for tuning on the dev sets and for reading the
frozen set's figures (docs/benchmarks.md, "The education pack").

    JAJU_HOME=/tmp/edu jaju packs install education
    JAJU_HOME=/tmp/edu python bench/education_pack.py [dev|dev2|frozen] [--misses]
    JAJU_HOME=/tmp/edu python bench/education_pack.py student --assistant student

The frozen set is measured, never tuned on.
"""

from __future__ import annotations

import sys

from pack_kit import print_report, run_eval  # first: this tree's src

# isort: split
from jaju.cli.common import load_settings
from jaju.packs import evaluation
from jaju.packs.education import pack


def main() -> None:
    args = sys.argv[1:]
    assistant = args[args.index("--assistant") + 1] if "--assistant" in args else "education"
    values = {i + 1 for i, a in enumerate(args) if a == "--assistant"}
    name = next((a for i, a in enumerate(args) if not a.startswith("-") and i not in values),
                "dev")
    cases = evaluation.load_cases(pack().eval_set(name).path)
    report = run_eval(load_settings(None, None), assistant, cases)
    print_report(report, misses_only="--misses" in args)


if __name__ == "__main__":
    main()
