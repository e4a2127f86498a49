"""Management endpoints (the console uses them; so can any client). Same authorisation as the
rest of the API: a tenant key sees its own tenant's things, an admin key everything.

    GET  /v1/session                               who the key is (tenant, admin, keyless mode)
    GET  /v1/keys                                  keys (admin: all; tenant: its own), no secrets
    POST /v1/keys                                  admin: {"tenant", "qpm", "tpm", "admin"} ->
                                                   {"secret" (shown once), "key"}
    POST /v1/keys/{id}/revoke                      admin
    GET  /v1/usage?days=30                         by tenant and model, and by day
    GET  /v1/audit?limit=200                       newest records (a tenant: its own)
    POST /v1/audit/verify                          admin: the verdict of `jaju audit verify`
    GET  /v1/knowledge/{kb}/documents              documents with chunk counts and PII report
    POST /v1/knowledge/{kb}/documents?filename=F   the file as the raw body; parsed off the
                                                   event loop; {"result": {status, reason, …}}
    GET  /v1/knowledge/{kb}/documents/{id}/chunks  one document's chunks

Another tenant's knowledge base or document answers 404, as if it did not exist. An admin key
may add `?tenant=NAME` to the knowledge endpoints to act for that tenant (audited as the admin).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from jaju.api.auth import acting_for, authenticate, get_state
from jaju.caller import Caller
from jaju.errors import InvalidRequest, NotFound, PermissionDenied
from jaju.knowledge.index import SHARED_TENANT, KnowledgeBase, KnowledgeIndex
from jaju.protocol import MAX_NAME, has_control
from jaju.state import AppState
from jaju.store import ApiKey, AuditEvent

router = APIRouter(prefix="/v1")


@router.get("/session")
async def session(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    state = get_state(request)
    from jaju import __version__

    return {"tenant": caller.tenant, "admin": caller.admin, "key": caller.key_id,
            "keyless": not state.keys_required, "version": __version__}


# --- keys -----------------------------------------------------------------------------------------

def _key(key: ApiKey) -> dict[str, Any]:
    return asdict(key)


def _limit(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**9:
        raise InvalidRequest(f"'{name}'은(는) 양의 정수여야 합니다 / '{name}' must be a positive "
                             "integer", param=name)
    return int(value)


async def _json(request: Request) -> dict[str, Any]:
    import json

    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidRequest("요청 본문이 올바른 JSON이 아닙니다 / request body is not valid JSON",
                             code="invalid_json") from e
    if not isinstance(body, dict):
        raise InvalidRequest("요청 본문은 JSON 객체여야 합니다 / body must be a JSON object")
    return body


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    if not await get_state(request).gateway.revoke_key(caller, key_id[:MAX_NAME]):
        raise NotFound("키가 없습니다 / no such key", code="key_not_found")
    return {"id": key_id, "revoked": True}


# --- usage and audit ------------------------------------------------------------------------------

@router.get("/usage")
async def usage(request: Request, days: int = 30) -> dict[str, Any]:
    caller = await authenticate(request)
    gateway = get_state(request).gateway
    since = time.time() - max(1, min(days, 366)) * 86400
    return {"since": since, "summary": await gateway.usage(caller, since),
            "daily": await gateway.usage_daily(caller, since)}


@router.get("/audit")
async def audit(request: Request, limit: int = 200) -> dict[str, Any]:
    caller = await authenticate(request)
    rows = await get_state(request).gateway.audit_log(caller, max(1, min(limit, 2000)))
    return {"object": "list", "data": rows}


@router.post("/audit/verify")
async def verify(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    count, problems = await get_state(request).gateway.verify_audit(caller)
    return {"records": count, "ok": not problems,
            "problems": [{"seq": p.seq, "problem": p.problem} for p in problems]}


# --- documents ------------------------------------------------------------------------------------

async def _base(state: AppState, caller: Caller, kb: str) -> tuple[KnowledgeIndex, KnowledgeBase]:
    if len(kb) > MAX_NAME or has_control(kb):  # no knowledge base has such a name
        raise NotFound("지식 베이스가 없습니다 / no such knowledge base",
                       code="knowledge_base_not_found")
    index = await asyncio.to_thread(lambda: state.knowledge)
    return index, await asyncio.to_thread(index.get, caller.tenant, kb)


@router.get("/knowledge/{kb}/documents")
async def documents(kb: str, request: Request) -> dict[str, Any]:
    caller = acting_for(request, await authenticate(request))
    index, base = await _base(get_state(request), caller, kb)
    docs = await asyncio.to_thread(index.documents, base)
    return {"object": "list", "kb": kb, "shared": base.shared, "data": [
        {"id": d.id, "path": d.path, "name": Path(d.path).name, "title": d.title,
         "format": d.format, "chars": d.chars, "chunks": d.chunks, "ingested_at": d.ingested_at,
         "pii": d.meta.get("pii") or {}} for d in docs]}


@router.get("/knowledge/{kb}/documents/{doc_id}/chunks")
async def chunks(kb: str, doc_id: int, request: Request) -> dict[str, Any]:
    caller = acting_for(request, await authenticate(request))
    index, base = await _base(get_state(request), caller, kb)
    docs = {d.id: d for d in await asyncio.to_thread(index.documents, base)}
    if doc_id not in docs:
        raise NotFound("문서가 없습니다 / no such document", code="document_not_found")
    doc = docs[doc_id]
    return {"object": "list", "kb": kb, "document": {
        "id": doc.id, "name": Path(doc.path).name, "title": doc.title, "format": doc.format,
        "pii": doc.meta.get("pii") or {}},
        "data": await asyncio.to_thread(index.chunks, base, doc_id)}


SAFE_NAME = re.compile(r"[^\w.\- ()\[\]가-힣]+")


def _filename(name: str) -> str:
    """A plain file name: no folders, no dotfiles, bounded."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = SAFE_NAME.sub("_", name).strip(" .")
    if not name or len(name) > 200:
        raise InvalidRequest("파일 이름이 올바르지 않습니다 / invalid file name", param="filename")
    return name


