"""The commerce pack: its data (statutes, the generated catalogue and orders), its tools against
worked examples (the catalogue rows read independently; the 청약철회 periods computed by hand from
the statute text, the arithmetic in each comment), its dictionary, install + search end to end,
the frozen set through the extractive assistant, and every tool case of the frozen set through
a scripted OpenAI-compatible upstream with the order-status OpenAPI service running."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from jaju.caller import Caller
from jaju.config import Settings
from jaju.knowledge import SHARED_TENANT, KnowledgeIndex
from jaju.knowledge import synonyms as synonym_dicts
from jaju.packs import evaluation
from jaju.packs.base import install_knowledge
from jaju.packs.commerce import orders_service, pack, samples, tools
from jaju.plugins import get_plugin_manager, packs
from jaju.state import AppState
from jaju.tools.model import from_function

from conftest import (
    assert_gold_articles_exist,
    assert_statutes_listed,
    assert_tool_result,
    dictionary_hijacks,
    eval_rows,
    mark_pack_installed,
    run_eval,
    start_script,
    tiny_forced_tool,
)

ROOT = Path(__file__).resolve().parent.parent
PACK = Path(tools.__file__).parent
DATA = PACK / "data"
E = "전자상거래 등에서의 소비자보호에 관한 법률"
B = "방문판매 등에 관한 법률"
H = "할부거래에 관한 법률"


def _rows(name: str) -> list[dict]:
    return eval_rows(DATA / "eval" / name)


def _csv_rows() -> dict[str, dict[str, str]]:
    """The committed catalogue, read with the csv module alone (not the tool's reader)."""
    with (DATA / "samples" / "catalogue.csv").open(encoding="utf-8", newline="") as f:
        return {r["sku"]: r for r in csv.DictReader(f)}


# --- the pack and its data --------------------------------------------------------------------------


def test_pack_is_a_default_plugin_with_namespaced_tools():
    pm = get_plugin_manager(load_entrypoints=False)
    found = packs(pm)
    assert found["commerce"].version == pack().version
    names: list[str] = []
    pm.hook.register_tools(register=lambda tool, namespace=None: names.append(
        f"{namespace}.{tool.name}"), services=None)
    assert {"commerce.search_products", "commerce.withdrawal_deadline"} <= set(names)
    [spec] = pack().assistants
    assert spec["name"] == "shopping"
    prompt = spec["system_prompt"]
    assert "지어내" in prompt and "search_products" in prompt  # figures only from the tool
    assert "답하지 말고" in prompt  # it declines questions outside shopping
    settings = pack().assistant_settings("extractive")["shopping"]
    assert settings.tools == ["commerce.search_products", "commerce.withdrawal_deadline",
                              "orders.get_order_status"]
    assert pack().assistant_settings("extractive", tools=False)["shopping"].tools == []
    assert pack().knowledge[0].synonyms == str(DATA / "commerce-synonyms.tsv")
    assert {t.name for t in pack().tools} == {f.__name__ for f in tools.TOOLS}


def test_every_statute_is_listed_in_source_md_with_its_checksum():
    assert len(assert_statutes_listed(DATA)) == 6


def test_samples_regenerate_byte_for_byte(tmp_path):
    samples.main([str(tmp_path)])
    for name in (samples.CATALOGUE, samples.ORDERS):
        assert (tmp_path / name).read_bytes() == (DATA / "samples" / name).read_bytes(), name
    rows = _csv_rows()
    assert 2000 <= len(rows) <= 5000  # a few thousand items
    assert all(int(r["price"]) > 0 and int(r["price"]) % 100 == 0 for r in rows.values())
    assert any(r["stock"] == "0" for r in rows.values())  # some are sold out
    # every order's items carry their catalogue price, and the total adds up
    for order in json.loads((DATA / "samples" / "orders.json").read_text(encoding="utf-8")):
        for item in order["items"]:
            assert item["price"] == int(rows[item["sku"]]["price"])
        assert order["total"] == sum(i["price"] * i["quantity"] for i in order["items"])


# --- search_products --------------------------------------------------------------------------------


def test_search_returns_the_exact_catalogue_price_and_stock():
    rows = _csv_rows()
    out = tools.search_products("무선 청소기")
    items = out["result"]["items"]
    assert items and all("무선 청소기" in i["name"] for i in items)
    # the catalogue's own row: P01129,늘봄 데일리 무선 청소기,가전,늘봄,색상: 화이트,414900,5
    assert rows["P01129"] == {"sku": "P01129", "name": "늘봄 데일리 무선 청소기",
                              "category": "가전", "brand": "늘봄", "option": "색상: 화이트",
                              "price": "414900", "stock": "5"}
    assert items[0]["sku"] == "P01129"
    for item in items:  # every figure is the CSV's, unchanged
        row = rows[item["sku"]]
        assert (item["price"], item["stock"]) == (int(row["price"]), int(row["stock"]))
        assert item["in_stock"] == (item["stock"] > 0)
    # an analysed query: "운동화를" finds 운동화 (Kiwi morphemes), the option "사이즈: 250" too
    out = tools.search_products("250 사이즈 운동화를 찾아요")["result"]["items"]
    assert out and all("운동화" in i["name"] for i in out)
    assert out[0]["option"] == "사이즈: 250"


def test_search_filters_price_and_stock():
    rows = _csv_rows()
    tumblers = [r for r in rows.values() if "텀블러" in r["name"]]
    cheap = [r for r in tumblers if int(r["price"]) <= 50000]
    assert tumblers and 0 < len(cheap) < len(tumblers)  # the filter has something to do
    out = tools.search_products("텀블러", price_max=50000, limit=20)["result"]
    assert out["matches"] == len(cheap) and out["filters"] == {"price_max": 50000}
    assert {i["sku"] for i in out["items"]} == {r["sku"] for r in cheap}
    out = tools.search_products("에어프라이어", in_stock=True, price_min=90000, limit=20)["result"]
    expected = {r["sku"] for r in rows.values() if "에어프라이어" in r["name"]
                and int(r["stock"]) > 0 and int(r["price"]) >= 90000}
    assert {i["sku"] for i in out["items"]} == expected and out["matches"] == len(expected)
    sold_out = {r["sku"] for r in rows.values() if "에어프라이어" in r["name"] and r["stock"] == "0"}
    assert sold_out and not sold_out & {i["sku"] for i in out["items"]}
    out = tools.search_products("청소기", category="주방")["result"]
    assert out["items"] == [] and out["matches"] == 0
    # something the shop does not sell: nothing, and a note that says so
    none = tools.search_products("유모차")
    assert none["result"]["items"] == [] and any("없습니다" in n for n in none["notes"])


def test_search_schema_and_bad_input():
    schema = from_function(tools.search_products).parameters
    props = schema["properties"]
    assert {"query", "price_min", "price_max", "in_stock", "category", "limit"} <= set(props)
    assert schema["required"] == ["query"]
    with pytest.raises(ValueError, match="price_min"):
        tools.search_products("텀블러", price_min=50000, price_max=10000)
    with pytest.raises(ValueError, match="catalogue"):
        tools.catalogue(str(DATA / "nosuch.csv"))


# --- withdrawal_deadline ----------------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "deadline", "nominal", "article"), [
    # 전자상거래법 제17조①1: 서면(12/1)보다 공급(12/3)이 늦으면 공급받은 날부터 7일. 초일 불산입
    # (민법 제157조) → 기산일 12/4, 7일째 12/10(목), 평일이라 그대로.
    ({"channel": "online", "delivered": "2026-12-03", "contract_received": "2026-12-01"},
     "2026-12-10", "2026-12-10", f"{E} 제17조"),
    # 방문판매법 제8조①1: 계약서와 물건을 9/20(일)에 → 기산일 9/21, 14일째 10/4(일); 10/3
    # 개천절이 토요일이라 10/5(월)이 대체공휴일 → 민법 제161조로 10/6(화) 만료.
    ({"channel": "door_to_door", "delivered": "2026-09-20", "contract_received": "2026-09-20"},
     "2026-10-06", "2026-10-04", f"{B} 제8조"),
    # 할부거래법 제8조①1: 계약서 9/18, 공급 9/21(더 늦음) → 공급받은 날부터 7일: 기산일 9/22,
    # 7일째 9/28(월). 기간 중의 추석 연휴(9/24~9/26)는 말일이 아니므로 만료일을 옮기지 않는다.
    ({"channel": "instalment", "delivered": "2026-09-21", "contract_received": "2026-09-18"},
     "2026-09-28", "2026-09-28", f"{H} 제8조"),
    # 전자상거래법 제17조: 9/17(목) 수령 → 기산일 9/18, 7일째 9/24(목, 추석 전날) → 9/25 추석,
    # 9/26 추석 다음날(토), 9/27(일) → 9/28(월) 만료 (음력 공휴일).
    ({"channel": "online", "delivered": "2026-09-17"}, "2026-09-28", "2026-09-24", f"{E} 제17조"),
    # 방문판매법 제8조 (전화권유판매도 14일): 12/28(월) 수령 → 기산일 12/29, 14일째
    # 12/29 + 13일 = 2027-01-11(월); 1/1 신정은 기간 중이라 무관.
    ({"channel": "phone", "delivered": "2026-12-28"}, "2027-01-11", "2027-01-11", f"{B} 제8조"),
])
def test_withdrawal_deadline(arguments, deadline, nominal, article):
    out = tools.withdrawal_deadline(**arguments)
    assert out["result"]["deadline"] == deadline and out["result"]["nominal_deadline"] == nominal
    assert out["articles"][0] == article
    assert "민법 제157조" in out["articles"]
    assert ("민법 제161조" in out["articles"]) == (deadline != nominal)
    assert out["result"]["days"] == (14 if arguments["channel"] in ("door_to_door", "phone")
                                     else 7)


