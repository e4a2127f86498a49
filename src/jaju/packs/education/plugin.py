"""Default plugin: the education pack and its tools (`education.school_days`, …)."""

from __future__ import annotations

from jaju.packs.base import pack_hooks
from jaju.packs.education import pack

register_packs, register_tools = pack_hooks(pack)
