"""The commerce pack's tools: product search over the shop's catalogue and the 청약철회 deadline.

Each returns ``{"result": ..., "articles": [...], "notes": [...]}`` like the law pack's tools.
Figures come only from the catalogue (prices and stock exactly as in the CSV) or from the
statute's arithmetic; tests/test_commerce_pack.py checks both against worked examples.

The order-status tool is not here: it is an OpenAPI service (data/orders.openapi.json, served by
`jaju.packs.commerce.orders_service`), configured as `[openapi.orders]`, so its tool is
`orders.get_order_status` and runs under the egress guard like any HTTP tool.
"""

import csv
import datetime as dt
import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, validate_call

from jaju.korean.analyzer import Analyzer, bigrams
from jaju.packs.law.tools import legal_period_end, parse_date

DATA = Path(__file__).parent / "data"
CATALOGUE = DATA / "samples" / "catalogue.csv"
CATALOGUE_ENV = "JAJU_COMMERCE_CATALOGUE"
"""An operator's own catalogue (same columns) instead of the sample shop's."""

ECOMMERCE = "전자상거래 등에서의 소비자보호에 관한 법률"
DOOR_TO_DOOR = "방문판매 등에 관한 법률"
INSTALMENT = "할부거래에 관한 법률"


# --- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    category: str
    brand: str
    option: str
    price: int
    stock: int

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "name": self.name, "category": self.category,
                "brand": self.brand, "option": self.option, "price": self.price,
                "stock": self.stock, "in_stock": self.stock > 0}


@dataclass(frozen=True)
class Catalogue:
    items: tuple[Item, ...]
    terms: tuple[Counter[str], ...]
    """Per item: its name's, category's, brand's and option's morphemes and bigrams."""
    df: Counter[str]

    def idf(self, term: str) -> float:
        return math.log(1 + len(self.items) / (1 + self.df[term]))


@cache
def _analyzer() -> Analyzer:
    return Analyzer(num_workers=0)


def _terms(analyzer: Analyzer, text: str, morphemes: list[str] | None = None) -> Counter[str]:
    """Morphemes (weighted 2) and character bigrams (weighted 1, prefixed) of a text: the
    analyser's content morphemes match "운동화를" to "운동화"; bigrams catch compounds Kiwi
    splits differently ("러닝화" vs "러닝 화")."""
    out: Counter[str] = Counter()
    for m in morphemes if morphemes is not None else analyzer.morphemes(text):
        out["m:" + m] += 2
    for b in bigrams(text):
        out["b:" + b] += 1
    return out


@cache
def catalogue(path: str | None = None) -> Catalogue:
    """The catalogue (the operator's $JAJU_COMMERCE_CATALOGUE, else the sample shop's), read and
    analysed once."""
    source = Path(path or os.environ.get(CATALOGUE_ENV) or CATALOGUE)
    try:
        with source.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        items = tuple(Item(r["sku"], r["name"], r["category"], r["brand"], r["option"],
                           int(r["price"]), int(r["stock"])) for r in rows)
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"상품 목록을 읽을 수 없습니다 / cannot read the catalogue {source}: "
                         f"{e}") from e
    analyzer = _analyzer()
    texts = [f"{i.name} {i.category} {i.brand} {i.option}" for i in items]
    morphemes = analyzer.morphemes_many(texts)
    terms = tuple(_terms(analyzer, t, m) for t, m in zip(texts, morphemes, strict=True))
    df: Counter[str] = Counter()
    for t in terms:
        df.update(t.keys())
    return Catalogue(items, terms, df)


@validate_call
def search_products(
    query: Annotated[str, Field(min_length=1, max_length=200,
                                description="찾는 상품 (예: '무선 청소기', '250 운동화')")],
    price_min: Annotated[int | None, Field(ge=0, description="최저 가격 (원, 이 값 이상)")] = None,
    price_max: Annotated[int | None, Field(ge=0, description="최고 가격 (원, 이 값 이하)")] = None,
    in_stock: Annotated[bool, Field(description="true면 재고가 있는 상품만")] = False,
    category: Annotated[str | None, Field(
        max_length=40, description="분류 (의류, 신발, 가방, 주방, 가전, 식품, 화장품, 생활, 문구, 디지털, "
                    "스포츠, 유아동)")] = None,
    limit: Annotated[int, Field(ge=1, le=20, description="돌려줄 상품 수")] = 5,
) -> dict[str, Any]:
    """상품 검색: 상점 카탈로그에서 상품을 찾아 카탈로그의 정확한 가격(원)과 재고를 돌려준다.
    가격 범위(price_min, price_max), 재고 있음(in_stock), 분류(category)로 거를 수 있다.
    상품·가격·재고는 이 결과에 있는 것만 말할 것."""
    if price_min is not None and price_max is not None and price_min > price_max:
        raise ValueError(f"최저 가격이 최고 가격보다 큽니다 / price_min {price_min} > price_max "
                         f"{price_max}")
    shop = catalogue()
    wanted = _terms(_analyzer(), query)
    # an item matches when it carries at least half of the weight of the query's terms that
    # the catalogue has at all (a shared syllable pair alone is not a match; "찾아요" is no term)
    needed = 0.5 * sum(n * shop.idf(t) for t, n in wanted.items() if shop.df[t])
    scored = []
    for item, terms in zip(shop.items, shop.terms, strict=True):
        if category and item.category != category:
            continue
        if price_min is not None and item.price < price_min:
            continue
        if price_max is not None and item.price > price_max:
            continue
        if in_stock and item.stock <= 0:
            continue
        score = sum(min(n, terms[t]) * shop.idf(t) for t, n in wanted.items() if t in terms)
        if score > 0 and score >= needed:
            scored.append((-score, item.sku, item))
    scored.sort(key=lambda s: (s[0], s[1]))
    found = [item.to_dict() for _, _, item in scored[:limit]]
    filters = {k: v for k, v in (("price_min", price_min), ("price_max", price_max),
                                 ("in_stock", in_stock or None), ("category", category))
               if v is not None}
    notes = ["가격은 원 단위, 카탈로그 그대로입니다. 결과에 없는 상품·가격·재고는 말하지 마세요."]
    if not found:
        notes.append("조건에 맞는 상품이 카탈로그에 없습니다.")
    return {"result": {"query": query, "filters": filters, "matches": len(scored),
                       "items": found},
            "articles": [], "notes": notes}


