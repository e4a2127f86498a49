"""`Caller`: who is asking — a tenant, the key used, its limits and rights.

The API layer makes one from the request's key (`jaju.api.auth`); the CLI makes one for the
tenant it is told to act as. Everything below takes a `Caller` (or its tenant) as a required
argument wherever rights matter: no lower layer assumes a tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LOCAL_TENANT = "local"
"""The tenant of keyless local development (`jaju serve` with no key created, and the CLI)."""


@dataclass(frozen=True)
class Caller:
    tenant: str
    key_id: str | None = None
    qpm: int | None = None
    tpm: int | None = None
    admin: bool = False
    label: str | None = None
    """How the audit log names this caller when it is not `tenant/key_id` (e.g. `mcp:...`)."""

    @property
    def actor(self) -> str:
        """How the audit log names this caller: `tenant/key_id`, or the tenant alone."""
        if self.label:
            return self.label
        return f"{self.tenant}/{self.key_id}" if self.key_id else self.tenant

    def acting_as(self, tenant: str, prefix: str = "") -> Caller:
        """The same caller acting for `tenant` (an admin calling a tool on a tenant's
        behalf); the audit log still names who acted."""
        return replace(self, tenant=tenant, label=f"{prefix}{self.actor}")
