"""`jaju usage`: requests and tokens per tenant and model."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

import typer
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, fail, load_settings, out

UNITS = {"m": 60, "h": 3600, "d": 86400}


def usage(
    since: Annotated[str | None, typer.Option(help="Only the last 30m, 24h, 7d, ...")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Summarise usage per tenant and model."""
    start = None
    if since:
        m = re.fullmatch(r"(\d+)([mhd])", since)
        if not m:
            fail(f"--since 형식 오류 / --since must look like 30m, 24h or 7d, not {since!r}")
        start = time.time() - int(m.group(1)) * UNITS[m.group(2)]
    from jaju.store import open_store

    settings = load_settings(config, home)
    store = open_store(settings.store_url)
    rows = store.usage_summary(since=start, tenant=tenant)
    store.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(caption=f"recorded in {store.url}")
    table.add_column("tenant", overflow="fold")
    table.add_column("model", overflow="fold")
    for name in ("requests", "errors", "prompt tokens", "completion tokens", "avg latency ms"):
        table.add_column(name, justify="right", overflow="fold")
    for r in rows:
        table.add_row(r["tenant"], r["model"], str(r["requests"]), str(r["errors"]),
                      str(r["prompt_tokens"]), str(r["completion_tokens"]),
                      f"{r['avg_latency_ms']:.1f}")
    out().print(table)
