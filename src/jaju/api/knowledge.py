"""Knowledge endpoints: list the caller's knowledge bases and search one.

A knowledge base of another tenant answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from jaju.api.auth import authenticate, get_state
from jaju.api.openai import _begin, _parse
from jaju.errors import ApiError
from jaju.knowledge.index import FILTER_KEYS

router = APIRouter(prefix="/v1/knowledge")


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=2000)
    k: int = Field(10, ge=1, le=100)
    document: str | None = None
    """Only hits from this document (its path or file name)."""
    filters: dict[str, str] = Field(default_factory=dict)
    """Only hits whose source matches: format, title, article (exact), heading (substring)."""

    @field_validator("filters")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - FILTER_KEYS
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)}; use {sorted(FILTER_KEYS)}")
        return value


@router.get("")
async def list_knowledge(request: Request) -> dict[str, Any]:
    caller = authenticate(request)
    index = get_state(request).knowledge
    data = []
    for kb in await asyncio.to_thread(index.bases, caller.tenant):
        stats = await asyncio.to_thread(index.stats, kb)
        data.append({"id": kb.name, "object": "knowledge_base", "description": kb.description,
                     "shared": kb.shared, **stats})
    return {"object": "list", "data": data}


@router.post("/{kb}/search")
async def search(kb: str, request: Request) -> dict[str, Any]:
    call = _begin(request, "knowledge.search")
    call.model = kb
    try:
        body = await _parse(request, SearchRequest)
        index = call.state.knowledge
        base = await asyncio.to_thread(index.get, call.caller.tenant, kb)
        hits = await asyncio.to_thread(index.search, base, body.query, body.k,
                                       document=body.document, filters=body.filters)
    except ApiError as e:
        call.fail(e)
        raise
    call.finish(200)
    return {"object": "list", "kb": kb, "query": body.query, "hits": [h.to_dict() for h in hits]}
