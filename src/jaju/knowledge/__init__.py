"""Knowledge bases: documents -> chunks -> index; `search(query) -> list[Hit]`."""

from jaju.knowledge.index import SHARED_TENANT, Hit, KnowledgeBase, KnowledgeIndex

__all__ = ["SHARED_TENANT", "Hit", "KnowledgeBase", "KnowledgeIndex"]
