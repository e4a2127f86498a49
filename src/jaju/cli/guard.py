"""`jaju pii scan|mask` and `jaju guard check`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jaju.cli.common import err, fail

pii_app = typer.Typer(help="Personal data: find and mask.", no_args_is_help=True)
guard_app = typer.Typer(help="Run the guards on a text.", no_args_is_help=True)


@pii_app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (any ingestible format).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Report PII found in documents: type, position, confidence (never the values)."""
    from jaju.guards.pii import detect
    from jaju.knowledge.chunking import document_text
    from jaju.knowledge.ingest import collect_files
    from jaju.knowledge.parsers import ParseError
    from jaju.plugins import get_plugin_manager, parsers

    table = parsers(get_plugin_manager())
    report: list[dict[str, Any]] = []
    for path in collect_files(paths):
        parser = table.get(path.suffix.lower())
        if parser is None:
            report.append({"path": str(path), "error": "unsupported format"})
            continue
        try:
            text = document_text(parser(path).blocks)
        except (ParseError, OSError) as e:
            report.append({"path": str(path), "error": str(e)})
            continue
        report.append({"path": str(path), "findings": [f.to_dict() for f in detect(text)]})
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    out = Table("document", "PII found", "types")
    for r in report:
        if "error" in r:
            out.add_row(r["path"], "-", f"[red]{r['error']}[/]")
            continue
        counts = Counter(f["type"] for f in r["findings"])
        out.add_row(r["path"], str(sum(counts.values())),
                    ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    Console().print(out)


@pii_app.command("mask")
def mask_command(
    types: Annotated[str | None, typer.Option(help="Only these types, e.g. RRN,CARD.")] = None,
) -> None:
    """Read text on stdin, write it to stdout with PII masked (880101-1******)."""
    from jaju.guards.actions import PiiPolicy, Vault, apply

    wanted = [t.strip().upper() for t in types.split(",")] if types else []
    policy = PiiPolicy({t: "mask" for t in wanted}, "allow" if wanted else "mask")
    text = sys.stdin.read()
    applied = apply(text, policy, Vault())
    sys.stdout.write(applied.text)
    if applied.decisions:
        err.print(", ".join(f"{k} {v}" for k, v in sorted(applied.decisions.items())),
                  highlight=False)


@guard_app.command("check")
def check(text: Annotated[str, typer.Argument(help="The text to check.")]) -> None:
    """PII, content safety and prompt injection on one text, as JSON."""
    from jaju.plugins import get_plugin_manager, guard_types

    if not text.strip():
        fail("빈 텍스트 / empty text")
    reports = {name: kind.check(text) for name, kind in guard_types(get_plugin_manager()).items()}
    typer.echo(json.dumps({k: v for k, v in reports.items() if v is not None},
                          ensure_ascii=False, indent=2))
