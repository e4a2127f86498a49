"""Default plugin: the finance pack, its tools (`finance.repayment_schedule`, …) and its
`investment_advice` guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaju.hookspecs import hookimpl
from jaju.packs.finance import pack


@hookimpl
def register_packs(register: Callable[..., None]) -> None:
    register(pack())


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    pack().register_tools(register)


@hookimpl
def register_guards(register: Callable[[type[Any]], None]) -> None:
    from jaju.packs.finance.guard import InvestmentAdviceGuard

    register(InvestmentAdviceGuard)