def test_withdrawal_when_not_as_described():
    # 전자상거래법 제17조③: 공급받은 날부터 3개월, 안 날부터 30일. 수령 11/2 → 기산일 11/3,
    # 3개월 → 제160조② 2027-02-03의 전일 2027-02-02(화); 안 날 12/20 → 기산일 12/21, 30일째
    # 12/21 + 29일 = 2027-01-19(화). 둘 다 지켜야 하므로 먼저 오는 2027-01-19.
    out = tools.withdrawal_deadline("online", delivered="2026-11-02",
                                    not_as_described_known="2026-12-20")
    assert out["result"]["not_as_described"] == {"three_months_from_delivery": "2027-02-02",
                                                 "thirty_days_from_known": "2027-01-19"}
    assert out["result"]["not_as_described_deadline"] == "2027-01-19"
    assert out["result"]["deadline"] == "2026-11-09"  # the ordinary 7 days: 11/3 + 6
    assert "민법 제160조" in out["articles"] and any("제17조제3항" in n for n in out["notes"])
    # 방문판매법 제8조③ has the same two limits; 할부거래법 제8조 has none of its own: a note
    phone = tools.withdrawal_deadline("phone", delivered="2026-11-02",
                                      not_as_described_known="2026-12-20")["result"]
    assert phone["not_as_described_deadline"] == "2027-01-19"
    assert phone["deadline"] == "2026-11-16"  # 14 days: 11/3 + 13
    instalment = tools.withdrawal_deadline("instalment", delivered="2026-11-02",
                                           not_as_described_known="2026-12-20")
    assert "not_as_described_deadline" not in instalment["result"]
    assert any("별도 기간이 없습니다" in n for n in instalment["notes"])


