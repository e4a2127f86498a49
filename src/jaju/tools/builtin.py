"""Default plugin: jaju's own tools (knowledge search) registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaju.hookspecs import hookimpl
from jaju.tools.model import Permissions, ToolContext, from_function


@hookimpl
def register_tools(register: Callable[..., None], state: Any) -> None:
    def search(kb: str, query: str, k: int = 5, context: ToolContext | None = None
               ) -> list[dict[str, Any]]:
        """Search a knowledge base of the caller's tenant (or a shared one) and return the
        best passages with their sources."""
        tenant = context.tenant if context else "local"
        index = state.knowledge
        return [h.to_dict() for h in index.search(index.get(tenant, kb), query, max(1, min(k, 20)))]

    tool = from_function(search, permissions=Permissions(knowledge=("*",)))

    def for_caller(context: ToolContext) -> dict[str, Any]:
        names = sorted({kb.name for kb in state.knowledge.bases(context.tenant)})
        if not names:
            return tool.parameters
        kb = {**tool.parameters["properties"]["kb"], "enum": names,
              "description": "knowledge base to search"}
        return {**tool.parameters, "properties": {**tool.parameters["properties"], "kb": kb}}

    tool.specialise = for_caller
    register(tool, namespace="knowledge")
