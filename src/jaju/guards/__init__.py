"""Guards inspect or rewrite what crosses a boundary: PII (detection, masking,
pseudonymisation), content safety, prompt injection, and any guard a plugin adds.

`Guard` is the base class a plugin's guard extends (see `jaju.guards.base` and
docs/plugins.md); importing this package loads nothing heavy.
"""

from jaju.guards.base import Guard, GuardContext, TextStream

__all__ = ["Guard", "GuardContext", "TextStream"]
