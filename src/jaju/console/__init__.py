"""The jaju console: a Korean-first web UI at `/`, served from this package's `static/` folder.

No build step and no third-party script: `static/` holds one HTML page, one stylesheet and
plain JavaScript modules, all shipped as package data. The page talks to jaju's own JSON API
(`/v1/...`) with the API key the user typed, kept in page memory only (never in a URL, a
cookie or localStorage), so every action passes the API's own authorisation and there is no
ambient credential for a cross-site request to ride on (no CSRF surface).

Every response here carries a Content-Security-Policy that allows scripts, styles, images,
fonts and connections from jaju's own origin only, and no inline script or style attribute.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from jaju.errors import NotFound

STATIC = Path(__file__).parent / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Cross-Origin-Opener-Policy": "same-origin", "Cache-Control": "no-cache"}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8", ".png": "image/png",
         ".woff2": "font/woff2", ".ico": "image/x-icon"}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> Response:
    return FileResponse(STATIC / "index.html", media_type=TYPES[".html"], headers=HEADERS)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(STATIC / "favicon.svg", media_type=TYPES[".svg"], headers=HEADERS)


@router.get("/console/{name:path}")
async def static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file() \
            or path.suffix not in TYPES:
        raise NotFound("경로가 없습니다 / no such file")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)
