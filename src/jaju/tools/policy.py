"""Tool policy: which tools a caller may use, which write tools are pre-confirmed, timeouts and
per-tool rate limits. Built from `[tools]`, `[tenants.NAME.tools]` and an assistant's `tools`;
a tool must be allowed at every level, and `disabled` at any level wins."""

from __future__ import annotations

import fnmatch
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jaju.config import Settings

DEFAULT_TIMEOUT = 30.0


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass(frozen=True)
class ToolPolicy:
    enabled: tuple[str, ...] = ("*",)
    """Glob patterns of tool names the caller may use (`knowledge.*`)."""
    disabled: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    confirm: tuple[str, ...] = ()
    """Write tools that an operator rule confirms in advance."""
    rate_limits: tuple[tuple[str, int], ...] = ()
    """(glob, calls per minute) per tenant."""
    narrower: tuple[tuple[str, ...], ...] = ()
    """Further allow-lists (tenant, assistant); a tool must match each."""

    def allows(self, name: str) -> bool:
        if _matches(name, self.disabled):
            return False
        return _matches(name, self.enabled) and all(_matches(name, n) for n in self.narrower)

    def confirms(self, name: str) -> bool:
        return _matches(name, self.confirm)

    def narrow(self, patterns: list[str] | tuple[str, ...]) -> ToolPolicy:
        """This policy, further limited to `patterns`."""
        return replace(self, narrower=(*self.narrower, tuple(patterns)))


def policy_for(settings: Settings, tenant: str, assistant: str | None = None) -> ToolPolicy:
    """The policy for `tenant` (and, for an assistant's tool loop, `assistant`)."""
    g = settings.tools
    t = settings.tenants[tenant].tools if tenant in settings.tenants else None
    policy = ToolPolicy(
        enabled=tuple(g.enabled) if g.enabled is not None else ("*",),
        disabled=tuple(g.disabled) + (tuple(t.disabled) if t else ()),
        timeout=(t.timeout if t and t.timeout else g.timeout) or DEFAULT_TIMEOUT,
        confirm=tuple(g.confirm) + (tuple(t.confirm) if t else ()),
        rate_limits=tuple({**g.rate_limits, **(t.rate_limits if t else {})}.items()),
    )
    if t is not None and t.enabled is not None:
        policy = policy.narrow(t.enabled)
    if assistant is not None and assistant in settings.assistants:
        policy = policy.narrow(settings.assistants[assistant].tools)
    return policy


@dataclass
class ToolRateLimiter:
    """Sliding one-minute windows of calls per (tenant, pattern)."""

    calls: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    def check(self, tenant: str, name: str, policy: ToolPolicy) -> int | None:
        """Count a call; return None, or the seconds to wait when a limit is reached."""
        now = time.monotonic()
        hits = [(p, limit) for p, limit in policy.rate_limits if fnmatch.fnmatchcase(name, p)]
        windows = []
        for pattern, limit in hits:
            window = self.calls.setdefault((tenant, pattern), deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                return max(1, int(window[0] + 60 - now) + 1)
            windows.append(window)
        for window in windows:
            window.append(now)
        return None
