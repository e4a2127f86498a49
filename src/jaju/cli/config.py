"""`jaju config check`: validate a configuration as `jaju serve` would, plugins included."""

from __future__ import annotations

import typer

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings

app = typer.Typer(help="Configuration (jaju.toml).", no_args_is_help=True)


@app.command("check")
def check(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Check jaju.toml with the installed plugins (backend types, guards, tools); exit 2 with
    the key path of each problem. Starts nothing and writes nothing."""
    from jaju.errors import ConfigError
    from jaju.state import check_config, disabled_plugins

    settings = load_settings(config, home)
    try:
        disabled = disabled_plugins(settings)
    except ConfigError as e:  # e.g. a PostgreSQL store this machine cannot reach
        disabled = set()
        err.print(f"참고 / note: {e}\n  꺼진 플러그인 없이 검사합니다 / checked as if no plugin "
                  "were disabled", highlight=False, markup=False)
    try:
        checked = check_config(settings, disabled=disabled)
    except ConfigError as e:
        fail(str(e))
    typer.echo(f"설정이 올바릅니다 / configuration is valid: {', '.join(checked)}")
