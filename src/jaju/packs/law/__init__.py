"""The `law` pack: everyday Korean law and labour.

What it holds (all of it described in `pack.toml` beside this file, read by `pack()`; registered by
the default plugin `jaju.packs.law.plugin`):

- **assistants**: `law` (everyday law: leases and 전세, debts and interest, crime, stalking,
  car accidents, family registration, personal data, voice phishing, labour) and `labour`
  (work and pay only), each with a Korean system prompt that asks for article citations and
  declines questions outside its field;
- **knowledge**: 18 statutes in `data/statutes/` (copied unchanged from the project's shared
  data; provenance in `data/SOURCE.md`), ingested with the everyday→legal dictionary;
- **tools** (`tools.py`): verified calculators that return their result and the articles they
  applied — 민법 periods on the Korean holiday calendar, 해고예고수당, 연차휴가, 가산임금,
  주휴수당, 퇴직금, a minimum-wage check against `data/minimum_wage.toml` — and article lookup
  by citation;
- **synonyms**: the shipped `everyday-legal` dictionary (jaju/knowledge/synonyms);
- **evals**: `data/eval/frozen.jsonl` (166 questions, frozen before any tuning, measured, never
  tuned on) and `data/eval/dev.jsonl` (40, for tuning); bench/law_pack.py measures them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jaju.packs.base import Pack, load_pack

HERE = Path(__file__).parent


@cache
def pack() -> Pack:
    """The pack, read from pack.toml: paths resolved, tool names resolved to their functions."""
    from jaju.packs.law import tools

    return load_pack(HERE / "pack.toml", tools.TOOLS)
