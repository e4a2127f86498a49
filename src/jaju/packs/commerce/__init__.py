"""The `commerce` pack: shopping and consumer rights.

What it holds (described in `pack.toml` beside this file, read by `pack()`; registered by the
default plugin `jaju.packs.commerce.plugin`):

- **assistant** `shopping`: answers in Korean from the catalogue (through its search tool: exact
  prices and stock, never invented), the order-status service and six consumer statutes, and
  declines questions outside shopping;
- **knowledge**: 전자상거래법, 방문판매법, 할부거래법, 약관규제법, 제조물책임법, 소비자기본법 시행령
  in `data/statutes/` (copied unchanged from the project's shared data; `data/SOURCE.md`);
- **tools** (`tools.py`): `search_products` (the catalogue, with price and stock filters) and
  `withdrawal_deadline` (청약철회 periods, on the law pack's 민법 period calculator); the order
  status is the OpenAPI tool `orders.get_order_status` (`data/orders.openapi.json`, served by
  `orders_service.py`);
- **samples** (`samples.py`): the invented shop's catalogue and orders, generated deterministically;
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
    from jaju.packs.commerce import tools

    return load_pack(HERE / "pack.toml", tools.TOOLS)
