"""Default plugin: the finance pack, its tools (`finance.repayment_schedule`, …) and its
`investment_advice` guard."""

from __future__ import annotations

from collections.abc import Callable

from jaju.hookspecs import hookimpl
from jaju.packs.base import pack_hooks
from jaju.packs.finance import pack

register_packs, register_tools = pack_hooks(pack)


@hookimpl
def register_guards(register: Callable[..., None]) -> None:
    from jaju.packs.finance.guard import InvestmentAdviceGuard

    register(InvestmentAdviceGuard)
