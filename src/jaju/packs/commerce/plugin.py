"""Default plugin: the commerce pack, its tools (`commerce.search_products`, …) and the
`figures` guard (an answer states only the numbers its turn was given)."""

from __future__ import annotations

from collections.abc import Callable

from jaju.hookspecs import hookimpl
from jaju.packs.base import pack_hooks
from jaju.packs.commerce import pack

register_packs, register_tools = pack_hooks(pack)


@hookimpl
def register_guards(register: Callable[..., None]) -> None:
    from jaju.packs.commerce.figures import FiguresGuard

    register(FiguresGuard)
