"""A real HTTP service for the OpenAPI tool tests (its spec: fixtures/openapi/weather.json).
Needs `Authorization: Bearer test-secret` on /weather. Records orders to RECORD_FILE.

Run: python openapi_service.py PORT [RECORD_FILE]"""

from __future__ import annotations

import json
import sys

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

app = FastAPI()
RECORD = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"


class Order(BaseModel):
    item: str
    qty: int = 1


@app.get("/health")
def health() -> str:
    return "ok"


@app.get("/weather/{city}")
def weather(city: str, unit: str = "c", authorization: str = Header("")) -> dict:
    if authorization != "Bearer test-secret":
        raise HTTPException(401, "bad token")
    return {"city": city, "temp": 21 if unit == "c" else 70, "unit": unit}


@app.post("/orders")
def orders(order: Order) -> dict:
    with open(RECORD, "a", encoding="utf-8") as f:
        f.write(json.dumps(order.model_dump(), ensure_ascii=False) + "\n")
    return {"order_id": 7, "item": order.item, "qty": order.qty}


@app.get("/big")
def big() -> dict:
    return {"data": "가" * 100_000}


@app.get("/greeting", response_class=PlainTextResponse)
def greeting() -> str:
    return "안녕하세요"


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
