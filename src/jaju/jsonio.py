"""JSON on the request path: orjson where it gives what the standard library gives, `json`
for the rest, so that the same requests and answers are accepted and written as before.

orjson reads and writes JSON in a fraction of `json`'s time (a chat request's body, the
upstream's answer, the client's answer: docs/benchmarks.md, third round). What it refuses —
NaN and Infinity, lone surrogates, integers past 64 bits on the way out, keys that are not
strings — goes through `json` as before. One thing it reads differently: an integer past 64
bits becomes a float, so bodies with a run of 19 or more digits are read by `json`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_NOT_FOR_ORJSON = re.compile(rb"[0-9]{19}")
"""A digit run that may be an integer past 64 bits (orjson would read it as a float)."""


def loads(raw: bytes | str) -> Any:
    """JSON text as Python values, exactly as `json.loads` reads it; ValueError when it is
    not JSON (`json`'s error, whose message names the place)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if not _NOT_FOR_ORJSON.search(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # NaN, a lone surrogate, UTF-16, or not JSON: `json` decides, as before
    return json.loads(raw)


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON (NaN written as null); what orjson refuses, written by `json`."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

