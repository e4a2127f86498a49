"""인사 플러그인 / a sample jaju plugin: `hello.greet`.

A plugin is a module with `@hookimpl` functions; the `jaju` entry point in pyproject.toml is
how jaju finds it once installed (`pip install ./examples/jaju-hello`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from jaju.hookspecs import hookimpl
from jaju.tools import tool


@tool()
def greet(name: str, style: Literal["polite", "casual"] = "polite") -> str:
    """이름을 받아 한국어로 인사한다 / greet someone in Korean."""
    return f"{name}님, 안녕하세요." if style == "polite" else f"{name}, 안녕!"


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(greet, namespace="hello")
