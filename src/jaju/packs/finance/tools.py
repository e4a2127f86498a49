"""The finance pack's verified tools: typed functions, each returning its result and the
articles it applied, ``{"result": ..., "articles": ["이자제한법 제2조"], "notes": [...]}``,
as the law pack's do.

Each rule is the statute's wording turned into arithmetic; tests/test_finance_pack.py checks
every tool against worked examples computed by hand. Where a figure comes from a text the pack
does not hold (a tax law, a supervisory rule, the 대부업법 itself) the tool says so in `notes`.

Rounding, stated once for every tool: amounts are whole won. Interest for a period is cut to
the won (원 미만 버림, as banks do); an equal instalment is rounded to the nearest won; the last
period of a schedule takes whatever principal is left, so the principal repaid always sums to
the loan exactly. Taxes are cut to ten won (10원 미만 버림, 국고금관리법 제47조).
"""

import datetime as dt
import math
from collections.abc import Callable
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import Field, validate_call

from jaju.packs.law.tools import MAX_WON, legal_period_end, parse_date

INTEREST_ACT = "이자제한법"
MAX_RATE_DECREE = "이자제한법 제2조제1항의 최고이자율에 관한 규정"
LENDING_DECREE = "대부업 등의 등록 및 금융이용자 보호에 관한 법률 시행령"
CONSUMER_ACT = "금융소비자 보호에 관한 법률"
PHISHING_ACT = "전기통신금융사기 피해 방지 및 피해금 환급에 관한 특별법"

Method = Literal["equal_payment", "equal_principal", "bullet"]
METHOD_NAMES = {"equal_payment": "원리금균등", "equal_principal": "원금균등", "bullet": "만기일시"}


def _floor_won(amount: float) -> int:
    """Cut to the won. A tiny epsilon keeps 41666.99999999 (float noise) from losing a won."""
    return math.floor(amount + 1e-6)


def _round_won(amount: float) -> int:
    return math.floor(amount + 0.5)


def _floor_ten(amount: float) -> int:
    return math.floor(amount / 10 + 1e-9) * 10


# --- loans ---------------------------------------------------------------------------------------


SHOWN_PERIODS = 120
"""A schedule longer than twice this shows its first and last SHOWN_PERIODS periods (the
totals still count every period): 600 rows of a 50-year loan would exceed the tool result cap
(MAX_RESULT_BYTES) and could not be returned at all."""


def _schedule(principal: int, annual_rate: float, months: int, method: str
              ) -> list[dict[str, int]]:
    r = annual_rate / 100 / 12
    if method == "equal_payment":
        # a rate so small that (1 + r) rounds to 1 (say 1e-17 %) is a zero rate, not a
        # division by zero
        discount = 1 - (1 + r) ** -months
        instalment = (_round_won(principal / months) if discount == 0
                      else _round_won(principal * r / discount))
    balance, rows = principal, []
    for period in range(1, months + 1):
        interest = _floor_won(balance * r)
        if period == months:
            repaid = balance  # the last period absorbs what rounding left over
        elif method == "equal_payment":
            repaid = min(instalment - interest, balance)
        elif method == "equal_principal":
            repaid = _floor_won(principal / months)
        else:
            repaid = 0
        balance -= repaid
        rows.append({"period": period, "payment": interest + repaid, "interest": interest,
                     "principal": repaid, "balance": balance})
    return rows


