"""Default plugin: the built-in backend types, each with its settings model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaju.config import ExtractiveBackend, LlamaCppBackend, OpenAIBackend
from jaju.hookspecs import hookimpl


def _llamacpp(name: str, settings: Any) -> Any:
    from jaju.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend(name, settings)


def _openai(name: str, settings: Any) -> Any:
    from jaju.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(name, settings)


def _extractive(name: str, settings: Any) -> Any:
    from jaju.backends.extractive import ExtractiveBackend

    return ExtractiveBackend(name)


@hookimpl
def register_backends(register: Callable[..., None]) -> None:
    register("llamacpp", _llamacpp, LlamaCppBackend)
    register("openai", _openai, OpenAIBackend)
    register("extractive", _extractive, ExtractiveBackend)
