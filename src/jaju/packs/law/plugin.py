"""Default plugin: the law pack and its tools (`law.annual_leave_days`, …)."""

from __future__ import annotations

from jaju.packs.base import pack_hooks
from jaju.packs.law import pack

register_packs, register_tools = pack_hooks(pack)
