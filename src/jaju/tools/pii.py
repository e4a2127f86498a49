"""The PII guard on tool traffic. Arguments going to a tool without the `pii` permission, and
every result coming back, pass through the caller's PII policy (the same vault as the chat, so
a placeholder the model saw stays the same placeholder). A tool with the `pii` permission gets
the real values behind placeholders; nothing else ever does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jaju.guards.actions import PiiPolicy, Vault, apply


def _strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(v, fn) for v in value]
    return value


@dataclass
class ToolPii:
    policy: PiiPolicy
    vault: Vault = field(default_factory=Vault)

    def _apply(self, value: Any, decisions: Counter[str]) -> Any:
        def one(text: str) -> str:
            applied = apply(text, self.policy, self.vault)  # raises PiiBlocked for `block`
            decisions.update(applied.decisions)
            return applied.text
        return _strings(value, one)

    def arguments(self, value: Any, trusted: bool, decisions: Counter[str]) -> Any:
        """Placeholders restored for a trusted tool; the policy applied for any other."""
        if trusted:
            return _strings(value, self.vault.restore)
        return self._apply(value, decisions)

    def result(self, value: Any, decisions: Counter[str]) -> Any:
        return self._apply(value, decisions)
