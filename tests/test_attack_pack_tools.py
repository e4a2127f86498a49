"""The industry packs' tools and the eval harness attacked as a careless client (or a model
that makes up arguments) would: negative, zero, NaN, infinity, 1e308, 10^400, strings for
numbers, impossible and out-of-range dates, periods of 0 or 10,000 months, ranges of ten
thousand years, inverted price filters; eval sets with malformed lines.

What a user relies on: a refused call is the registry's `ToolError` with a message in Korean
and English that says what to fix, never an exception that escapes (a 500) nor a call that
runs away with memory or time; an accepted call returns a result the registry can send (under
its size cap); a bad eval set is refused with the file and the line named."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jaju.caller import Caller
from jaju.errors import ConfigError, ToolError
from jaju.packs import evaluation
from jaju.packs.commerce import tools as commerce
from jaju.packs.education import tools as education
from jaju.packs.finance import tools as finance
from jaju.packs.law import tools as law
from jaju.tools import ToolPolicy, ToolRegistry
from jaju.tools.model import from_function
from jaju.tools.registry import MAX_RESULT_BYTES

from conftest import run_jaju

PACKS = {"law": law, "finance": finance, "commerce": commerce, "education": education}
HANGUL = re.compile("[가-힣]")
LATIN = re.compile("[A-Za-z]{3}")

EXAMPLES: dict[str, dict[str, Any]] = {
    "law.legal_period_end": {"start": "2026-03-02", "amount": 30},
    "law.dismissal_notice_pay": {"daily_ordinary_wage": 100_000},
    "law.annual_leave_days": {"years_of_service": 3},
    "law.overtime_pay": {"hourly_wage": 10_000, "overtime_hours": 2},
    "law.weekly_holiday_pay": {"weekly_hours": 40, "hourly_wage": 10_000},
    "law.severance_pay": {"service_days": 730, "average_daily_wage": 100_000},
    "law.minimum_wage_check": {"hourly_wage": 10_030, "year": 2025},
    "law.lookup_article": {"citation": "근로기준법 제26조"},
    "finance.repayment_schedule": {"principal": 1_000_000, "annual_rate": 5, "months": 12},
    "finance.max_interest_check": {"principal": 1_000_000, "annual_rate": 30,
                                   "interest_paid": 300_000},
    "finance.deposit_interest": {"amount": 1_000_000, "annual_rate": 3, "months": 12},
    "finance.early_repayment_fee": {"amount": 1_000_000, "fee_rate": 1,
                                    "contract_date": "2025-01-02",
                                    "repayment_date": "2025-06-02",
                                    "maturity_date": "2026-01-02"},
    "finance.dsr": {"annual_income": 40_000_000, "principal": 10_000_000, "annual_rate": 5,
                    "months": 60},
    "finance.voice_phishing": {"notice_date": "2026-01-05", "transfer_date": "2026-01-02",
                               "fraud_account_balance": 10_000,
                               "payment_stop_notice_date": "2026-03-02"},
    "commerce.search_products": {"query": "운동화"},
    "commerce.withdrawal_deadline": {"channel": "online", "delivered": "2026-03-02",
                                     "not_as_described_known": "2026-03-05"},
    "education.school_days": {"start": "2026-03-02", "end": "2026-07-17",
                              "closures": ["2026-05-04"]},
    "education.school_year": {"year": 2026, "first_semester_end": "2026-08-20"},
    "education.quiz": {"citation": "초ㆍ중등교육법 시행령 제45조"},
    "education.lookup_article": {"citation": "초ㆍ중등교육법 시행령 제45조"},
}
NUMBERS = [-1, 0, -1e308, 1e308, 10**30, 10**400, "NaN", "Infinity", "-Infinity", "12", "abc",
           None, True, 1.5]
"""JSON values for a number; "NaN" and "Infinity" are sent as the bare tokens Python's json
reads (a model's arguments are parsed with it)."""
DATES = ["", " ", "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "0001-01-01",
         "9999-12-31", "26-3-2", "2026/03/02", "2026-3-2", "x" * 100_000, "\x00", "'; DROP",
         "0001-01-01~9999-12-31", 5, None]


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    """Every pack tool, namespaced by its pack as the packs register them."""
    reg = ToolRegistry()
    for namespace, module in PACKS.items():
        for fn in module.TOOLS:
            reg.add(from_function(fn), namespace=namespace)
    return reg


def call(reg: ToolRegistry, name: str, arguments: dict[str, Any]) -> Any:
    raw = json.dumps(arguments)
    for token in ("NaN", "Infinity", "-Infinity"):  # as bare JSON tokens, not strings
        raw = raw.replace(f'"{token}"', token)
    return asyncio.run(reg.call(name, raw, caller=Caller("local"),
                                policy=ToolPolicy(timeout=30)))


def refusal(reg: ToolRegistry, name: str, arguments: dict[str, Any]) -> ToolError:
    with pytest.raises(ToolError) as e:
        call(reg, name, arguments)
    assert HANGUL.search(e.value.message) and LATIN.search(e.value.message), e.value.message
    return e.value


def test_every_tool_has_an_example_that_runs(registry):
    assert set(EXAMPLES) == set(registry.tools)
    for name, arguments in EXAMPLES.items():
        assert set(call(registry, name, arguments)) == {"result", "articles", "notes"}, name


def sweep(registry: ToolRegistry, name: str) -> list[tuple[str, Any, str]]:
    """Every number parameter with NUMBERS and every string one with DATES, the others as in
    the example: (parameter, value, outcome) where an outcome is "ok" or the error code."""
    tool = registry.tools[name]
    seen = []
    for param, spec in tool.parameters["properties"].items():
        kinds = json.dumps(spec)
        if '"array"' in kinds:
            values: list[Any] = [[v] for v in DATES if isinstance(v, str)] + [[""] * 1000]
        elif '"integer"' in kinds or '"number"' in kinds:
            values = NUMBERS
        elif '"string"' in kinds and '"enum"' not in kinds:
            values = DATES
        else:
            continue
        for value in values:
            try:
                result = call(registry, name, {**EXAMPLES[name], param: value})
            except ToolError as e:  # a clear refusal: what to fix, in Korean and English
                assert HANGUL.search(e.message) and LATIN.search(e.message), (param, e.message)
                seen.append((param, value, e.code))
                continue
            encoded = json.dumps(result, ensure_ascii=False, allow_nan=False)
            assert len(encoded.encode("utf-8")) <= MAX_RESULT_BYTES
            seen.append((param, value, "ok"))
    return seen


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_nasty_arguments_are_refused_clearly_or_answered(registry, name):
    """Any other exception than ToolError fails this test (it would be a 500 over HTTP);
    an answer must be finite JSON (allow_nan=False) under the result cap. No amount, hour,
    day or rate is NaN, infinite, ±1e308 or a word; no date parameter takes a day that does
    not exist or 100,000 characters."""
    tool = registry.tools[name]
    dates = {p for p, spec in tool.parameters["properties"].items()
             if "YYYY-MM-DD" in json.dumps(spec, ensure_ascii=False)}
    outcomes = sweep(registry, name)
    assert outcomes, name
    for param, value, outcome in outcomes:
        if value in ("NaN", "Infinity", "-Infinity", 1e308, -1e308, "abc"):
            assert outcome != "ok", (param, value)
        if param in dates and value in ("2026-02-30", "2025-02-29", "2026-13-01", "26-3-2",
                                        "x" * 100_000, "'; DROP"):
            assert outcome != "ok", (param, value)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_called_from_python_a_tool_keeps_the_bounds_its_schema_states(registry, name):
    """A developer calling a pack tool as a Python function gets the bounds the model's
    calls get: every value the registry refuses as out of range is refused here too (a
    pydantic ValidationError), and the example still runs (with numbers given as numbers)."""
    pack, tool_name = name.split(".")
    fn = getattr(PACKS[pack], tool_name)
    assert isinstance(fn(**EXAMPLES[name]), dict)
    for param, value, outcome in sweep(registry, name):
        if outcome == "ok" or value in ("NaN", "Infinity", "-Infinity") or (
                isinstance(value, str) and len(value) > 1000):
            continue
        # what the schema refuses is a ValidationError; what the tool refuses, a ValueError
        expected = ValidationError if outcome == "invalid_arguments" else ValueError
        with pytest.raises(expected):
            fn(**{**EXAMPLES[name], param: value})


def test_a_negative_rate_is_refused_from_python_as_by_the_schema():
    with pytest.raises(ValidationError, match="annual_rate"):
        finance.max_interest_check(principal=1_000_000, annual_rate=-5)


@pytest.mark.parametrize("name,arguments,code,says", [
    ("law.legal_period_end", {"start": "2026-02-30", "amount": 1}, "tool_failed", "YYYY-MM-DD"),
    ("law.legal_period_end", {"start": "9999-12-31", "amount": 1}, "tool_failed", "9999"),
    ("law.legal_period_end", {"start": "2026-03-02", "amount": 0}, "invalid_arguments", "amount"),
    ("law.overtime_pay", {"hourly_wage": 1e308}, "invalid_arguments", "hourly_wage"),
    ("law.severance_pay", {"service_days": 10**30, "average_daily_wage": 1}, "invalid_arguments",
     "service_days"),
    ("finance.repayment_schedule", {"principal": 10**6, "annual_rate": 5, "months": 10**9},
     "invalid_arguments", "months"),
    ("finance.repayment_schedule", {"principal": 10**6, "annual_rate": 5, "months": 0},
     "invalid_arguments", "months"),
    ("finance.repayment_schedule", {"principal": -1, "annual_rate": 5, "months": 12},
     "invalid_arguments", "principal"),
    ("finance.repayment_schedule", {"principal": 10**6, "annual_rate": 150, "months": 12},
     "invalid_arguments", "annual_rate"),
    ("finance.deposit_interest", {"amount": 10**6, "annual_rate": 3, "months": 10_000},
     "invalid_arguments", "months"),
    ("finance.dsr", {"annual_income": 10**6, "principal": 10**400, "annual_rate": 5,
                     "months": 12}, "invalid_arguments", "principal"),
    ("finance.early_repayment_fee", {"amount": 10**6, "fee_rate": 1,
                                     "contract_date": "2025-01-02",
                                     "repayment_date": "2026-06-02",
                                     "maturity_date": "2026-01-02"}, "tool_failed", "order"),
    ("finance.early_repayment_fee", {"amount": 10**6, "fee_rate": 1,
                                     "contract_date": "2026-01-02",
                                     "repayment_date": "2026-01-02",
                                     "maturity_date": "2026-01-02"}, "tool_failed", "0 days"),
    ("finance.early_repayment_fee", {"amount": 10**6, "fee_rate": 1, "remaining_days": 10**30,
                                     "loan_days": 365}, "invalid_arguments", "remaining_days"),
    ("finance.voice_phishing", {"transfer_date": "x" * 100_000}, "invalid_arguments",
     "transfer_date"),
    ("finance.voice_phishing", {"transfer_date": "2026-02-30"}, "tool_failed", "transfer_date"),
    ("commerce.search_products", {"query": "운동화", "price_min": 50_000, "price_max": 10_000},
     "tool_failed", "price_min"),
    ("commerce.search_products", {"query": ""}, "invalid_arguments", "query"),
    ("commerce.withdrawal_deadline", {"channel": "online", "delivered": "9999-12-31"},
     "tool_failed", "9999"),
    ("education.school_days", {"start": "2026-03-02", "end": "2026-03-01"}, "tool_failed",
     "end is before start"),
    ("education.school_days", {"start": "2026-03-02", "end": "2026-07-17",
                               "closures": ["2026-05-04"] * 401}, "invalid_arguments",
     "closures"),
    ("education.quiz", {"passage": "가" * 20_001}, "invalid_arguments", "passage"),
])
def test_refusals_say_what_to_fix(registry, name, arguments, code, says):
    error = refusal(registry, name, arguments)
    assert error.code == code and says in error.message, error.message


def test_an_inverted_price_filter_is_refused_and_an_empty_result_is_said(registry):
    none = call(registry, "commerce.search_products",
                {"query": "운동화", "price_min": 10**12, "price_max": 10**12})["result"]
    assert none["items"] == [] and none["matches"] == 0


def test_a_fifty_year_schedule_is_returned_whole_in_its_totals(registry):
    """600 monthly periods of 1천억 원 at 99.9%: each schedule method fits the result cap (the
    first and last 120 periods are shown), and the totals still cover every period."""
    for method in ("equal_payment", "equal_principal", "bullet"):
        out = call(registry, "finance.repayment_schedule",
                   {"principal": 10**11, "annual_rate": 99.9, "months": 600, "method": method})
        periods = out["result"]["periods"]
        assert [p["period"] for p in periods] == [*range(1, 121), *range(481, 601)]
        assert periods[-1]["balance"] == 0
        assert out["result"]["total_payment"] == 10**11 + out["result"]["total_interest"]
        assert any("481" in n or "121" in n for n in out["notes"])
    short = call(registry, "finance.repayment_schedule",
                 {"principal": 10**6, "annual_rate": 5, "months": 240})["result"]["periods"]
    assert len(short) == 240  # up to twice 120 periods, every one is shown


@settings(max_examples=25, deadline=None)
@given(principal=st.integers(1, 10**11), rate=st.floats(0, 100), months=st.integers(1, 600),
       method=st.sampled_from(["equal_payment", "equal_principal", "bullet"]))
def test_any_schedule_in_bounds_repays_the_loan_exactly(principal, rate, months, method):
    out = finance.repayment_schedule(principal, rate, months, method)
    assert len(json.dumps(out, ensure_ascii=False).encode()) <= MAX_RESULT_BYTES
    rows = finance._schedule(principal, rate, months, method)
    assert sum(r["principal"] for r in rows) == principal and rows[-1]["balance"] == 0
    assert all(r["interest"] >= 0 for r in rows)


def test_a_closure_of_ten_thousand_years_counts_only_the_period(registry):
    """One closure range from year 1 to 9999 (3.65 million days) over a week: the days in
    the week are closed, nothing else is built. 2026-03-02 (Mon) to 2026-03-08 (Sun): five
    weekdays, all closed; 3·1절 is on the Sunday before (its 대체공휴일 is 03-02 itself)."""
    out = call(registry, "education.school_days",
               {"start": "2026-03-02", "end": "2026-03-08",
                "closures": ["0001-01-01~9999-12-31"]})["result"]
    assert out["school_days"] == 0
    assert out["calendar_days"] == 7
    assert out["closed_weekdays"] + len(out["holidays"]) == 5
    assert out["saturdays"] == 1 and out["sundays"] == 1


def test_a_closure_outside_the_period_changes_nothing(registry):
    base = call(registry, "education.school_days",
                {"start": "2026-03-02", "end": "2026-03-31"})["result"]
    far = call(registry, "education.school_days",
               {"start": "2026-03-02", "end": "2026-03-31",
                "closures": ["2027-01-01~2027-02-01", "2020-01-01"]})["result"]
    assert far == base


@pytest.mark.parametrize("start,amount,unit,end", [
    # 2026-01-31 + 1 month, 초일 불산입: from 02-01, the day before 03-01 is 02-28 (Sat) →
    # 제161조 moves it past Sat 02-28 and Sun 03-01 (삼일절) and Mon 03-02 (its 대체공휴일) to 03-03
    ("2026-01-31", 1, "month", "2026-03-03"),
    # a leap day start: 2024-02-29 + 1 year runs from 03-01, ends 2025-02-28 (Fri, a weekday)
    ("2024-02-29", 1, "year", "2025-02-28"),
])
def test_dates_at_month_ends_still_work(registry, start, amount, unit, end):
    out = call(registry, "law.legal_period_end", {"start": start, "amount": amount,
                                                  "unit": unit})
    assert out["result"]["end"] == end


def test_tool_calls_over_http_fail_as_400_with_openai_error_json(make_client):
    """POST /v1/tools/{name}/call: a refused call is a 400 whose body is an OpenAI error
    object with the tool's code; never a 500."""
    client = make_client()
    cases = [("finance.repayment_schedule", {"principal": 10**6, "annual_rate": 5,
                                             "months": 10**9}, "invalid_arguments"),
             ("law.legal_period_end", {"start": "2026-02-30", "amount": 3}, "tool_failed"),
             ("education.school_days", {"start": "2026-03-02", "end": "2026-03-08",
                                        "closures": ["0001-01-01~9999-12-31"]}, None)]
    for name, arguments, code in cases:
        r = client.post(f"/v1/tools/{name}/call", json={"arguments": arguments})
        if code is None:
            assert r.status_code == 200, r.text
            continue
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == code and error["type"] == "invalid_request_error"
        assert HANGUL.search(error["message"])
    r = client.post("/v1/tools/finance.dsr/call",
                    content=b'{"arguments": {"annual_income": Infinity, "principal": 1, '
                            b'"annual_rate": 1, "months": 1}}',
                    headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and "error" in r.json()


# --- the eval harness ----------------------------------------------------------------------------

GOOD = '{"id": "A1", "question": "해고 예고는?", "gold": ["근로기준법 제26조"]}'


@pytest.mark.parametrize("line,says", [
    ("{not json", "Expecting"),
    ("[1, 2]", "not a JSON object"),
    ('"just a string"', "not a JSON object"),
    ("null", "not a JSON object"),
    ('{"id": "x"}', "'question'"),
    ('{"question": ""}', "'question'"),
    ('{"question": 5}', "'question'"),
    ('{"question": "q", "gold": "근로기준법 제26조"}', "'gold'"),
    ('{"question": "q", "answer_phrases": [1, 2]}', "'answer_phrases'"),
    ('{"question": "q", "tool": "finance.dsr"}', "'tool'"),
    ('{"question": "q", "tool": {"name": "dsr", "arguments": [1]}}', "'tool'"),
    ('{"question": "q", "allowed_figures": 5}', "'allowed_figures'"),
])
def test_a_bad_eval_line_is_named(tmp_path, line, says):
    path = tmp_path / "set.jsonl"
    path.write_text(f"{GOOD}\n\n{GOOD}\n{line}\n{GOOD}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        evaluation.load_cases(path)
    assert f"{path}:4:" in str(e.value) and says in str(e.value)
    assert HANGUL.search(str(e.value))


def test_an_eval_set_that_is_not_utf8_or_has_a_huge_line_is_named(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_bytes(f"{GOOD}\n{GOOD}\n".encode() + b'{"question": "\xff\xfe"}\n')
    with pytest.raises(ConfigError) as e:
        evaluation.load_cases(path)
    assert f"{path}:3:" in str(e.value)
    huge = '{"question": "' + "가" * 400_000 + '"}'  # 1.2 MB in one line
    path.write_text(f"{GOOD}\n{huge}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        evaluation.load_cases(path)
    assert f"{path}:2:" in str(e.value) and "1,000,000" in str(e.value)


def test_a_good_eval_set_loads_with_a_bom_and_blank_lines(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_bytes("\ufeff".encode() + f"{GOOD}\n\n  \n{GOOD}".encode())
    cases = evaluation.load_cases(path)
    assert [c.gold for c in cases] == [("근로기준법 제26조",)] * 2


@pytest.mark.parametrize("fmt,body,says", [
    ("kobest", '{"label": 0, "sentence": "좋다"}\n[1]\n', "item 2"),
    ("kobest", '{"label": 0, "sentence": "좋다"}\n{broken\n', "line 2"),
    ("kmmlu", '{"question": "q", "A": "a", "B": "b", "answer": 1}\n{"question": "q"}\n',
     "item 2"),
])
def test_a_bad_multiple_choice_item_is_named(tmp_path, fmt, body, says):
    path = tmp_path / "mc.jsonl"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        evaluation.load_mc(path, fmt)
    assert says in str(e.value)


def test_jaju_eval_names_the_bad_line_without_a_traceback(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(f"{GOOD}\n[]\n", encoding="utf-8")
    out = run_jaju("eval", "--set", str(path), "--assistant", "law", home=tmp_path / "home")
    assert out.returncode != 0
    assert f"{path}:2:" in out.stderr and "Traceback" not in out.stderr


def test_dates_parse_only_as_real_days():
    assert law.parse_date(" 2024-02-29 ", "d") == dt.date(2024, 2, 29)
    for bad in ("2025-02-29", "2026-04-31", "", "20260302"[:7]):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            law.parse_date(bad, "d")