def test_withdrawal_bad_input_is_explained():
    with pytest.raises(ValueError, match="delivered or contract_received"):
        tools.withdrawal_deadline("online")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        tools.withdrawal_deadline("online", delivered="2026/12/03")
    # only the contract: the period runs from it, and the note says delivery restarts it
    out = tools.withdrawal_deadline("online", contract_received="2026-12-01")
    assert out["result"]["from"] == "2026-12-01"
    assert any("받지 않았다면" in n for n in out["notes"])


# --- the evaluation sets ----------------------------------------------------------------------------


def test_eval_sets_cite_articles_that_exist_and_expect_what_the_tools_return():
    orders = orders_service.load_orders()

    def order_status(order_id: str) -> dict:
        return {"result": orders[order_id]}

    def top_item(**arguments) -> dict:  # search_products: the top item's figures
        found = tools.search_products(**arguments)["result"]
        return {"result": {**found, **(found["items"][0] if found["items"] else {})}}

    functions = {"orders.get_order_status": order_status, "search_products": top_item,
                 "withdrawal_deadline": tools.withdrawal_deadline}
    for name, least in (("frozen.jsonl", 60), ("dev.jsonl", 20), ("dev2.jsonl", 60)):
        rows = _rows(name)
        assert len(rows) >= least and len({r["id"] for r in rows}) == len(rows)
        for row in rows:
            assert row["question"] and (row.get("gold") or row.get("tool"))
            assert_gold_articles_exist(row, DATA / "statutes")
            if "tool" in row:
                assert_tool_result(row, functions[row["tool"]["name"]])
    # no dev question is asked in another set (failures name dev ids, never frozen questions)
    seen = {r["question"] for r in _rows("frozen.jsonl")}
    for name in ("dev.jsonl", "dev2.jsonl"):
        rows = _rows(name)
        assert [r["id"] for r in rows if r["question"] in seen] == []
        seen |= {r["question"] for r in rows}


