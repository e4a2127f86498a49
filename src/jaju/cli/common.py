"""Options and helpers shared by the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from jaju.config import Settings
from jaju.errors import ConfigError

err = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="JAJU_HOME", help="Directory for all state (default ~/.jaju)."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="JAJU_CONFIG", help="Path to jaju.toml."),
]


def out() -> Console:
    """The console for tables on stdout. Piped or redirected, lines are not limited to a width
    (every row stays on one line for grep and cut, whatever COLUMNS says); in a terminal, its
    width, with the columns that must stay whole (ids) never cut and long ones folded."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=100_000, no_color=True)
    return console


def load_settings(config: Path | None, home: Path | None) -> Settings:
    try:
        return Settings.load(config, home=home)
    except ConfigError as e:
        fail(str(e))


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]오류 / error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def open_store(config: Path | None, home: Path | None):  # type: ignore[no-untyped-def]
    from jaju.store import open_store

    try:
        return open_store(load_settings(config, home).store_url)
    except ConfigError as e:
        fail(str(e))
