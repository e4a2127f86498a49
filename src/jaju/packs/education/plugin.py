"""Default plugin: the education pack and its tools (`education.school_days`, …)."""

from __future__ import annotations

from collections.abc import Callable

from jaju.hookspecs import hookimpl
from jaju.packs.education import pack


@hookimpl
def register_packs(register: Callable[..., None]) -> None:
    register(pack())


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    pack().register_tools(register)
