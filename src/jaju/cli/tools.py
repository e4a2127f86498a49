"""`jaju tools list|call`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, fail, load_settings

app = typer.Typer(help="Tools from plugins, under policy.", no_args_is_help=True)


class _State:
    """What built-in tools need, for the command line (no server)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._knowledge: Any = None

    @property
    def knowledge(self) -> Any:
        if self._knowledge is None:
            from jaju.knowledge.index import KnowledgeIndex

            self._knowledge = KnowledgeIndex(self.db_path)
        return self._knowledge


def _registry(config: Path | None, home: Path | None) -> tuple[Any, Any]:
    from jaju.plugins import get_plugin_manager, tool_registry
    from jaju.store import Store

    settings = load_settings(config, home)
    store = Store(settings.db_path)
    return tool_registry(get_plugin_manager(), _State(settings.db_path), store), store


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List the tools every plugin registers, with their schema and permissions."""
    registry, store = _registry(config, home)
    store.close()
    tools = sorted(registry.tools.values(), key=lambda t: t.name)
    if as_json:
        typer.echo(json.dumps([{**t.openai_schema()["function"],
                                "permissions": t.permissions.__dict__} for t in tools],
                              ensure_ascii=False, indent=2))
        return
    table = Table("tool", "effect", "description")
    for t in tools:
        table.add_row(t.name, t.permissions.effect, t.description)
    Console().print(table)


@app.command()
def call(
    name: Annotated[str, typer.Argument(help="Tool name, e.g. knowledge.search")],
    arguments: Annotated[str, typer.Argument(help="Arguments as a JSON object")] = "{}",
    tenant: Annotated[str, typer.Option(help="Call as this tenant.")] = "local",
    confirm: Annotated[bool, typer.Option("--confirm", help="Confirm a write tool.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Call a tool (policy applies: schema, confirmation, timeout, size cap, audit)."""
    from jaju.errors import JajuError
    from jaju.tools.registry import ToolError, ToolPolicy

    registry, store = _registry(config, home)
    try:
        result = asyncio.run(registry.call(name, arguments, policy=ToolPolicy(), tenant=tenant,
                                           actor=f"cli:{tenant}", confirmed=confirm))
    except ToolError as e:
        fail(f"{e.code}: {e.message}", code=1)
    except JajuError as e:
        fail(str(e), code=1)
    finally:
        store.close()
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
