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
    paths: Annotated[list[Path], typer.Argument(
        help="Files or folders (any ingestible format); '-' reads text from standard input.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Report PII found in documents: type, position, confidence (never the values)."""
    from rich.markup import escape

    from jaju.guards.pii import detect
    from jaju.knowledge.chunking import document_text
    from jaju.knowledge.ingest import collect, display, parse
    from jaju.knowledge.parsers import ParseError
    from jaju.plugins import get_plugin_manager, parsers

    missing = [str(p) for p in paths if str(p) != "-" and not p.exists()]
    if missing:
        fail("파일이나 폴더가 없습니다 / no such file or folder: " + ", ".join(missing))
    table = parsers(get_plugin_manager())
    report: list[dict[str, Any]] = []
    if any(str(p) == "-" for p in paths):
        text = sys.stdin.read()
        report.append({"path": "-", "findings": [f.to_dict() for f in detect(text)]})
    collected = collect([p for p in paths if str(p) != "-"], suffixes=table)
    for skipped in collected.skipped:
        report.append({"path": skipped.path, "skipped": skipped.reason})
    for path in collected.files:
        parser = table.get(path.suffix.lower())
        if parser is None:
            report.append({"path": display(path),
                           "error": f"지원하지 않는 형식 / unsupported format '{path.suffix}'"})
            continue
        try:
            text = document_text(parse(parser, path).blocks)
        except (ParseError, OSError) as e:
            report.append({"path": display(path), "error": str(e)})
            continue
        except Exception as e:  # a parser library choking on a broken file
            report.append({"path": display(path), "error": f"손상된 파일 / corrupt file: "
                                                            f"{type(e).__name__}: {e}"})
            continue
        report.append({"path": display(path), "findings": [f.to_dict() for f in detect(text)]})
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    out = Table("document", "PII found", "types")
    for r in report:
        if "skipped" in r:
            out.add_row(escape(r["path"]), "-", f"[yellow]{escape(r['skipped'])}[/]")
            continue
        if "error" in r:
            out.add_row(escape(r["path"]), "-", f"[red]{escape(r['error'])}[/]")
            continue
        counts = Counter(f["type"] for f in r["findings"])
        out.add_row(escape(r["path"]), str(sum(counts.values())),
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