def test_dictionary_keys_do_not_fire_on_unrelated_questions(analyzer, tmp_path):
    """As every pack's dictionary: no key fires on 3% or more of 100 everyday questions outside
    shopping, and no word shrinks to one syllable."""
    path = DATA / "commerce-synonyms.tsv"
    assert len(synonym_dicts.load(str(path), analyzer)) >= 40
    assert not dictionary_hijacks(path, analyzer, tmp_path)


# --- install, search, and the frozen set through the assistant -------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory, analyzer, parser_table) -> Path:
    """A home with the pack installed (shared knowledge base `commerce`), as
    `jaju packs install commerce` does it."""
    home = tmp_path_factory.mktemp("commerce-home")
    index = KnowledgeIndex(home / "jaju.db", analyzer)
    [done] = install_knowledge(pack(), index, parser_table)
    assert done.files == 6 and done.chunks > 500 and not done.failures
    assert done.kb.name == "commerce" and done.kb.tenant == SHARED_TENANT
    # the dictionary at work: 반품 → 청약철회, 인터넷 → 전자상거래, 통신판매업자
    hits = index.search(done.kb, "인터넷으로 산 옷을 반품하고 싶어요", 5)
    assert (E, "제17조") in [(h.source["title"], h.source["article"]) for h in hits]
    assert hits[0].source["title"] == E
    index.close()
    mark_pack_installed(home, "commerce")
    return home


@pytest.mark.parametrize(("question", "statute"), [
    ("방문판매원한테 산 화장품을 취소하고 싶어요", B),
    ("인터넷으로 산 옷을 반품하고 싶어요", E),
    ("할부로 산 냉장고 청약을 철회하고 싶어요", H),
])
def test_the_shopping_assistant_finds_the_right_statutes_withdrawal_article(installed, analyzer,
                                                                           question, statute):
    """Three statutes word their 청약철회 articles alike (전자상거래법 제17조, 방문판매법 제8조,
    할부거래법 제8조). The assistant, reranking articles with its pack.toml weights, puts the
    statute the question is about first and its withdrawal article among its five passages,
    each article once."""
    from jaju.assistants.assistant import Assistant
    from jaju.backends.extractive import ExtractiveBackend
    from jaju.config import AssistantSettings

    spec = {k: v for k, v in pack().assistants[0].items() if k != "name"}
    assert spec["rerank"] == "articles"
    settings = AssistantSettings.model_validate({**spec, "backend": "extractive"})
    index = KnowledgeIndex(installed / "jaju.db", analyzer)
    shopping = Assistant.from_settings("shopping", settings, ExtractiveBackend("extractive"), index)
    found = [(h.source["title"], h.source["article"]) for h in shopping._search(question, "local")]
    index.close()
    withdrawal = "제17조" if statute == E else "제8조"
    assert found[0][0] == statute and (statute, withdrawal) in found
    assert len(found) == len(set(found)) == 5


def _run(settings: Settings, cases: list, rewrite=None, seen: dict | None = None
         ) -> evaluation.Report:
    """The harness on `cases` through the shopping assistant, which runs the figures guard (its
    pack.toml section turns it on)."""
    def figures_on(state: AppState) -> None:
        levels = state.settings.guard_levels("local", "shopping")
        assert "figures" in state.gateway.guards.order(levels)

    return run_eval(settings, "shopping", cases, rewrite=rewrite, seen=seen, on_start=figures_on)


def test_on_a_backend_that_cannot_call_tools_the_answer_says_what_the_tools_need(installed):
    """The pack served by the extractive backend (the default): a product question gets the
    statutes quoted, and a line naming the assistant's tools and what runs them, rather than
    quotes alone as if they answered it."""
    from starlette.testclient import TestClient

    from jaju.app import create_app

    settings = Settings.model_validate({"home": installed, "assistants": {
        "mine": {"backend": "extractive", "knowledge": ["commerce"]}}})
    question = [{"role": "user", "content": "10만원 이하 무선 청소기 재고 있나요?"}]
    with TestClient(create_app(settings, load_plugins=False)) as client:
        r = client.post("/v1/chat/completions", json={"model": "shopping", "messages": question})
        own = client.post("/v1/chat/completions", json={"model": "mine", "messages": question})
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert "commerce.search_products" in text and "도구를 호출할 수 있는 모델" in text
    # an assistant of jaju.toml without tools has none to name
    assert own.status_code == 200 and "도구를 호출할 수 있는 모델" not in own.text
    assert "[packs] backend" in text and "run only on a model that can call tools" in text