@validate_call
def repayment_schedule(
    principal: Annotated[int, Field(gt=0, le=10**11, description="대출 원금 (원)")],
    annual_rate: Annotated[float, Field(ge=0, le=100, description="연 이자율 (%), 예: 4.5")],
    months: Annotated[int, Field(ge=1, le=600, description="상환 기간 (개월)")],
    method: Annotated[Method, Field(
        description="equal_payment 원리금균등, equal_principal 원금균등, bullet 만기일시")
    ] = "equal_payment",
) -> dict[str, Any]:
    """대출 상환 스케줄: 원리금균등·원금균등·만기일시 상환의 회차별 납입액, 이자, 원금, 잔액.
    월 이자 = 잔액 × 연이율 ÷ 12 (원 미만 버림); 원리금균등의 월 납입액은 원 단위 반올림;
    마지막 회차가 남은 원금을 모두 갚는다."""
    rows = _schedule(principal, annual_rate, months, method)
    total_interest = sum(row["interest"] for row in rows)
    shown, notes = rows, []
    if len(rows) > 2 * SHOWN_PERIODS:
        shown = rows[:SHOWN_PERIODS] + rows[-SHOWN_PERIODS:]
        notes.append(f"{len(rows)}회차 중 처음과 마지막 {SHOWN_PERIODS}회차만 보여 줍니다 (합계는 전체 회차) "
                     f"/ periods {SHOWN_PERIODS + 1}–{len(rows) - SHOWN_PERIODS} are left out; the "
                     "totals count every period.")
    return {"result": {"method": METHOD_NAMES[method], "first_payment": rows[0]["payment"],
                       "last_payment": rows[-1]["payment"], "total_interest": total_interest,
                       "total_payment": principal + total_interest, "periods": shown},
            "articles": [f"{CONSUMER_ACT} 제19조"],
            "notes": [*notes, "월 이자 = 잔액 × 연이율 ÷ 12, 원 미만 버림; 원리금균등 납입액은 원 단위 "
                      "반올림; 마지막 회차가 남은 원금을 모두 상환 (반올림 차이 흡수).",
                      "실제 대출은 일 단위(잔액 × 연이율 × 일수 ÷ 365)로 이자를 계산하는 경우가 많아 "
                      "몇 원씩 다를 수 있습니다. 상환방법과 금리는 금융회사가 설명해야 하는 사항입니다 "
                      f"({CONSUMER_ACT} 제19조)."]}


# --- the legal maximum interest rate ------------------------------------------------------------

MAX_RATE = 20.0
"""연 20퍼센트: 이자제한법 제2조제1항의 최고이자율에 관한 규정, and 대부업법 시행령 제5조제2항."""
VOID_RATE = 60.0
"""연 100분의 60: above it the whole 대부계약 is void (대부업법 시행령 제5조의2제1항)."""


