"""A sample jaju pack: a shop's terms (one document), the assistant `shop`, the tool
`shop.refund_deadline`, and a three-question evaluation set. See docs/packs.md."""

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from jaju.packs.base import load_pack, pack_hooks


def refund_deadline(
    delivered: Annotated[str, Field(description="상품을 받은 날, YYYY-MM-DD")],
) -> dict[str, Any]:
    """환불 기한: 상품을 받은 날의 다음 날부터 7일째 되는 날 (이용약관 제3조)."""
    day = date.fromisoformat(delivered) + timedelta(days=7)
    return {"result": {"deadline": day.isoformat()}, "articles": ["샘플상점 이용약관 제3조"],
            "notes": []}


PACK = load_pack(Path(__file__).parent / "pack.toml", tools=[refund_deadline])
register_packs, register_tools = pack_hooks(PACK)  # the two hooks: the pack, shop.refund_deadline