def test_frozen_set_through_the_extractive_assistant(installed):
    """`jaju packs eval commerce`: retrieval from the answer's citations (the extractive
    backend cites the top five passages); docs/benchmarks.md has the measured figures."""
    cases = evaluation.load_cases(pack().eval_set().path)
    report = _run(Settings.model_validate({"home": installed}), cases)
    m = report.metrics()
    assert m["errors"] == 0 and m["title_only"] == 0
    # quotes of the statutes state only the statutes' numbers: the guard flags none of them
    assert not [r.case.id for r in report.results if "확인되지 않은 숫자" in r.answer]
    # #16's 0.90 for gold in the first five (measured 0.969 with e5 and the glosses,
    # docs/benchmarks.md, "Glosses"; 0.923 before them)
    assert m["R@5"] is not None and m["R@5"] >= 0.90


def test_tool_cases_through_a_scripted_upstream_and_the_orders_service(installed, tool_upstream):
    """Every tool case of the frozen set: the scripted upstream proposes the expected call
    (`CALL name {arguments}`), jaju runs it (pack tools in process, the order status through
    the OpenAPI service over HTTP), and the answer carries the tool's result — with no figure
    that is in neither the question, the citations nor the tool results."""
    upstream, record = tool_upstream
    service, service_port = start_script("../src/jaju/packs/commerce/orders_service.py")
    try:
        settings = Settings.model_validate({
            "home": installed, **upstream,
            "openapi": {"orders": {"spec": str(orders_service.SPEC), "allow_private": True,
                                   "base_url": f"http://127.0.0.1:{service_port}"}}})
        cases = [c for c in evaluation.load_cases(pack().eval_set().path) if c.tool]
        assert len(cases) >= 15
        by_question = {c.question: c for c in cases}

        def propose(body: dict) -> dict:
            case = by_question[body["messages"][-1]["content"]]
            if case.id == "missing":
                return body
            name = pack().tool_name(case.tool["name"]).replace(".", "_")
            call = f"\nCALL {name} {json.dumps(case.tool['arguments'], ensure_ascii=False)}"
            return {**body, "messages": [{"role": "user", "content": case.question + call}]}

        missing = "없는 주문 조회 CALL orders_get_order_status {\"order_id\": \"20991231-9999\"}"
        by_question[missing] = evaluation.Case("missing", missing, tool={
            "name": "orders.get_order_status", "arguments": {"order_id": "20991231-9999"}})
        seen: dict[str, dict] = {}
        report = _run(settings, [*cases, by_question[missing]], propose, seen)
        # an order the service does not have: a clear error from the service, nothing made up
        [run] = seen.pop(missing)["tool_runs"]
        assert run["status"] == "http_error" and "주문이 없습니다" in run["error"]
        report.results = [r for r in report.results if r.case.id != "missing"]
        m = report.metrics()
        assert m["errors"] == 0
        assert m["tool_calls"] == 1.0 and m["tool_results"] == 1.0
        # no figure in any answer that is in neither the question, the citations nor the
        # tool results (the harness's invented_figures), and none flagged by the figures guard
        assert m["invented_figures"] == 0.0
        assert not [r.case.id for r in report.results if r.invented]
        assert not [r.case.id for r in report.results if "확인되지 않은 숫자" in r.answer]
        # what the model saw is the tool's own result (the catalogue's figures, unchanged)
        runs = {q: s["tool_runs"][0] for q, s in seen.items()}
        for case in cases:
            run = runs[case.question]
            if case.tool["name"] == "search_products":
                truth = tools.search_products(**case.tool["arguments"])
                assert run["result"] == truth, case.id
        # the order status really came over HTTP from the service, under the egress guard
        order = next(r for r in report.results if r.case.tool["name"].startswith("orders."))
        assert "배송완료" in order.answer or "상품준비중" in order.answer or "결제완료" in order.answer
        sent = [json.loads(x) for x in record.read_text(
            encoding="utf-8").splitlines()]
        offered = {t["function"]["name"] for t in sent[0]["tools"]}
        assert offered == {"commerce_search_products", "commerce_withdrawal_deadline",
                           "orders_get_order_status"}
    finally:
        service.kill()


