"""The `education` pack: Korean school law, a school's notices, and tools for school life.

What it holds (described in `pack.toml` beside this file, read by `pack()`; registered by the
default plugin `jaju.packs.education.plugin`):

- **assistants**: `education` (교육 법령 and the school's 가정통신문, for parents and teachers),
  `school-notice` (the 가정통신문 only) and `student` (the same knowledge for pupils: plain
  words, a stricter content guard);
- **knowledge**: `education` — 7 statutes in `data/statutes/` (교육기본법, 초ㆍ중등교육법 and its
  시행령, 고등교육법 시행령, 학교폭력예방법, 학원법 시행령, 교육환경보호법; copied unchanged from
  the project's shared data, provenance in `data/SOURCE.md`) and the sample notices, in one
  index so that their scores compare, with the pack's own dictionary `data/synonyms.tsv`;
  `school-notices` — the twelve sample 가정통신문 alone (HWPX in `data/samples/`, written by
  `samples.py`);
- **tools** (`tools.py`): `school_days` (수업일수 on the holiday-aware calendar of the law pack,
  시행령 제45조), `school_year` (학년도·학기, 법 제24조·시행령 제44조), `quiz` (multiple-choice
  questions with answer and source, deterministic) and `lookup_article`;
- **policy**: `data/student-policy.toml`, the `[tenants.student.guards]` an operator adds to
  jaju.toml for a pupils' tenant;
- **evals**: `data/eval/frozen.jsonl` (frozen before any tuning) and `data/eval/dev.jsonl`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jaju.packs.base import Pack, load_pack

HERE = Path(__file__).parent


@cache
def pack() -> Pack:
    """The pack, read from pack.toml: paths resolved, tool names resolved to their functions."""
    from jaju.packs.education import tools

    return load_pack(HERE / "pack.toml", tools.TOOLS)
