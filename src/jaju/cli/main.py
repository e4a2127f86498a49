"""Entry point: `jaju`."""

from __future__ import annotations

from typing import Any

import typer

from jaju import __version__
from jaju.cli import audit, config, guard, keys, knowledge, packs, serve, store, tools, usage
from jaju.cli import eval as eval_cmd


def _no_type_after_flags() -> None:
    """typer's rich help (0.2x, its own vendored click) prints the type of every option, so a
    flag reads `--json <bool>` as if it took a value; its plain help leaves flags bare, as
    click always did. Do the same in the rich panels."""
    option = getattr(getattr(typer, "core", None), "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if option is None or original is None or getattr(original, "_jaju", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return original(self, ctx)

    display_type_rich._jaju = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich


_no_type_after_flags()

app = typer.Typer(
    name="jaju",
    help="jaju (자주): self-hosted, Korean-first AI platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every subcommand
)
app.command("serve")(serve.serve)
app.command("init")(serve.init)
app.add_typer(config.app, name="config")
app.command("migrate")(store.migrate)
app.add_typer(store.app, name="store")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.command("usage")(usage.usage)
app.command("ingest")(knowledge.ingest)
app.add_typer(knowledge.app, name="kb")
app.command("search")(knowledge.search)
app.command("ask")(knowledge.ask)
app.add_typer(guard.pii_app, name="pii")
app.add_typer(guard.guard_app, name="guard")
app.add_typer(tools.app, name="tools")
app.add_typer(tools.plugins_app, name="plugins")
app.add_typer(tools.mcp_app, name="mcp")
app.add_typer(packs.app, name="packs")
app.command("eval")(eval_cmd.eval_)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    from jaju.cli.common import err
    from jaju.errors import JajuError

    try:
        app()
    except JajuError as e:  # a clear message, never a traceback, for jaju's own errors
        err.print(f"[bold red]오류 / error:[/] {e}", highlight=False)
        raise SystemExit(2) from None
