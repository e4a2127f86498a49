"""`jaju packs list|show|install|eval`: industry packs registered by plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings

app = typer.Typer(help="Industry packs (assistants, documents, tools, evaluation sets).",
                  no_args_is_help=True)
SHARED = "*"


def _packs() -> dict[str, Any]:
    from jaju.plugins import get_plugin_manager, packs

    return packs(get_plugin_manager())


def _pack(name: str) -> Any:
    found = _packs()
    if name not in found:
        fail(f"팩이 없습니다 / no pack {name!r} (registered: {', '.join(sorted(found)) or '-'})",
             code=1)
    return found[name]


def _installed(config: Path | None, home: Path | None) -> list[dict[str, Any]]:
    from jaju.store import open_store

    store = open_store(load_settings(config, home).store_url)
    try:
        return store.installed_packs()
    finally:
        store.close()


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Packs the installed plugins register, and where each is installed."""
    installed = _installed(config, home)
    rows = []
    for name, pack in sorted(_packs().items()):
        where = [("(shared)" if r["tenant"] == SHARED else r["tenant"]) + f" {r['version']}"
                 for r in installed if r["name"] == name]
        rows.append({"name": name, "title": pack.title, "version": pack.version,
                     "assistants": [a["name"] for a in pack.assistants],
                     "tools": [pack.tool_name(t.name) for t in pack.tools],
                     "installed": where})
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("name", "title", "version", "assistants", "tools", "installed")
    for r in rows:
        table.add_row(r["name"], r["title"], r["version"], ", ".join(r["assistants"]),
                      str(len(r["tools"])), ", ".join(r["installed"]) or "-")
    Console().print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Pack name.")],
) -> None:
    """A pack's assistants, knowledge, tools and evaluation sets."""
    pack = _pack(name)
    console = Console()
    console.print(f"[bold]{pack.name}[/] {pack.version}: {pack.title}", highlight=False)
    if pack.description:
        console.print(pack.description, highlight=False)
    console.print("\n[bold]assistants[/]")
    for a in pack.assistants:
        extra = f" (filter {a['knowledge_filter']})" if a.get("knowledge_filter") else ""
        console.print(f"  {a['name']}: {a.get('description', '')}{extra}", highlight=False)
    console.print("\n[bold]knowledge[/]")
    for k in pack.knowledge:
        console.print(f"  {k.name}: {k.description} — {', '.join(str(s) for s in k.sources)}"
                      f"{f' (synonyms {k.synonyms})' if k.synonyms else ''}", highlight=False)
    console.print("\n[bold]tools[/]")
    for t in pack.tools:
        tool = t.tool()
        console.print(f"  {pack.tool_name(t.name)}: {tool.description}", highlight=False)
    console.print("\n[bold]evals[/]")
    for e in pack.evals:
        console.print(f"  {e.name}{' (frozen)' if e.frozen else ''}: {e.path} {e.note}",
                      highlight=False)


@app.command()
def install(
    name: Annotated[str, typer.Argument(help="Pack name.")],
    tenant: Annotated[str | None, typer.Option(
        help="Install into this tenant's knowledge bases (default: shared).")] = None,
    embedder: Annotated[str | None, typer.Option(
        help="Dense signal for its knowledge bases: e5, use, openai:URL#MODEL or none "
             "(lexical only); default: the pack's own.")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Ingest a pack's documents (with its synonym dictionary) and serve its assistants."""
    from jaju.errors import JajuError
    from jaju.knowledge.index import KnowledgeIndex, knowledge_location
    from jaju.packs.base import install_knowledge
    from jaju.plugins import get_plugin_manager, parsers
    from jaju.store import open_store

    pack = _pack(name)
    settings = load_settings(config, home)
    index = KnowledgeIndex(knowledge_location(settings))
    try:
        with err.status(f"{pack.name}: ingest…"):
            done = install_knowledge(pack, index, parsers(get_plugin_manager()), tenant,
                                     embedder=embedder)
    except JajuError as e:
        fail(str(e))
    finally:
        index.close()
    for source in done:
        owner = "(shared)" if source.kb.tenant == SHARED else f"tenant {source.kb.tenant}"
        err.print(f"knowledge base '{source.kb.name}' {owner}: {source.files} files, "
                  f"{source.chunks} new chunks, dense signal: {source.kb.embedder or 'none'}",
                  highlight=False)
        for note in source.notes:  # escaped: "pip install 'jaju[e5]'" is not markup
            err.print(f"[yellow]{escape(note)}[/]", highlight=False)
        for failure in source.failures:
            err.print(f"[red]실패 / failed[/] {escape(failure)}", highlight=False)
    store = open_store(settings.store_url)
    store.add_pack(pack.name, tenant or SHARED, pack.version, actor="cli")
    store.close()
    names = [a["name"] for a in pack.assistants]
    taken = [n for n in names if n in settings.assistants]
    err.print(f"installed pack '{pack.name}' {pack.version}: assistants {', '.join(names)}"
              + (f" (jaju.toml's own {', '.join(taken)} win)" if taken else ""), highlight=False)
    err.print("실행 중인 jaju serve는 다시 시작해야 새 어시스턴트를 제공합니다 / a jaju serve that is "
              "already running serves the new assistants after a restart", highlight=False)
    if any(s.failures for s in done):
        raise typer.Exit(1)


@app.command("eval")
def eval_(
    name: Annotated[str, typer.Argument(help="Pack name.")],
    assistant: Annotated[str | None, typer.Option(
        help="Which of its assistants (default: the first).")] = None,
    eval_set: Annotated[str | None, typer.Option(
        "--set", help="Which evaluation set (default: the frozen one).")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report with charts.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant to ask as.")] = "local",
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Run a pack's evaluation set (the frozen one by default) through `jaju eval`."""
    from jaju.cli.eval import run_set
    from jaju.errors import JajuError

    pack = _pack(name)
    try:
        chosen = pack.eval_set(eval_set)
    except JajuError as e:
        fail(str(e))
    model = assistant or (pack.assistants[0]["name"] if pack.assistants else None)
    if model is None:
        fail(f"팩 '{name}'에 어시스턴트가 없습니다 / the pack has no assistant")
    settings = load_settings(config, home)
    run_set(settings, [model], chosen.path, tenant, html,
            title=f"jaju packs eval {name} ({chosen.name})")