@validate_call
def max_interest_check(
    principal: Annotated[int, Field(gt=0, le=10**11, description="빌린 원금 (원)")],
    annual_rate: Annotated[float | None, Field(
        ge=0, le=10000, description="약정 이자율 (%); rate_unit이 month면 월 이자율")] = None,
    interest: Annotated[int | None, Field(
        ge=0, le=MAX_WON, description="기간 동안 약정한 이자 총액 (원); annual_rate 대신")] = None,
    days: Annotated[int, Field(ge=1, le=36500, description="빌린 기간 (일)")] = 365,
    rate_unit: Annotated[Literal["year", "month"], Field(
        description="annual_rate가 연 이율이면 year, 월 이율이면 month")] = "year",
    lender: Annotated[Literal["private", "registered"], Field(
        description="private: 개인 간 금전대차 (이자제한법), registered: 등록 대부업자 (대부업법)")
    ] = "private",
    interest_paid: Annotated[int | None, Field(
        ge=0, le=MAX_WON, description="이미 지급한 이자 (원), 초과분의 원본 충당 계산용")] = None,
) -> dict[str, Any]:
    """법정 최고이자율 검사: 연 20% (이자제한법 제2조제1항과 최고이자율 규정, 대부업자는 대부업법
    시행령 제5조제2항)를 넘는지, 한도 이자와 초과액, 초과 지급분의 원본 충당·반환 (제2조제3항·제4항)."""
    if (annual_rate is None) == (interest is None):
        raise ValueError("annual_rate와 interest 중 하나만 주세요 / give exactly one of "
                         "annual_rate or interest")
    if annual_rate is not None:
        yearly = annual_rate * 12 if rate_unit == "month" else annual_rate
        charged = principal * yearly / 100 * days / 365
    else:
        charged = float(interest or 0)
        yearly = charged / principal * 365 / days * 100
    yearly = round(yearly, 2)
    limit = _floor_won(principal * MAX_RATE / 100 * days / 365)
    excess = max(0, _round_won(charged) - limit)
    notes: list[str] = []
    if lender == "registered":
        articles = [f"{LENDING_DECREE} 제5조"]
        notes.append("등록 대부업자의 최고이자율 연 20%는 대부업법 제8조제1항의 '대통령령으로 정하는 율'"
                     "(시행령 제5조제2항)이며, 월·일 기준이면 단리로 환산합니다 (제5조제3항). "
                     "대부업법 자체는 이 팩의 법령 데이터에 없습니다.")
        void = yearly > VOID_RATE
        if void:
            articles.append(f"{LENDING_DECREE} 제5조의2")
            notes.append("연 60%를 넘는 이자율은 대부계약 전부가 무효가 되는 율입니다 (시행령 제5조의2, "
                         "법 제8조의2제1항제4호).")
    else:
        articles = [f"{INTEREST_ACT} 제2조", MAX_RATE_DECREE]
        void = False
        if principal < 100_000:
            return {"result": {"applies": False, "annual_rate": yearly, "limit_rate": MAX_RATE,
                               "legal_max_interest": None, "interest": _round_won(charged),
                               "excess": 0, "over_limit": False, "void_entirely": False},
                    "articles": [f"{INTEREST_ACT} 제2조"],
                    "notes": ["대차원금이 10만원 미만이면 최고이자율(제2조제1항)을 적용하지 않습니다 "
                              "(제2조제5항)."]}
        notes.append("월·일 단위 약정은 연 20%를 단리로 환산해 비교했습니다 (이자제한법에는 환산 규정이 "
                     "없어 대부업법 시행령 제5조제3항과 같은 방법을 썼습니다).")
        notes.append("선이자·수수료·사례금 등 명칭과 관계없이 대차와 관련해 받은 것은 이자로 봅니다 "
                     "(제3조, 제4조). 등록 금융회사·대부업자에는 이자제한법이 적용되지 않습니다 (제7조).")
    result: dict[str, Any] = {
        "applies": True, "annual_rate": yearly, "limit_rate": MAX_RATE,
        "legal_max_interest": limit, "interest": _round_won(charged), "excess": excess,
        "over_limit": excess > 0, "void_entirely": void}
    if excess and lender == "private":
        notes.append("최고이자율을 초과하는 부분은 무효입니다 (제2조제3항). 초과 이자를 받으면 1년 이하의 "
                     "징역 또는 1천만원 이하의 벌금 (제8조).")
        articles.append(f"{INTEREST_ACT} 제8조")
    if interest_paid is not None:
        paid_excess = max(0, interest_paid - limit)
        applied = min(paid_excess, principal)
        result.update({"paid_excess": paid_excess, "principal_after": principal - applied,
                       "refundable": paid_excess - applied})
        if lender == "private" and paid_excess:
            notes.append("임의로 지급한 초과 이자는 원본에 충당되고, 원본이 소멸하면 그 반환을 청구할 수 "
                         "있습니다 (제2조제4항).")
    return {"result": result, "articles": articles, "notes": notes}


# --- deposits and savings -----------------------------------------------------------------------

TAX = {
    # kind: (소득세 or 원천징수 rate %, 지방소득세 rate % of the interest, 농어촌특별세 % , label)
    "general": (14.0, 1.4, 0.0, "일반과세 15.4% (이자소득세 14% + 지방소득세 1.4%)"),
    "preferential": (9.0, 0.0, 0.5, "세금우대 9.5% (이자소득세 9% + 농어촌특별세 0.5%)"),
    "tax_free": (0.0, 0.0, 0.0, "비과세 (비과세종합저축 등)"),
}


