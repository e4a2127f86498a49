"""Default plugin: the commerce pack, its tools (`commerce.search_products`, …) and the
`figures` guard (an answer states only the numbers its turn was given)."""

from __future__ import annotations

from collections.abc import Callable

from jaju.hookspecs import hookimpl
from jaju.packs.commerce import pack


@hookimpl
def register_packs(register: Callable[..., None]) -> None:
    register(pack())


@hookimpl
def register_guards(register: Callable[..., None]) -> None:
    from jaju.packs.commerce.figures import FiguresGuard

    register(FiguresGuard)


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    pack().register_tools(register)
