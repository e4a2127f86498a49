"""`ToolServices`: what jaju offers the tools a plugin registers (the `services` argument of
`register_tools`). Small on purpose: a tool gets knowledge search within the caller's tenant,
an HTTP client that only reaches the hosts it declared, and a read-only copy of the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jaju.errors import InvalidRequest

if TYPE_CHECKING:
    import httpx

    from jaju.config import Settings
    from jaju.knowledge.index import KnowledgeIndex


MAX_QUERY = 2000
"""The longest query the knowledge search tool takes (SearchRequest's bound): a model's
100,000-character query would cost seconds of analysis for nothing."""


@dataclass(frozen=True)
class ToolServices:
    settings: Settings
    """A copy of the running configuration (changing it changes nothing)."""
    _knowledge: Callable[[], KnowledgeIndex]

    def knowledge_bases(self, tenant: str) -> list[str]:
        """Names of the knowledge bases `tenant` may read (its own and shared ones)."""
        return sorted({kb.name for kb in self._knowledge().bases(tenant)})

    def search(self, tenant: str, kb: str, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The best `k` passages of knowledge base `kb` as `tenant` sees it (404 `NotFound`
        for a base the tenant cannot read, exactly as for one that does not exist)."""
        if len(query) > MAX_QUERY:  # as POST /v1/knowledge/{kb}/search bounds it
            raise InvalidRequest(f"검색어가 {MAX_QUERY}자보다 깁니다 / query is longer than "
                                 f"{MAX_QUERY} characters", param="query")
        index = self._knowledge()
        hits = index.search(index.get(tenant, kb), query, max(1, min(k, 20)))
        return [h.to_dict(signals=False) for h in hits]

    def http_client(self, network: tuple[str, ...], **kwargs: Any) -> httpx.AsyncClient:
        """An httpx.AsyncClient whose every request passes the egress guard: only the hosts in
        `network`, never loopback, private or link-local addresses."""
        import httpx

        from jaju.tools.egress import Egress, egress_transport

        return httpx.AsyncClient(transport=egress_transport(Egress(network)), **kwargs)