@validate_call
def deposit_interest(
    amount: Annotated[int, Field(gt=0, le=10**11, description="예금이면 맡기는 원금, 적금이면 "
                                                             "매월 납입액 (원)")],
    annual_rate: Annotated[float, Field(ge=0, le=100, description="연 이율 (%)")],
    months: Annotated[int, Field(ge=1, le=600, description="예치·납입 기간 (개월)")],
    kind: Annotated[Literal["deposit", "savings"], Field(
        description="deposit 정기예금 (목돈), savings 정기적금 (매월 같은 금액)")] = "deposit",
    tax: Annotated[Literal["general", "preferential", "tax_free"], Field(
        description="general 일반과세 15.4%, preferential 세금우대 9.5%, tax_free 비과세")
    ] = "general",
) -> dict[str, Any]:
    """예금·적금의 세전·세후 이자 (단리): 정기예금 = 원금 × 연이율 × 개월 ÷ 12, 정기적금 = 매월 납입액이
    남은 개월 수만큼 이자를 받음 (납입액 × 연이율 ÷ 12 × n(n+1)/2). 이자소득세 15.4%
    (14% + 지방소득세 1.4%), 세금우대 9.5%, 비과세 선택."""
    r = annual_rate / 100
    if kind == "deposit":
        interest = _floor_won(amount * r * months / 12)
        paid_in = amount
        basis = "원금 × 연이율 × 기간(개월) ÷ 12"
    else:
        month_count = months * (months + 1) // 2  # deposit k earns for (months - k + 1) months
        interest = _floor_won(amount * r / 12 * month_count)
        paid_in = amount * months
        basis = f"월 납입액 × 연이율 ÷ 12 × (1+2+…+{months} = {month_count})개월"
    income_rate, local_rate, rural_rate, label = TAX[tax]
    income_tax = _floor_ten(interest * income_rate / 100)
    local_tax = _floor_ten(income_tax * 0.1) if local_rate else 0
    rural_tax = _floor_ten(interest * rural_rate / 100)
    total_tax = income_tax + local_tax + rural_tax
    articles = {"general": ["소득세법 제129조", "지방세법 제103조의13"],
                "preferential": ["조세특례제한법 제89조"],
                "tax_free": ["조세특례제한법 제88조의2"]}[tax]
    return {"result": {"kind": "정기예금" if kind == "deposit" else "정기적금", "paid_in": paid_in,
                       "interest": interest, "income_tax": income_tax, "local_tax": local_tax,
                       "rural_tax": rural_tax, "tax": total_tax,
                       "after_tax_interest": interest - total_tax,
                       "maturity_amount": paid_in + interest - total_tax, "tax_rule": label,
                       "basis": basis},
            "articles": articles,
            "notes": ["세율 조문(소득세법·지방세법·조세특례제한법·농어촌특별세법)은 이 팩의 법령 데이터에 "
                      "없습니다. 세율이 바뀌면 이 도구의 TAX 표를 고치세요.",
                      "세금은 10원 미만 버림; 지방소득세는 이자소득세의 10%.",
                      "예금자보호 한도는 예금자보호법 제32조제2항 (1억원 이상의 범위에서 대통령령으로 "
                      "정하는 금액).",
                      "단리 기준입니다. 복리 상품, 우대금리, 중도해지이율은 상품 약관을 따르세요."]}


# --- early repayment ----------------------------------------------------------------------------


