"""Default plugin: jaju's own tools (knowledge search) registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaju.hookspecs import hookimpl
from jaju.tools.model import Permissions, ToolContext, from_function
from jaju.tools.services import ToolServices


@hookimpl
def register_tools(register: Callable[..., None], services: ToolServices) -> None:
    def search(kb: str, query: str, context: ToolContext, k: int = 5) -> list[dict[str, Any]]:
        """Search a knowledge base of the caller's tenant (or a shared one) and return the
        best passages with their sources."""
        return services.search(context.tenant, kb, query, k)

    tool = from_function(search, permissions=Permissions(knowledge=("*",)))

    def for_caller(context: ToolContext) -> dict[str, Any]:
        names = services.knowledge_bases(context.tenant)
        if not names:
            return tool.parameters
        kb = {**tool.parameters["properties"]["kb"], "enum": names,
              "description": "knowledge base to search"}
        return {**tool.parameters, "properties": {**tool.parameters["properties"], "kb": kb}}

    tool.specialise = for_caller
    register(tool, namespace="knowledge")