# --- the figures guard -------------------------------------------------------------------------------


def _chain(action: str = "flag") -> tuple[object, list]:
    from jaju.guards.base import GuardChain, GuardContext
    from jaju.packs.commerce.figures import FiguresGuard, FiguresSettings

    audit: list = []
    context = GuardContext(Caller("local", label="test"), "shopping",
                           lambda *record: audit.append(record))
    guard = FiguresGuard(FiguresSettings(action=action, allowed=["1372"]), context)
    return GuardChain([guard]), audit


async def _turn(chain, question: str) -> None:
    """What the guard sees before the answer: the question, a passage and a tool result."""
    from jaju.knowledge.index import Hit
    from jaju.protocol import ChatRequest

    await chain.inbound(ChatRequest.model_validate(
        {"model": "shopping", "messages": [{"role": "user", "content": question}]}))
    await chain.evidence([Hit("제17조 (청약철회등) … 받은 날부터 7일 …", 1.0,
                              {"title": E, "article": "제17조", "start": 40123}, 1, {})])
    await chain.tool_result(None, tools.search_products("텀블러", price_max=50000))


def _answer(text: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def test_figures_guard_flags_or_strips_numbers_the_turn_was_not_given():
    # 가온 스탠다드 텀블러 P00993: 38,500원, 재고 393 (the tool's result); 40123 is only the
    # passage's character offset, 45,000원 is nowhere: invented
    async def main(action: str) -> tuple[str, list]:
        chain, audit = _chain(action)
        await _turn(chain, "5만원 이하 텀블러 있나요?")
        out = await chain.outbound(_answer(
            "가온 스탠다드 텀블러(P00993)는 38,500원, 재고 393개입니다. 비슷한 것이 45,000원, "
            "40123원에도 있어요. 받은 날부터 7일, 제17조, 문의는 1372."))
        return out["choices"][0]["message"]["content"], audit

    text, audit = asyncio.run(main("flag"))
    assert text.startswith("가온 스탠다드 텀블러(P00993)는 38,500원, 재고 393개입니다.")
    assert text.endswith("가격·재고·날짜는 상품 검색과 도구 결과로 다시 확인하세요.")
    assert "확인되지 않은 숫자가 있습니다: 45,000, 40123." in text
    assert audit == [("guard.figures", "flagged", "shopping", {"figures": 2})]  # counts only
    text, audit = asyncio.run(main("strip"))
    assert "38,500원, 재고 393개" in text and "45,000" not in text and "40123" not in text
    assert "비슷한 것이 (확인 필요), (확인 필요)에도" in text and "1372" in text
    assert "확인되지 않은" not in text  # strip replaces instead of noting
    assert audit == [("guard.figures", "stripped", "shopping", {"figures": 2})]


def test_figures_guard_checks_a_streamed_answer_split_inside_numbers():
    pieces = ["텀블러는 38,", "500원이고 재고는 3", "93개, 다른 건 4", "5,000원이에요."]

    async def chunks():
        for i, piece in enumerate(pieces):
            yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {
                "content": piece}, "finish_reason": "stop" if i == len(pieces) - 1 else None}]}

    async def main(action: str) -> str:
        chain, _ = _chain(action)
        await _turn(chain, "텀블러 가격 알려줘")
        out = []
        async for data in chain.outbound_stream(chunks()):
            for choice in data["choices"]:
                out.append(choice["delta"].get("content") or "")
        return "".join(out)

    assert asyncio.run(main("strip")) == "텀블러는 38,500원이고 재고는 393개, 다른 건 (확인 필요)이에요."
    flagged = asyncio.run(main("flag"))
    assert flagged.startswith("텀블러는 38,500원이고 재고는 393개, 다른 건 45,000원이에요.")
    assert "확인되지 않은 숫자가 있습니다: 45,000." in flagged


async def _streamed(chunks: list[dict], action: str) -> list[dict]:
    """`chunks` through the figures guard's stream step, as the answer to a price question."""
    async def source():
        for data in chunks:
            yield data

    chain, _ = _chain(action)
    await _turn(chain, "텀블러 가격 알려줘")
    return [data async for data in chain.outbound_stream(source())]