@validate_call
def early_repayment_fee(
    amount: Annotated[int, Field(gt=0, le=10**11, description="중도상환하는 금액 (원)")],
    fee_rate: Annotated[float, Field(ge=0, le=10, description="중도상환수수료율 (%), 예: 1.2")],
    remaining_days: Annotated[int | None, Field(
        ge=0, le=36_600, description="상환일부터 만기까지 남은 일수")] = None,
    loan_days: Annotated[int | None, Field(ge=1, le=36_600, description="대출 기간 전체 일수")
                         ] = None,
    contract_date: Annotated[str | None, Field(
        max_length=40, description="대출계약 성립일 YYYY-MM-DD (3년 경과 여부와 일수 계산)")] = None,
    repayment_date: Annotated[str | None, Field(max_length=40, description="상환일 YYYY-MM-DD")
                              ] = None,
    maturity_date: Annotated[str | None, Field(max_length=40, description="만기일 YYYY-MM-DD")
                             ] = None,
) -> dict[str, Any]:
    """중도상환수수료 = 상환금액 × 수수료율 × 잔존일수 ÷ 대출기간 (원 미만 버림). 금융소비자보호법
    제20조제1항제4호나목: 대출계약이 성립한 날부터 3년 이내에 상환하는 경우 등이 아니면 중도상환수수료를
    부과할 수 없다."""
    articles = [f"{CONSUMER_ACT} 제20조"]
    notes = ["금융소비자보호법 제20조제1항제4호나목: 1) 대출계약이 성립한 날부터 3년 이내에 상환하는 경우, "
             "2) 다른 법령에 따라 허용되는 경우, 3) 대통령령으로 정하는 경우를 제외하고 중도상환수수료를 "
             "부과하는 것은 불공정영업행위입니다."]
    dates = {k: parse_date(v, f"{k}_date") for k, v in (
        ("contract", contract_date), ("repayment", repayment_date), ("maturity", maturity_date))
        if v}
    order = [k for k in ("contract", "repayment", "maturity") if k in dates]
    if any(dates[a] > dates[b] for a, b in pairwise(order)):
        raise ValueError("날짜 순서가 맞지 않습니다: 계약일 ≤ 상환일 ≤ 만기일 / the dates must be in "
                         "order: contract_date ≤ repayment_date ≤ maturity_date")
    if remaining_days is None and {"repayment", "maturity"} <= set(dates):
        remaining_days = (dates["maturity"] - dates["repayment"]).days
    if loan_days is None and {"contract", "maturity"} <= set(dates):
        loan_days = (dates["maturity"] - dates["contract"]).days
    if loan_days == 0:
        raise ValueError("만기일이 계약일과 같습니다 / maturity_date is the contract_date: a loan "
                         "of 0 days")
    if remaining_days is None or loan_days is None:
        raise ValueError("잔존일수와 대출기간(또는 계약일·상환일·만기일)을 주세요 / give remaining_days "
                         "and loan_days, or contract_date, repayment_date and maturity_date")
    if remaining_days > loan_days:
        raise ValueError("잔존일수가 대출기간보다 깁니다 / remaining_days exceeds loan_days")
    result: dict[str, Any] = {"remaining_days": remaining_days, "loan_days": loan_days}
    if {"contract", "repayment"} <= set(dates):
        period = legal_period_end(contract_date or "", 3, "year")["result"]
        three_years_end = dt.date.fromisoformat(period["end"])
        result["three_years_end"] = period["end"]
        articles += ["민법 제157조", "민법 제160조"]
        if dates["repayment"] > three_years_end:
            result.update({"fee": 0, "allowed": False,
                           "reason": "대출계약 성립일부터 3년이 지난 뒤의 상환"})
            notes.append("3년 기간은 민법의 기간 계산(초일 불산입, 역에 따라)으로 계산했습니다.")
            return {"result": result, "articles": articles, "notes": notes}
    fee = _floor_won(amount * fee_rate / 100 * remaining_days / loan_days)
    result.update({"fee": fee, "allowed": True,
                   "reason": "상환금액 × 수수료율 × 잔존일수 ÷ 대출기간"})
    if "contract" not in dates:
        notes.append("계약일을 주지 않아 3년 경과 여부는 확인하지 않았습니다.")
    return {"result": result, "articles": articles, "notes": notes}


# --- DSR ---------------------------------------------------------------------------------------


