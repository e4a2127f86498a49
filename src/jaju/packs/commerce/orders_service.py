"""The sample shop's order-status service: a tiny HTTP service behind `data/orders.openapi.json`,
serving the generated orders (`data/samples/orders.json`). jaju reaches it as an OpenAPI tool
source, so the tool `orders.get_order_status` runs under the egress guard, the tool policy and
the audit log like any HTTP tool:

    python -m jaju.packs.commerce.orders_service 8765
    # or: uvicorn jaju.packs.commerce.orders_service:app --port 8765

and in jaju.toml (`allow_private` because the service is on this machine):

    [openapi.orders]
    spec = "…/jaju/packs/commerce/data/orders.openapi.json"   # beside this module (SPEC)
    base_url = "http://127.0.0.1:8765"
    allow_private = true

FastAPI is imported when the service starts, never by jaju's own import of the pack.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SPEC = HERE / "data" / "orders.openapi.json"
ORDERS = HERE / "data" / "samples" / "orders.json"


def load_orders(path: Path = ORDERS) -> dict[str, dict[str, Any]]:
    return {o["order_id"]: o for o in json.loads(path.read_text(encoding="utf-8"))}


def create_app(path: Path = ORDERS) -> Any:
    from fastapi import FastAPI, HTTPException

    orders = load_orders(path)
    api = FastAPI(title="자주마켓 주문 조회", openapi_url=None, docs_url=None, redoc_url=None)

    @api.get("/health")
    def health() -> str:
        return "ok"

    @api.get("/openapi.json")
    def spec() -> dict[str, Any]:  # the hand-written spec jaju reads, not FastAPI's own
        loaded: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
        return loaded

    @api.get("/orders/{order_id}")
    def order(order_id: str) -> dict[str, Any]:
        if order_id not in orders:
            raise HTTPException(404, f"주문이 없습니다 / no order {order_id}")
        return orders[order_id]

    return api


def __getattr__(name: str) -> Any:
    """`uvicorn jaju.packs.commerce.orders_service:app` builds the app on first use."""
    if name == "app":
        return create_app()
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description="The commerce pack's sample order-status service.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("port", type=int, nargs="?", default=8765)
    ap.add_argument("--orders", type=Path, default=ORDERS, help="orders JSON (default: samples)")
    args = ap.parse_args(argv)
    uvicorn.run(create_app(args.orders), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