@router.post("/knowledge/{kb}/documents")
async def upload(kb: str, request: Request, filename: str = "") -> dict[str, Any]:
    """Add one file to the caller's knowledge base (created if new); a shared base only with an
    admin key. The file is kept under JAJU_HOME/uploads/<knowledge base id>/."""
    caller = acting_for(request, await authenticate(request))
    state = get_state(request)
    if not kb.strip() or len(kb) > MAX_NAME or SAFE_NAME.search(kb) or kb.strip(" .") != kb:
        raise InvalidRequest("지식 베이스 이름이 올바르지 않습니다 / invalid knowledge base name "
                             "(letters, digits, spaces and . - _ ( ) [ ])", param="kb")
    name = _filename(filename)
    data = await request.body()
    index = await asyncio.to_thread(lambda: state.knowledge)
    own = await asyncio.to_thread(index.find, caller.tenant, kb)
    shared = None if own else await asyncio.to_thread(index.find, SHARED_TENANT, kb)
    if shared is not None and not caller.admin:
        raise PermissionDenied("공유 지식 베이스에는 관리자만 올릴 수 있습니다 / only an admin "
                               "key may add to a shared knowledge base")
    base: KnowledgeBase | None = own or shared
    if base is None:
        base = await asyncio.to_thread(index.create, caller.tenant, kb)
    folder = state.settings.home / "uploads" / str(base.id)
    result = await asyncio.to_thread(_ingest, state, index, base, folder, name, data)
    state.store.audit(AuditEvent(caller.actor, "knowledge.ingest",
                                 "error" if result["status"] == "failed" else "ok", kb,
                                 {"file": name, "status": result["status"],
                                  "chunks": result["chunks"]}))
    return {"kb": kb, "result": result}


def _ingest(state: AppState, index: KnowledgeIndex, base: KnowledgeBase, folder: Path,
            name: str, data: bytes) -> dict[str, Any]:
    from jaju.knowledge.ingest import ingest
    from jaju.knowledge.parsers import Limits
    from jaju.plugins import get_plugin_manager, parsers

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    limits = state.settings.limits
    table = parsers(get_plugin_manager(blocked=state.store.disabled_plugins(max_age=float("inf"))))
    report = ingest(index, base, [path], table,
                    limits=Limits(limits.max_member_bytes, limits.max_document_bytes))
    result = report.results[0] if report.results else None
    if result is None or result.status in ("failed", "skipped"):
        path.unlink(missing_ok=True)
    if result is None:
        return {"file": name, "status": "failed", "reason": "no result", "chunks": 0, "chars": 0}
    docs = [d for d in index.documents(base) if d.path == str(path.resolve())]
    return {"file": name, "status": "failed" if result.status == "skipped" else result.status,
            "reason": result.reason, "chunks": result.chunks, "chars": result.chars,
            "document": docs[0].id if docs else None}


@router.get("/keys")
async def list_keys(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    keys = await get_state(request).gateway.list_keys(caller)
    return {"object": "list", "data": [_key(k) for k in keys]}


# /v1/keys last in the schema on purpose: an API fuzzer that creates a key there switches a
# keyless server to keys, and every endpoint after it would only ever answer 401.
@router.post("/keys")
async def create_key(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    body = await _json(request)
    tenant = body.get("tenant")
    if not isinstance(tenant, str):
        raise InvalidRequest("테넌트 이름이 필요합니다 / 'tenant' is required", param="tenant")
    secret, key = await get_state(request).gateway.create_key(
        caller, tenant.strip(), qpm=_limit(body, "qpm"), tpm=_limit(body, "tpm"),
        admin=bool(body.get("admin")))
    return {"secret": secret, "key": _key(key)}
