"""The tool model. A tool is a namespaced name (`plugin.tool`), a description, JSON-schema
parameters, declared permissions and how to run it.

Python tools are typed functions: name, description and schema come from the signature and
the docstring, as in the MCP SDK's `@mcp.tool()`:

    @tool(permissions=Permissions(effect="read"))
    def search(query: str, k: int = 5) -> list[dict]:
        \"\"\"Search the documents.\"\"\"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model


@dataclass(frozen=True)
class Permissions:
    network: tuple[str, ...] = ()
    """Hosts the tool may reach (none by default)."""
    knowledge: tuple[str, ...] = ()
    """Knowledge bases it may read."""
    pii: bool = False
    """May it receive unmasked personal data?"""
    effect: Literal["read", "write"] = "read"
    """`write` (sending, paying, ordering, deleting) needs explicit confirmation."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Any]
    permissions: Permissions = field(default_factory=Permissions)
    arguments: type[BaseModel] | None = None
    """Validates arguments before the tool runs (built from the function signature)."""
    wants_context: bool = False
    source: str = ""
    """The plugin, MCP server or OpenAPI service the tool comes from."""
    unavailable: str | None = None
    """Why the tool cannot run right now (its MCP server is down), or None."""
    specialise: Callable[[ToolContext], dict[str, Any]] | None = None
    """Parameters as one caller sees them (e.g. `kb` limited to the tenant's knowledge
    bases), so a model — under a grammar, on llamacpp — can only pick valid values."""

    def parameters_for(self, context: ToolContext) -> dict[str, Any]:
        if self.specialise is None:
            return self.parameters
        try:
            return self.specialise(context)
        except Exception:  # a plugin's hook must not break the listing
            return self.parameters

    def openai_schema(self) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}

    def card(self, context: ToolContext | None = None) -> dict[str, Any]:
        """The tool as `GET /v1/tools` and `jaju tools list --json` show it (parameters as
        `context`'s caller sees them, when given)."""
        schema = self.openai_schema()["function"]
        if context is not None:
            schema["parameters"] = self.parameters_for(context)
        return {**schema, "source": self.source,
                "permissions": {**self.permissions.__dict__,
                                "network": list(self.permissions.network),
                                "knowledge": list(self.permissions.knowledge)},
                "available": self.unavailable is None, "unavailable": self.unavailable}


@dataclass(frozen=True)
class ToolContext:
    """Who is calling: given to tools that take a `context` parameter."""

    tenant: str
    actor: str
    network: tuple[str, ...] = ()
    """The hosts the tool declared; `http_client()` reaches only these."""

    def http_client(self, **kwargs: Any) -> Any:
        """An httpx.AsyncClient whose every request passes the egress guard."""
        import httpx

        from jaju.tools.egress import Egress, egress_transport

        return httpx.AsyncClient(transport=egress_transport(Egress(self.network)), **kwargs)


def from_function(fn: Callable[..., Any], *, name: str | None = None,
                  permissions: Permissions | None = None) -> Tool:
    """A Tool from a typed function; parameters without defaults are required. Annotations
    written as strings (a module with `from __future__ import annotations`) are evaluated in
    the function's module."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except NameError as e:
        raise TypeError(f"{getattr(fn, '__name__', fn)}: an annotation names something its "
                        f"module does not define ({e})") from e
    fields: dict[str, Any] = {}
    for pname, param in signature.parameters.items():
        if pname == "context":
            continue  # jaju passes the caller's ToolContext; it is not the model's to fill
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{fn.__name__}: *args and **kwargs cannot be described as a schema")
        annotation = param.annotation if param.annotation is not inspect.Parameter.empty else Any
        default = param.default if param.default is not inspect.Parameter.empty else ...
        fields[pname] = (annotation, default)
    model = create_model(
        f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    doc = inspect.getdoc(fn) or ""
    return Tool(name=name or fn.__name__, description=" ".join(doc.split("\n\n")[0].split()),
                parameters=schema, run=fn, permissions=permissions or Permissions(),
                arguments=model, wants_context="context" in signature.parameters)


def tool(name: str | None = None, *, permissions: Permissions | None = None
         ) -> Callable[[Callable[..., Any]], Tool]:
    """Decorator: turn a typed function into a Tool."""
    def wrap(fn: Callable[..., Any]) -> Tool:
        return from_function(fn, name=name, permissions=permissions)
    return wrap