@validate_call
def dsr(
    annual_income: Annotated[int, Field(gt=0, le=MAX_WON, description="연 소득 (원)")],
    principal: Annotated[int, Field(ge=0, le=10**11, description="새로 받을 대출 원금 (원)")],
    annual_rate: Annotated[float, Field(ge=0, le=100, description="새 대출 연 이자율 (%)")],
    months: Annotated[int, Field(ge=1, le=600, description="새 대출 기간 (개월)")],
    method: Annotated[Method, Field(
        description="equal_payment 원리금균등, equal_principal 원금균등, bullet 만기일시")
    ] = "equal_payment",
    existing_annual_repayment: Annotated[int, Field(
        ge=0, le=MAX_WON, description="기존 대출의 연간 원리금 상환액 합계 (원)")] = 0,
) -> dict[str, Any]:
    """예시용 DSR(총부채원리금상환비율) = (기존 대출 연간 원리금 + 새 대출의 연평균 원리금) ÷ 연 소득
    × 100. 새 대출의 연평균 원리금 = 상환 스케줄의 총 납입액 × 12 ÷ 기간(개월). 가정은 결과에 적는다."""
    rows = _schedule(principal, annual_rate, months, method) if principal else []
    total = sum(row["payment"] for row in rows)
    new_annual = _round_won(total * 12 / months) if rows else 0
    ratio = round((existing_annual_repayment + new_annual) / annual_income * 100, 2)
    assumptions = [
        "새 대출의 연간 원리금 = 상환 스케줄(repayment_schedule과 같은 반올림)의 총 납입액을 "
        "연 단위로 평균한 값 (총 납입액 × 12 ÷ 기간 개월)",
        "기존 대출의 연간 원리금은 주어진 값을 그대로 사용",
        "스트레스 금리, 대출 종류별 만기 간주(예: 신용대출·만기일시 상환의 원금 분할 간주), "
        "소득 인정 방식 등 감독규정의 세부 기준은 반영하지 않음",
        "DSR 규제 비율(예: 은행권 40%)은 은행업감독규정 등 감독규정에 있으며 이 팩의 법령 데이터에 없음",
    ]
    return {"result": {"dsr_percent": ratio, "new_loan_annual_repayment": new_annual,
                       "existing_annual_repayment": existing_annual_repayment,
                       "annual_income": annual_income, "method": METHOD_NAMES[method],
                       "assumptions": assumptions},
            "articles": [f"{CONSUMER_ACT} 제17조"],
            "notes": ["예시용 계산입니다. 대출성 상품을 권유할 때 금융회사는 재산상황, 신용 및 변제계획을 "
                      f"파악해야 합니다 ({CONSUMER_ACT} 제17조제2항제3호)."]}


# --- voice phishing -----------------------------------------------------------------------------


