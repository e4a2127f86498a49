"""OpenAPI services as tools: an OpenAPI 3 document, plus an optional manifest in the shape of
ChatGPT plugins' `ai-plugin.json` and CLOVA Studio skills (`name_for_model`,
`description_for_model`, ...), becomes one tool per operation, named `SERVICE.operationId`.

Parameters (path, query, header) and a JSON request body are merged into one JSON schema. Calls
go through the egress guard (the service's own host plus any declared hosts), with the secret
taken from the environment variable the config names. GET operations read; the others write
(and so need confirmation) unless the operator lists them in `read_tools`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from jaju.errors import ConfigError
from jaju.tools.egress import Egress, EgressRefused, egress_transport
from jaju.tools.model import Permissions, Tool
from jaju.tools.registry import MAX_RESULT_BYTES, ToolError

if TYPE_CHECKING:
    from jaju.config import OpenApiSettings

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
READ_METHODS = {"get", "head", "options"}


def _load(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{what}을(를) 읽을 수 없습니다 / cannot read {what} {path}: {e}") from e
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as e:  # json's ValueError or yaml's YAMLError
        raise ConfigError(f"{what} 형식 오류 / {what} {path} is not valid: {e}") from e


def _resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Inline local `$ref`s (`#/components/...`), bounded against cycles."""
    if depth > 20:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise ConfigError(f"only local $ref is supported: {ref}")
            target: Any = spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(spec, target, depth + 1)
        return {k: _resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, v, depth + 1) for v in node]
    return node


def _tool_name(op: dict[str, Any], method: str, path: str) -> str:
    name = op.get("operationId") or f"{method}_{path}"
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60]


class OpenApiService:
    """One configured service: its tools and the HTTP client they share."""

    def __init__(self, name: str, conf: OpenApiSettings) -> None:
        self.name, self.conf = name, conf
        spec = _load(conf.spec, "OpenAPI 문서 / OpenAPI document")
        if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3"):
            raise ConfigError(f"{conf.spec}: OpenAPI 3 문서가 아닙니다 / not an OpenAPI 3 document")
        self.spec = spec
        self.manifest: dict[str, Any] = _load(conf.manifest, "manifest") if conf.manifest else {}
        servers = spec.get("servers") or [{}]
        self.base_url = (conf.base_url or servers[0].get("url") or "").rstrip("/")
        host = urlsplit(self.base_url).hostname
        if not host:
            raise ConfigError(f"OpenAPI service {name!r}: no absolute server URL; set base_url")
        self.egress = Egress(hosts=(host, *conf.network), allow_private=conf.allow_private)
        self._client: Any = None
        self.description = str(self.manifest.get("description_for_model")
                               or spec.get("info", {}).get("description") or "")
        self.title = str(self.manifest.get("name_for_human") or spec.get("info", {}).get("title")
                         or name)
        self.version = str(spec.get("info", {}).get("version") or "")

    @property
    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(transport=egress_transport(self.egress),
                                             timeout=self.conf.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def tools(self) -> list[Tool]:
        found = []
        for path, item in (self.spec.get("paths") or {}).items():
            item = _resolve(self.spec, item)
            shared = item.get("parameters") or []
            for method in METHODS:
                if method in item:
                    found.append(self._tool(path, method, item[method], shared))
        return found

    def _tool(self, path: str, method: str, op: dict[str, Any],
              shared: list[dict[str, Any]]) -> Tool:
        name = _tool_name(op, method, path)
        properties: dict[str, Any] = {}
        required: list[str] = []
        where: dict[str, str] = {}
        by_key = {(p.get("name"), p.get("in")): p for p in [*shared, *(op.get("parameters") or [])]}
        for (pname, location), param in by_key.items():
            if location not in ("path", "query", "header") or not pname:
                continue
            schema = dict(param.get("schema") or {"type": "string"})
            if param.get("description"):
                schema["description"] = param["description"]
            properties[pname] = schema
            where[pname] = location
            if param.get("required") or location == "path":
                required.append(pname)
        body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
        body_schema = (body or {}).get("schema")
        if body_schema is not None:
            fields = body_schema.get("properties") if body_schema.get("type") == "object" else None
            if fields and not set(fields) & set(properties):
                properties.update(fields)
                where.update({f: "body" for f in fields})
                required += [f for f in body_schema.get("required") or [] if f in fields]
            else:
                properties["body"] = body_schema
                where["body"] = "json"
                if (op.get("requestBody") or {}).get("required"):
                    required.append("body")
        parameters: dict[str, Any] = {"type": "object", "properties": properties,
                                      "additionalProperties": False}
        if required:
            parameters["required"] = sorted(set(required))
        description = op.get("description") or op.get("summary") or f"{method.upper()} {path}"
        permissions = Permissions(network=self.egress.hosts, pii=self.conf.pii,
                                  knowledge=tuple(self.conf.knowledge),
                                  effect=self.conf.effect_of(name, method not in READ_METHODS))

        async def run(**arguments: Any) -> Any:
            return await self._call(method, path, where, arguments)

        return Tool(name=f"{self.name}.{name}", description=str(description).strip(),
                    parameters=parameters, run=run, permissions=permissions, source=self.name)

    def _auth(self, headers: dict[str, str], query: dict[str, Any]) -> None:
        if not self.conf.auth_env:
            return
        secret = os.environ.get(self.conf.auth_env)
        if not secret:
            raise ToolError("auth_missing", f"환경 변수 {self.conf.auth_env}에 인증 정보가 없습니다 "
                            f"/ the secret variable {self.conf.auth_env} is not set")
        kind, _, field = self.conf.auth.partition(":")
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        elif kind == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
        elif kind == "header" and field:
            headers[field] = secret
        elif kind == "query" and field:
            query[field] = secret
        else:
            raise ToolError("auth_invalid", f"unknown auth scheme {self.conf.auth!r}")

    async def _call(self, method: str, path: str, where: dict[str, str],
                    arguments: dict[str, Any]) -> Any:
        import httpx

        query: dict[str, Any] = {}
        headers: dict[str, str] = {}
        body: Any = None
        for key, value in arguments.items():
            location = where.get(key)
            if location == "path":
                path = path.replace("{" + key + "}", quote(str(value), safe=""))
            elif location == "query":
                query[key] = value
            elif location == "header":
                headers[key] = str(value)
            elif location == "body":
                body = {**(body or {}), key: value}
            elif location == "json":
                body = value
        self._auth(headers, query)
        try:
            async with self.client.stream(method.upper(), self.base_url + path, params=query,
                                          headers=headers, json=body) as response:
                data = b""
                async for piece in response.aiter_bytes():
                    data += piece
                    if len(data) > MAX_RESULT_BYTES:
                        raise ToolError("result_too_large", f"the service returned more than "
                                        f"{MAX_RESULT_BYTES} bytes")
        except EgressRefused as e:
            raise ToolError("egress_refused", str(e)) from e
        except httpx.HTTPError as e:
            raise ToolError("service_unreachable", f"{self.name}: {type(e).__name__}: {e}") from e
        text = data.decode("utf-8", errors="replace")
        if response.status_code >= 400:
            raise ToolError("http_error", f"{self.name} answered {response.status_code}: "
                            f"{text[:300]}")
        if "json" in response.headers.get("content-type", ""):
            try:
                return json.loads(text)
            except ValueError as e:
                raise ToolError("invalid_result", f"{self.name} sent invalid JSON: {e}") from e
        return text
