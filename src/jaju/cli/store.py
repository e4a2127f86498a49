"""`jaju migrate` and `jaju store copy`: the store's schema, and moving a deployment."""

from __future__ import annotations

from typing import Annotated

import typer

from jaju.cli.common import ConfigOption, HomeOption, fail, load_settings

app = typer.Typer(help="The store (keys, usage, audit, plugin switches).", no_args_is_help=True)


def migrate(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Bring the store's schema (and the knowledge index's) up to date; safe to repeat, and
    safe when several replicas start at once."""
    from jaju.errors import ConfigError
    from jaju.knowledge.index import KnowledgeIndex, knowledge_location
    from jaju.store import open_store

    settings = load_settings(config, home)
    try:
        store = open_store(settings.store_url)
        KnowledgeIndex(knowledge_location(settings)).close()
    except ConfigError as e:
        fail(str(e))
    applied = store.engine.applied
    store.close()
    typer.echo(f"저장소가 최신입니다 / the store is up to date: {store.url}"
               + (f" (applied {', '.join(applied)})" if applied else ""))


@app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(help="sqlite:///path or postgresql://… to copy from")],
    target: Annotated[str, typer.Argument(help="An empty store to copy into")],
    knowledge: Annotated[bool, typer.Option(
        "--knowledge/--no-knowledge",
        help="Also copy the knowledge bases, when the target is PostgreSQL (where knowledge "
             "lives with the store).")] = True,
) -> None:
    """Copy a whole deployment (keys, usage, the audit chain, plugin switches, and — into
    PostgreSQL — the knowledge bases) into an empty store, e.g. from SQLite to PostgreSQL;
    then compare counts and verify the copied chain."""
    from jaju.errors import ConfigError
    from jaju.knowledge.index import KnowledgeIndex
    from jaju.store import is_postgres, open_store, sqlite_path

    def shown(name: str, n: object) -> None:
        typer.echo(f"  {name}: {n}", err=True)

    try:
        path = sqlite_path(source)
        if path is not None and not path.is_file():  # opening it would create an empty one
            fail(f"복사할 원본이 없습니다 / the source store does not exist: {path}")
        src, dst = open_store(source), open_store(target)
        src.copy_to(dst, progress=shown)
        if knowledge and is_postgres(target):
            here, there = KnowledgeIndex(source), KnowledgeIndex(target)
            try:
                here.copy_to(there, progress=shown)
                knowledge_counts = ([here.stats(kb) for kb in here.bases()],
                                    [there.stats(kb) for kb in there.bases()])
            finally:
                here.close()
                there.close()
            if knowledge_counts[0] != knowledge_counts[1]:
                fail(f"지식 베이스 복사본이 다릅니다 / the knowledge copy differs: "
                     f"{knowledge_counts[0]} vs {knowledge_counts[1]}")
    except ConfigError as e:
        fail(str(e))
    before, after = src.counts(), dst.counts()
    count, problems = dst.verify_audit()
    src.close()
    dst.close()
    if before != after or problems:
        fail(f"복사본이 원본과 다릅니다 / the copy differs: {before} vs {after}; {problems[:3]}")
    rows = ", ".join(f"{table} {n}" for table, n in after.items())
    typer.echo(f"복사했습니다 / copied: {rows}; audit chain verified ({count} records)")