@validate_call
def voice_phishing(
    transfer_date: Annotated[str | None, Field(
        max_length=40, description="사기범 계좌로 송금·이체한 날 YYYY-MM-DD")] = None,
    amount: Annotated[int | None, Field(ge=0, le=MAX_WON, description="송금한 금액 (원)")] = None,
    reported: Annotated[bool, Field(
        description="이미 금융회사에 피해구제(지급정지)를 신청했으면 true")] = False,
    notice_date: Annotated[str | None, Field(
        max_length=40, description="금융감독원의 채권소멸절차 개시 공고일 YYYY-MM-DD (알면)")] = None,
    fraud_account_balance: Annotated[int | None, Field(
        ge=0, le=MAX_WON, description="지급정지된 사기이용계좌의 잔액 (원, 알면)")] = None,
    payment_stop_notice_date: Annotated[str | None, Field(
        max_length=40, description="지급정지 통지를 받은 날 YYYY-MM-DD (알면)")] = None,
) -> dict[str, Any]:
    """보이스피싱(전기통신금융사기) 피해 구제 안내: 상황(송금일, 금액, 신고 여부, 채권소멸절차 공고일 …)에
    따라 전기통신금융사기 피해환급법이 정한 구제 수단과 기한 — 지급정지·피해구제 신청(제3조·제4조),
    공고 후 2개월 내 신청(제6조), 채권 소멸(제9조), 14일 내 환급금 결정(제10조) — 을 조문과 함께 나열."""
    steps: list[dict[str, Any]] = []
    articles: list[str] = []
    result: dict[str, Any] = {}

    def step(what: str, deadline: str, article: str, **extra: Any) -> None:
        steps.append({"step": what, "deadline": deadline, "article": article, **extra})
        for a in article.split(", "):
            label = f"{PHISHING_ACT} {a}"
            if label not in articles:
                articles.append(label)

    if not reported:
        step("피해자산을 보낸 계좌의 금융회사나 사기이용계좌의 금융회사에 지급정지 등 피해구제를 신청 "
             "(경찰청 전기통신금융사기 통합신고대응센터 112에서도 지급정지 요청 가능)", "즉시",
             "제3조, 제4조, 제2조의7")
    else:
        step("금융회사는 피해구제 신청을 받으면 사기이용계좌 전부를 즉시 지급정지하고 통지합니다",
             "즉시 (금융회사)", "제4조")
    step("지급정지된 사기이용계좌의 채권은 압류·가압류·소송 제기 등이 금지됩니다",
         "지급정지 종료 전까지", "제4조의2")
    if fraud_account_balance is not None and fraud_account_balance <= 30_000:
        deadline = "지급정지 통지를 받은 날부터 30일 이내"
        if payment_stop_notice_date:
            end = legal_period_end(payment_stop_notice_date, 30, "day")["result"]["end"]
            deadline = end
            result["small_balance_request_deadline"] = end
        step("사기이용계좌 잔액이 3만원 이하(대통령령으로 정하는 금액)이면 채권소멸절차가 자동으로 "
             "개시되지 않으므로, 피해자가 금융회사에 채권소멸절차 개시를 요청", deadline,
             "제5조")
    if notice_date:
        relief = legal_period_end(notice_date, 2, "month")["result"]["end"]
        result["relief_deadline"] = relief
        result["claims_extinguished_after"] = relief
        refund = legal_period_end(relief, 14, "day")["result"]["end"]
        result["refund_decision_by"] = refund
        if not reported:
            step("공고 전에 피해구제를 신청하지 못했다면 공고일부터 2개월 이내에 금융회사에 피해구제 신청",
                 relief, "제6조")
        step("명의인의 채권은 최초 공고일부터 2개월이 지나면 소멸", relief, "제9조")
        step("금융감독원이 채권 소멸일부터 14일 이내에 피해환급금(액수)을 결정·통지하고, 금융회사가 "
             "지체 없이 지급", refund, "제10조")
    else:
        step("금융회사의 요청으로 금융감독원이 채권소멸절차 개시를 공고하고, 공고 전 신청하지 못한 "
             "피해자는 공고일부터 2개월 이내에 신청할 수 있음", "공고일부터 2개월", "제5조, 제6조")
        step("최초 공고일부터 2개월이 지나면 명의인의 채권이 소멸하고, 그날부터 14일 이내에 "
             "피해환급금이 결정됨", "공고일부터 2개월 + 14일", "제9조, 제10조")
    step("피해자가 여럿이고 총피해액이 소멸채권보다 크면 피해액 비율로 나누어 환급",
         "환급금 결정 시", "제10조")
    step("환급받은 한도에서 손해배상청구권 등은 소멸하며, 나머지는 민사로 청구할 수 있음",
         "환급 후", "제12조")
    if transfer_date:
        result["transfer_date"] = parse_date(transfer_date, "transfer_date").isoformat()
    if amount is not None:
        result["amount"] = amount
    result["steps"] = steps
    notes = ["기한은 민법의 기간 계산(초일 불산입, 말일이 토요일·공휴일이면 다음 날)으로 계산했습니다 "
             "(law.legal_period_end).",
             "피해환급금은 사기이용계좌에 남은 돈(소멸채권)에서 지급되므로 송금액 전부가 돌아온다는 "
             "보장은 없습니다 (제10조제2항).",
             "송금한 때부터 세는 법정 기한은 없지만, 사기범이 돈을 빼 가기 전에 지급정지해야 남은 돈이 "
             "있습니다: 바로 신고하세요."]
    return {"result": result, "articles": articles, "notes": notes}


TOOLS: list[Callable[..., dict[str, Any]]] = [
    repayment_schedule, max_interest_check, deposit_interest, early_repayment_fee, dsr,
    voice_phishing]
"""Every tool of the pack, in the order an assistant offers them."""
