"""Entry point: `jaju`."""

from __future__ import annotations

import typer

from jaju import __version__
from jaju.cli import audit, config, guard, keys, knowledge, packs, serve, tools, usage
from jaju.cli import eval as eval_cmd

app = typer.Typer(
    name="jaju",
    help="jaju (자주): self-hosted, Korean-first AI platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("init")(serve.init)
app.add_typer(config.app, name="config")
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
    app()