# --- 청약철회 deadlines ---------------------------------------------------------------------------

Channel = Literal["online", "door_to_door", "phone", "instalment"]
RULES: dict[str, tuple[int, str, str]] = {
    # channel: (days, the article, what the period runs from)
    "online": (7, f"{ECOMMERCE} 제17조", "통신판매 (온라인·홈쇼핑)"),
    "door_to_door": (14, f"{DOOR_TO_DOOR} 제8조", "방문판매"),
    "phone": (14, f"{DOOR_TO_DOOR} 제8조", "전화권유판매"),
    "instalment": (7, f"{INSTALMENT} 제8조", "할부계약"),
}


def _date(value: str | None, what: str) -> dt.date | None:
    """An optional date: None when not given."""
    return parse_date(value, what) if value else None


@validate_call
def withdrawal_deadline(
    channel: Annotated[Channel, Field(
        description="거래 방식: online 통신판매(온라인 쇼핑), door_to_door 방문판매, phone 전화권유판매, "
                    "instalment 할부계약")],
    delivered: Annotated[str | None, Field(
        max_length=40, description="상품을 받은 날(공급받거나 공급이 시작된 날), YYYY-MM-DD")] = None,
    contract_received: Annotated[str | None, Field(
        max_length=40, description="계약서(계약내용에 관한 서면)를 받은 날, YYYY-MM-DD")] = None,
    not_as_described_known: Annotated[str | None, Field(
        max_length=40, description="표시·광고나 계약 내용과 다르다는 것을 안 날, YYYY-MM-DD (그런 경우에만)")
    ] = None,
) -> dict[str, Any]:
    """청약철회 기한: 계약서를 받은 날과 상품을 받은 날 중 늦은 날부터 온라인(전자상거래법 제17조)·할부
    (할부거래법 제8조) 7일, 방문·전화권유판매(방문판매법 제8조) 14일. 초일 불산입, 말일이 토요일·공휴일이면
    다음 날(민법 제157조·제161조). 표시·광고와 다르면 받은 날부터 3개월, 안 날부터 30일."""
    days, article, label = RULES[channel]
    got = _date(delivered, "delivered")
    paper = _date(contract_received, "contract_received")
    if got is None and paper is None:
        raise ValueError("상품을 받은 날이나 계약서를 받은 날을 주세요 / give delivered or "
                         "contract_received")
    start = max(d for d in (got, paper) if d is not None)
    period = legal_period_end(start.isoformat(), days, "day")
    notes = [f"{label}: 계약서를 받은 날{'' if paper else '(모름)'}과 상품을 받은 날 중 늦은 날"
             f"({start.isoformat()})부터 {days}일 (초일 불산입)"]
    notes += [n for n in period["notes"] if "초일" not in n]
    if got is None:
        notes.append("상품을 아직 받지 않았다면, 받은 날부터 다시 계산합니다.")
    if paper is None and channel != "online":
        notes.append("계약서를 받지 못했거나 주소가 적혀 있지 않으면 주소를 안 날부터 계산합니다 "
                     f"({article}제1항제2호).")
    result: dict[str, Any] = {"channel": channel, "days": days, "from": start.isoformat(),
                              "deadline": period["result"]["end"],
                              "nominal_deadline": period["result"]["nominal_end"],
                              "skipped": period["result"]["skipped"]}
    articles = [article, *period["articles"]]
    if not_as_described_known is not None:
        known = _date(not_as_described_known, "not_as_described_known")
        if got is None or known is None:
            raise ValueError("표시·광고와 다른 경우에는 상품을 받은 날과 안 날이 필요합니다 / give "
                             "delivered and not_as_described_known")
        if channel == "instalment":
            notes.append("할부거래법 제8조에는 표시·광고와 다른 경우의 별도 기간이 없습니다; "
                         "전자상거래법·방문판매법이 함께 적용되는지 확인하세요.")
        else:  # 전자상거래법 제17조제3항, 방문판매법 제8조제3항: both limits hold
            three = legal_period_end(got.isoformat(), 3, "month")
            thirty = legal_period_end(known.isoformat(), 30, "day")
            ends = (three["result"]["end"], thirty["result"]["end"])
            result["not_as_described_deadline"] = min(ends)
            result["not_as_described"] = {"three_months_from_delivery": ends[0],
                                          "thirty_days_from_known": ends[1]}
            articles += [a for a in (*three["articles"], *thirty["articles"]) if a not in articles]
            notes.append(f"표시·광고나 계약과 다르면 받은 날부터 3개월, 안 날부터 30일 이내 "
                         f"({article}제3항); 둘 중 먼저 끝나는 날까지.")
    notes.append("소비자 책임으로 멸실·훼손, 사용으로 가치가 현저히 감소한 경우 등은 철회할 수 "
                 f"없습니다 ({article}제2항).")
    return {"result": result, "articles": articles, "notes": notes}


TOOLS: list[Callable[..., dict[str, Any]]] = [search_products, withdrawal_deadline]
"""Every tool of the pack, in the order an assistant offers them."""
