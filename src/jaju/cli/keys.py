"""`jaju keys create|list|revoke`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings, open_store, out
from jaju.protocol import tenant_problem
from jaju.store.base import KEY_PREFIX, ApiKey

CLI_ACTOR = "cli"
"""How the audit log names the operator at the command line."""

app = typer.Typer(help="API keys per tenant.", no_args_is_help=True)


@app.command()
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    qpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(min=1, help="Tokens per minute.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May manage plugins and call tools "
                                        "over the admin API.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Create a key. The key alone goes to stdout, once; it is stored only hashed."""
    if problem := tenant_problem(tenant.strip()):
        fail(f"테넌트 이름이 올바르지 않습니다 / invalid tenant name {tenant[:80]!r}: {problem}")
    from jaju.store import open_store

    settings = load_settings(config, home)
    store = open_store(settings.store_url)
    secret, key = store.create_key(tenant.strip(), qpm=qpm, tpm=tpm, admin=admin,
                                   actor=CLI_ACTOR)
    store.close()
    from jaju.store.postgres import hide_password

    where = hide_password(settings.store.url) if settings.store.url else settings.home
    err.print(f"created {key.id} for tenant '{key.tenant}' in {where}. "
              "Keep the key now: it is not shown again. / 키는 다시 표시되지 않습니다.",
              highlight=False)
    typer.echo(secret)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List keys (ids and prefixes, never the keys)."""
    store = open_store(config, home)
    keys = store.list_keys(tenant)
    store.close()
    if as_json:
        typer.echo(json.dumps([k.__dict__ for k in keys], ensure_ascii=False, indent=2))
        return
    out().print(keys_table(keys))


def keys_table(keys: list[ApiKey]) -> Table:
    """Ids whole (`revoke` needs them), whatever the width; the rest folds."""
    table = Table(caption=f"{len(keys)} key(s)")
    table.add_column("id", no_wrap=True, min_width=max((len(k.id) for k in keys), default=2))
    table.add_column("tenant", overflow="fold")
    table.add_column("prefix", no_wrap=True)
    for name in ("qpm", "tpm"):
        table.add_column(name, justify="right", overflow="fold")
    table.add_column("created", overflow="fold")
    table.add_column("status", overflow="fold")
    for k in keys:
        created = dt.datetime.fromtimestamp(k.created_at).strftime("%Y-%m-%d %H:%M")
        table.add_row(k.id, k.tenant, k.prefix + "…", str(k.qpm or "-"), str(k.tpm or "-"),
                      created, "revoked" if k.revoked_at else "active")
    return table


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (key_...), its prefix, or the key.")],
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    store = open_store(config, home)
    if len(key_id) > len(KEY_PREFIX) + 8 and key_id.startswith(KEY_PREFIX):
        found = store.find_key(key_id)  # the key itself: revoke it by its id (never logged)
        key_id = found.id if found else key_id[:len(KEY_PREFIX) + 4] + "…"
    ok = store.revoke_key(key_id, actor=CLI_ACTOR)
    store.close()
    if not ok:
        fail(f"활성 키 '{key_id}'이(가) 없습니다 / no active key '{key_id}'", code=1)
    err.print(f"revoked {key_id}", highlight=False)
