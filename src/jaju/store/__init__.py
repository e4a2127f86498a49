"""Persistent state behind a narrow interface (`Store`). SQLite is the embedded default."""

from jaju.store.sqlite import Store

__all__ = ["Store"]
