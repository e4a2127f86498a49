"""`jaju audit verify|show|head`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, err, load_settings, open_store, out

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command()
def verify(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Check the chain: any edited or deleted record is reported and the exit code is 1."""
    from jaju.store import Store

    settings = load_settings(config, home)
    store = Store(settings.db_path)
    count, problems = store.verify_audit()
    seq, digest = store.audit_head()
    store.close()
    if problems:
        for p in problems:
            err.print(f"[red]record {p.seq}[/]: {p.problem}", highlight=False)
        err.print(f"[bold red]감사 로그가 변조되었습니다 / audit log FAILED verification[/] "
                  f"({len(problems)} problem(s) in {count} records of {settings.db_path})", highlight=False)
        raise typer.Exit(1)
    err.print(f"[green]감사 로그 정상 / audit log OK[/]: {count} records, head {seq} {digest} "
              f"({settings.db_path})", highlight=False)


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
    out().print(audit_table(records))


def audit_table(records: list[dict[str, Any]]) -> Table:
    """Every cell whole: long actors, targets and details fold onto more lines."""
    table = Table()
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time", overflow="fold", min_width=10)
    for name in ("actor", "action", "target", "outcome"):
        table.add_column(name, overflow="fold")
    table.add_column("detail", overflow="fold", ratio=1, min_width=20)
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