def test_held_back_text_sends_no_empty_chunk_but_keeps_everything_else():
    """While a guard holds text back (a number may go on in the next piece), the chunk that
    carried it is not sent empty; a chunk with anything else (logprobs, usage, a role, the
    finish) still is, and the text comes out whole."""
    chunks_in = [
        {"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": "텀블러는 38,"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": "5"}, "finish_reason": None,
             "logprobs": {"content": [{"token": "5", "logprob": -0.1}]}}]},
        {"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": "00"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "usage": {"total_tokens": 9},
         "choices": [{"index": 0, "delta": {"content": "원"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": "이에요."}, "finish_reason": "stop"}]}]

    out = asyncio.run(_streamed(chunks_in, "strip"))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in out) == \
        "텀블러는 38,500원이에요."
    assert out[0]["choices"][0]["delta"]["role"] == "assistant"
    assert any(c["choices"][0].get("logprobs") for c in out)  # kept, though its text waits
    assert any(c.get("usage") for c in out)
    assert out[-1]["choices"][0]["finish_reason"] == "stop"
    dropped = [c for c in chunks_in[1:] if c not in out]
    assert dropped and all(set(c["choices"][0]) == {"index", "delta", "finish_reason"}
                           and not c.get("usage") for c in dropped)
    assert all(c["choices"][0]["delta"].get("content") or c["choices"][0].get("logprobs")
               or c.get("usage") or c["choices"][0]["delta"].get("role")
               or c["choices"][0]["finish_reason"] for c in out)

    # an upstream that repeats the role, sends null fields and never finishes: nothing empty
    # goes out, and the text it ended on comes in a chunk that still names the completion
    repeating = [{"id": "r", "object": "chat.completion.chunk", "created": 7, "model": "m",
                  "usage": None, "choices": [{"index": 0, "delta": {
                      "role": "assistant", "content": piece, "refusal": None},
                      "finish_reason": None, "logprobs": None}]}
                 for piece in ["", "가격은 4", "5,0", "00"]]

    out = asyncio.run(_streamed(repeating, "flag"))
    assert out[0]["choices"][0]["delta"]["content"] == ""  # the role chunk
    assert all(c["choices"][0]["delta"].get("content") for c in out[1:])
    assert "45,000" in "".join(c["choices"][0]["delta"]["content"] for c in out)
    assert all(c["id"] == "r" and c["model"] == "m" and c["created"] == 7 for c in out)


def test_figures_guard_does_not_take_earlier_answers_as_sources():
    from jaju.protocol import ChatRequest

    async def main() -> str:
        chain, _ = _chain("strip")
        await chain.inbound(ChatRequest.model_validate({"model": "shopping", "messages": [
            {"role": "user", "content": "텀블러 얼마예요?"},
            {"role": "assistant", "content": "45,000원입니다."},  # made up in an earlier turn
            {"role": "user", "content": "정말 맞아요?"}]}))
        out = await chain.outbound(_answer("네, 45,000원입니다."))
        return out["choices"][0]["message"]["content"]

    assert asyncio.run(main()) == "네, (확인 필요)입니다."


def test_shopping_tools_are_grammar_constrained_on_the_tiny_gguf(make_client, tiny_gguf, home):
    """The wiring on llama.cpp: a random model, forced to call the search tool, can only
    produce arguments its schema allows, and the result carries the catalogue's figures."""
    # a random string query needs room to close: 800 tokens
    client = tiny_forced_tool(make_client, tiny_gguf, home, "commerce", "shopping",
                              "commerce.search_products", max_tokens=800)
    body = client.post("/v1/chat/completions", json={
        "model": "shopping", "messages": [{"role": "user", "content": "텀블러 있어요?"}],
        "seed": 1}).json()
    runs = body["tool_runs"]
    assert runs and runs[0]["name"] == "commerce.search_products", body
    assert isinstance(runs[0]["arguments"]["query"], str) and runs[0]["arguments"]["query"]
    if runs[0]["status"] == "ok":  # a random query may match nothing; what it found is exact
        rows = _csv_rows()
        for item in runs[0]["result"]["result"]["items"]:
            assert item["price"] == int(rows[item["sku"]]["price"])
    else:  # e.g. a random limit out of range never reaches the tool: refused by the schema
        assert runs[0]["status"] in ("invalid_arguments", "tool_failed"), runs[0]
