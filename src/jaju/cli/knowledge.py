"""`jaju ingest`, `jaju kb list|show|delete|remove`, `jaju search`, `jaju ask`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings, out
from jaju.errors import ConfigError, JajuError, NotFound
from jaju.knowledge.index import SHARED_TENANT, KnowledgeIndex, knowledge_location
from jaju.knowledge.parsers import Limits

app = typer.Typer(help="Knowledge bases.", no_args_is_help=True)
LOCAL_TENANT = "local"

TenantOption = Annotated[str, typer.Option(help="Tenant that owns the knowledge base.")]
KbOption = Annotated[str, typer.Option("--kb", help="Knowledge base name.")]


def _tenant(tenant: str, shared: bool) -> str:
    return SHARED_TENANT if shared else tenant


def _index(config: Path | None, home: Path | None) -> KnowledgeIndex:
    return KnowledgeIndex(knowledge_location(load_settings(config, home)))


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursive).")],
    kb: KbOption,
    tenant: TenantOption = LOCAL_TENANT,
    shared: Annotated[bool, typer.Option("--shared", help="Readable by every tenant.")] = False,
    synonyms: Annotated[str | None, typer.Option(
        help="Synonym dictionary: a shipped name (everyday-legal) or a TSV file.")] = None,
    description: Annotated[str, typer.Option(help="What the knowledge base holds.")] = "",
    embedder: Annotated[str | None, typer.Option(
        help="Dense signal: 'e5' or 'use' (offline, in-process) or "
             "'openai:BASE_URL#MODEL'.")] = None,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks", help="Follow symlinks that lead out of a folder.")] = False,
    glosses: Annotated[Path | None, typer.Option(
        help="Folder of <file stem>.tsv glosses (제N조<TAB>everyday words), indexed with "
             "their articles, never shown.")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Add documents (HWP, HWPX, PDF, DOCX, HTML, Markdown, text) to a knowledge base.

    In folders, files of other formats, README/SOURCE/LICENSE files, dotfiles and symlinks
    leading out of the folder are skipped and listed (not failures)."""
    from rich.markup import escape

    from jaju.knowledge import synonyms as synonym_dicts
    from jaju.knowledge.ingest import FileResult, collect, display, gloss_keywords, read_glosses
    from jaju.knowledge.ingest import ingest as run_ingest
    from jaju.plugins import get_plugin_manager, parsers

    missing = [p for p in paths if not p.exists()]
    if missing:
        fail(f"경로가 없습니다 / no such file or folder: {', '.join(map(display, missing))}")
    table = parsers(get_plugin_manager())
    collected = collect(paths, follow_symlinks=follow_symlinks, suffixes=table)
    try:
        keywords, notes = gloss_keywords(read_glosses(glosses) if glosses else {},
                                         collected.files)
    except ConfigError as e:
        fail(str(e))
    for note in notes:
        err.print(f"[yellow]{escape(note)}[/]", highlight=False)
    limits = load_settings(config, home).limits
    index = _index(config, home)
    owner = _tenant(tenant, shared)
    base = index.create(owner, kb, description)
    if synonyms:
        try:
            base = index.set_synonyms(base, synonym_dicts.load(synonyms, index.analyzer))
        except ConfigError as e:
            fail(str(e))
    if embedder is not None and embedder != base.embedder:
        try:
            base = index.set_embedder(base, embedder or None)
        except JajuError as e:
            fail(str(e))
    total = len(collected.files) + len(collected.skipped)
    results = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[name]}"), console=err,
                  transient=False) as progress:
        task = progress.add_task("ingest", total=total, name="")
        import time

        started = time.perf_counter()

        def advance(path: Path, result: FileResult) -> None:
            results.append(result)
            progress.update(task, advance=1, name=display(path.name))

        run_ingest(index, base, paths, table, on_file=advance, follow_symlinks=follow_symlinks,
                   limits=Limits(limits.max_member_bytes, limits.max_document_bytes),
                   keywords=keywords)
        seconds = time.perf_counter() - started
    index.close()
    counts = {s: sum(1 for r in results if r.status == s)
              for s in ("added", "replaced", "unchanged", "failed", "skipped")}
    chars = sum(r.chars for r in results)
    summary = Table(title=f"지식 베이스 / knowledge base '{kb}'"
                          f"{' (shared)' if shared else f' (tenant {tenant})'}",
                    show_header=False)
    summary.add_column(justify="left")
    summary.add_column(justify="right")
    rows = [("files", str(len(results))), *((s, str(n)) for s, n in counts.items()),
            ("chunks", str(sum(r.chunks for r in results))),
            *([("glossed chunks", str(sum(r.glossed for r in results)))] if glosses else []),
            ("characters", f"{chars:,}"),
            ("seconds", f"{seconds:.1f}"),
            ("characters/s", f"{chars / seconds:,.0f}" if seconds > 0 else "-")]
    for key, value in rows:
        summary.add_row(key, value)
    err.print(summary)
    for r in results:
        if r.status == "skipped":
            err.print(f"[yellow]건너뜀 / skipped[/] {escape(r.path)}: {escape(r.reason)}",
                      highlight=False)
    for r in results:
        if r.status == "failed":
            err.print(f"[red]실패 / failed[/] {escape(r.path)}: {escape(r.reason)}",
                      highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only what this tenant can see.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List knowledge bases with their size."""
    index = _index(config, home)
    rows = [{"name": kb.name, "tenant": kb.tenant, "description": kb.description,
             **index.stats(kb)} for kb in index.bases(tenant)]
    index.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table()
    table.add_column("name", no_wrap=True)
    table.add_column("tenant", overflow="fold")
    for name in ("documents", "chunks", "characters"):
        table.add_column(name, justify="right", overflow="fold")
    table.add_column("description", overflow="fold")
    for r in rows:
        table.add_row(str(r["name"]),
                      "(shared)" if r["tenant"] == SHARED_TENANT else str(r["tenant"]),
                      str(r["documents"]), str(r["chunks"]), f"{r['characters']:,}",
                      str(r["description"]))
    out().print(table)


def _get(index: KnowledgeIndex, tenant: str, shared: bool, name: str) -> Any:
    try:
        return index.get(_tenant(tenant, shared), name)
    except NotFound as e:
        fail(e.message, code=1)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Knowledge base name.")],
    tenant: TenantOption = LOCAL_TENANT,
    shared: Annotated[bool, typer.Option("--shared", help="The shared knowledge base of that name.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Show a knowledge base's documents."""
    index = _index(config, home)
    kb = _get(index, tenant, shared, name)
    docs = index.documents(kb)
    index.close()
    if as_json:
        typer.echo(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return
    console = out()
    console.print(documents_table(f"{name}: {len(docs)} documents", docs,
                                  narrow=console.is_terminal and console.width < 120))
    flagged = sum(1 for d in docs if d.meta.get("pii"))
    if flagged:
        err.print(f"개인정보가 포함된 문서 {flagged}건 / {flagged} document(s) contain personal "
                  "data (types and counts only; see `jaju pii scan`)", highlight=False)


def documents_table(title: str, docs: list[Any], *, narrow: bool = False) -> Table:
    """Paths whole: a terminal folds them onto more lines instead of cutting them; a narrow
    one (under 120 columns) shows only document, title, chunks and PII, so paths get room."""
    table = Table(title=title)
    table.add_column("document", overflow="fold", ratio=1 if narrow else None)
    table.add_column("title", overflow="fold", max_width=16 if narrow else None)
    if not narrow:
        table.add_column("format", overflow="fold")
    table.add_column("chunks", justify="right", no_wrap=narrow, overflow="fold")
    if not narrow:
        table.add_column("characters", justify="right", overflow="fold")
    table.add_column("PII", overflow="fold")
    if not narrow:
        table.add_column("ingested", overflow="fold")
    for d in docs:
        when = dt.datetime.fromtimestamp(d.ingested_at).strftime("%Y-%m-%d %H:%M")
        pii = ", ".join(f"{t} {n}" for t, n in sorted((d.meta.get("pii") or {}).items()))
        cells = [d.path, d.title or "", d.format, str(d.chunks), f"{d.chars:,}",
                 f"[yellow]{pii}[/]" if pii else "-", when]
        if narrow:
            cells = [cells[0], cells[1], cells[3], cells[5]]
        table.add_row(*cells)
    return table


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Knowledge base name.")],
    tenant: TenantOption = LOCAL_TENANT,
    shared: Annotated[bool, typer.Option("--shared", help="The shared knowledge base of that name.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Delete a knowledge base and everything in it."""
    index = _index(config, home)
    kb = _get(index, tenant, shared, name)
    if not yes and not typer.confirm(f"'{name}'을(를) 삭제할까요? / delete '{name}'?"):
        raise typer.Exit(1)
    index.delete(kb)
    index.close()
    err.print(f"deleted knowledge base '{name}'", highlight=False)


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="Knowledge base name.")],
    path: Annotated[Path, typer.Argument(help="The document's path as ingested.")],
    tenant: TenantOption = LOCAL_TENANT,
    shared: Annotated[bool, typer.Option("--shared", help="The shared knowledge base of that name.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Remove one document (and its chunks) from a knowledge base."""
    index = _index(config, home)
    kb = _get(index, tenant, shared, name)
    ok = index.remove_document(kb, str(path.resolve()))
    index.close()
    if not ok:
        fail(f"문서가 없습니다 / no such document in '{name}': {path}", code=1)
    err.print(f"removed {path}", highlight=False)


def search(
    query: Annotated[str, typer.Argument(help="질문 / the question")],
    kb: KbOption,
    k: Annotated[int, typer.Option("-k", min=1, max=100,
                                   help="How many hits to show (1-100).")] = 10,
    tenant: TenantOption = LOCAL_TENANT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Search a knowledge base (the tenant's own, or a shared one)."""
    index = _index(config, home)
    base = _get(index, tenant, False, kb)
    try:
        hits = index.search(base, query, k)
    except JajuError as e:
        fail(str(e))
    index.close()
    if as_json:
        typer.echo(json.dumps({"hits": [h.to_dict() for h in hits]}, ensure_ascii=False,
                              indent=2))
        return
    from jaju.knowledge.answer import label

    console = Console()
    if not hits:
        console.print("결과 없음 / no results")
    for rank, h in enumerate(hits, 1):
        console.print(f"[bold]{rank}. {label(h.source)}[/]  [dim]{h.score:.3f}  "
                      f"{h.source['path']}[/]", highlight=False)
        console.print("   " + h.text[:300].replace("\n", " "), highlight=False)


def ask(
    question: Annotated[str, typer.Argument(help="질문 / the question")],
    assistant: Annotated[str, typer.Option(help="Assistant (model id) to ask.")],
    tenant: TenantOption = LOCAL_TENANT,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Ask an assistant once, in-process, and print the answer and its sources."""
    from jaju.caller import Caller
    from jaju.state import AppState

    settings = load_settings(config, home)
    state = AppState.build(settings)

    async def run() -> dict[str, Any]:
        await state.start()
        try:
            body = {"model": assistant, "messages": [{"role": "user", "content": question}]}
            result = await state.gateway.chat(Caller(tenant, label=f"cli:{tenant}"), body)
            assert isinstance(result, dict)
            return result
        finally:
            await state.aclose()

    try:
        result = asyncio.run(run())
    except JajuError as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(result["choices"][0]["message"].get("content") or "", highlight=False)
    citations = result.get("citations") or []
    if citations:
        console.print("\n[bold]출처 / sources[/]")
        for c in citations:
            where = c["source"].get("path", "")
            console.print(f"  [{c['index']}] {c['label']}  [dim]{where}[/]", highlight=False)
