"""Default plugin: the built-in guards as text checks (used by `jaju guard check` and
`POST /v1/guard/check`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from jaju.hookspecs import hookimpl


@cache
def _content() -> Any:
    from jaju.guards.content import ContentGuard

    return ContentGuard()


def check_pii(text: str) -> list[dict[str, Any]]:
    from jaju.guards.pii import detect

    return [f.to_dict() for f in detect(text)]


def check_content(text: str) -> dict[str, Any]:
    result: dict[str, Any] = _content().check(text).to_dict()
    return result


def check_injection(text: str) -> dict[str, Any]:
    from jaju.guards.injection import check

    return check(text).to_dict()


@hookimpl
def register_guards(register: Callable[[str, Callable[[str], Any]], None]) -> None:
    register("pii", check_pii)
    register("content", check_content)
    register("injection", check_injection)
