"""`jaju audit verify|show|head`."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from jaju.cli.common import (
    ConfigOption,
    HomeOption,
    err,
    fail,
    load_settings,
    open_store,
    out,
)

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command()
def verify(
    anchor: Annotated[list[str] | None, typer.Option(
        help="\"SEQ HASH\" as `jaju audit head` printed it earlier (repeatable): the chain "
             "must still hold that record with that hash, which catches a chain rewritten "
             "whole.")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Check the chain: any edited or deleted record is reported and the exit code is 1."""
    from jaju.store import AuditProblem, open_store
    from jaju.store.base import GENESIS

    anchors = [_anchor(a) for a in anchor or []]
    settings = load_settings(config, home)
    store = open_store(settings.store_url)
    count, problems = store.verify_audit()
    for at, expected in anchors:
        found = store.audit_hash(at) if at else GENESIS  # the head of an empty chain
        if found != expected:
            problems.append(AuditProblem(at, "the anchored record is missing" if found is None
                                         else "the anchored record's hash differs"))
    seq, digest = store.audit_head()
    store.close()
    if problems:
        for p in problems:
            err.print(f"[red]record {p.seq}[/]: {p.problem}", highlight=False)
        err.print(f"[bold red]감사 로그가 변조되었습니다 / audit log FAILED verification[/] "
                  f"({len(problems)} problem(s) in {count} records of {store.url})", highlight=False)
        raise typer.Exit(1)
    err.print(f"[green]감사 로그 정상 / audit log OK[/]: {count} records, head {seq} {digest} "
              f"({store.url})", highlight=False)


def _anchor(text: str) -> tuple[int, str]:
    words = text.split()
    if len(words) != 2 or not words[0].isdigit() or not re.fullmatch(r"[0-9a-fA-F]{64}",
                                                                      words[1]):
        fail(f"--anchor는 'SEQ HASH' 형식입니다 / --anchor takes \"SEQ HASH\" as `jaju audit "
             f"head` prints it, not {text[:200]!r}")
    return int(words[0]), words[1].lower()


@app.command()
def show(
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Show the latest records."""
    store = open_store(config, home)
    records = store.audit_records(limit)
    store.close()
    if as_json:
        typer.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    console = out()
    if console.is_terminal and console.width < 120:  # seven columns do not fit: one block each
        console.print(audit_blocks(records), highlight=False)
    else:
        console.print(audit_table(records))


def audit_blocks(records: list[dict[str, Any]]) -> Text:
    """Records as short blocks (header line, then actor, target and detail on lines of their
    own) for a narrow terminal: nothing is cut, long details wrap."""
    text = Text()
    for r in records:
        when = dt.datetime.fromtimestamp(r["ts"]).strftime("%Y-%m-%d %H:%M:%S")
        text.append(f"#{r['seq']}  {when}  ", style="bold")
        text.append(f"{r['action']}  {r['outcome']}\n", style="bold")
        for name in ("actor", "target", "detail"):
            if r.get(name):
                text.append(f"    {name:<7}", style="dim")
                text.append(f"{r[name]}\n")
    return text


def audit_table(records: list[dict[str, Any]]) -> Table:
    """Every cell whole: long actors, targets and details fold onto more lines."""
    table = Table()
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time", overflow="fold")
    for name in ("actor", "action", "target", "outcome", "detail"):
        table.add_column(name, overflow="fold")
    for r in records:
        when = dt.datetime.fromtimestamp(r["ts"]).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(r["seq"]), when, r["actor"], r["action"], r["target"] or "",
                      r["outcome"], r["detail"])
    return table


@app.command()
def head(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Print the last record's number and hash: write it down elsewhere to anchor the chain."""
    store = open_store(config, home)
    seq, digest = store.audit_head()
    store.close()
    typer.echo(f"{seq} {digest}")
