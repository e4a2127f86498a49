"""The law pack's verified tools: typed functions, each returning its result and the articles
it applied, ``{"result": ..., "articles": ["근로기준법 제60조"], "notes": [...]}``.

Each rule is the statute's own wording turned into arithmetic; tests/test_law_pack.py checks
every tool against worked examples computed by hand from the statute text. What a tool cannot
decide (an exception that needs a judgment, a rate set by decree rather than statute) is said
in ``notes`` rather than guessed.
"""

import calendar
import datetime as dt
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, validate_call

from jaju.packs.statutes import Statute, article_lookup
from jaju.packs.statutes import statutes as read_statutes

DATA = Path(__file__).parent / "data"
STATUTES = DATA / "statutes"

LABOUR = "근로기준법"
RETIREMENT = "근로자퇴직급여 보장법"
MINIMUM_WAGE = "최저임금법"
CIVIL = "민법"


MAX_WON = 10**12
"""Amounts above 1조 원 are refused: no wage or loan the tools are for comes near, and a bound
keeps float arithmetic finite (1e308 won would overflow to infinity)."""
MAX_HOURS = 10_000
"""Hours worked in whatever period the caller means: more than a year's 8,784."""


def parse_date(value: str, name: str) -> dt.date:
    """`value` as YYYY-MM-DD, or a ValueError naming `name` in Korean and English (what
    `date.fromisoformat` says — "day is out of range for month" — names neither)."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name}: 날짜는 YYYY-MM-DD로 주세요 (있는 날짜로) / give {name} as a real "
                         f"date YYYY-MM-DD, not {value[:40]!r}") from None


def _won(amount: float) -> int:
    """Round to the won, halves up (amounts are never negative here)."""
    return int(amount + 0.5)


# --- periods (민법 제157조, 제159조, 제160조, 제161조) -------------------------------------------


@cache
def _holidays(year: int) -> dict[dt.date, str]:
    """Korean public holidays of `year` (lunar and substitute holidays included), by name."""
    import holidays

    days = holidays.country_holidays("KR", years=year, language="ko")
    return {day: str(name) for day, name in days.items()}


def non_working_reason(day: dt.date) -> str | None:
    """Why `day` ends no period under 민법 제161조 (토요일, 일요일, a holiday), or None."""
    if day.weekday() == 5:
        return "토요일"
    name = _holidays(day.year).get(day)
    if name:
        return name
    if day.weekday() == 6:
        return "일요일"  # a 공휴일 (관공서의 공휴일에 관한 규정 제2조제1호)
    return None


def _add_months(day: dt.date, months: int) -> dt.date | None:
    """The same day `months` later, or None when that month has no such day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if day.day > calendar.monthrange(year, month + 1)[1]:
        return None
    return dt.date(year, month + 1, day.day)


@validate_call
def legal_period_end(
    start: Annotated[str, Field(max_length=40,
                                description="기간의 기준일 (통지·사건이 있은 날), YYYY-MM-DD")],
    amount: Annotated[int, Field(ge=1, le=1200, description="기간의 길이")],
    unit: Annotated[Literal["day", "week", "month", "year"],
                    Field(description="일 day, 주 week, 월 month, 연 year")] = "day",
    starts_at_midnight: Annotated[bool, Field(
        description="기간이 그날 오전 0시부터 시작하면 true (초일 산입)")] = False,
) -> dict[str, Any]:
    """민법에 따른 기간의 만료일: 초일 불산입(제157조), 말일의 종료로 만료(제159조), 주·월·연은
    역에 따라(제160조), 말일이 토요일 또는 공휴일이면 그 다음 날 만료(제161조, 음력·대체공휴일 포함)."""
    day = parse_date(start, "start")
    try:
        return _period_end(day, amount, unit, starts_at_midnight)
    except (OverflowError, ValueError):  # date arithmetic past 9999-12-31
        raise ValueError("기간의 끝이 달력 범위(9999년)를 벗어납니다 / the period would end after "
                         "the year 9999") from None


def _period_end(day: dt.date, amount: int, unit: str, starts_at_midnight: bool
                ) -> dict[str, Any]:
    articles = [f"{CIVIL} 제157조", f"{CIVIL} 제159조"]
    first = day if starts_at_midnight else day + dt.timedelta(days=1)
    notes = ["초일 산입: 오전 0시부터 시작하는 기간" if starts_at_midnight
             else "초일 불산입: 기준일 다음 날부터 계산"]
    if unit == "day":
        end = first + dt.timedelta(days=amount - 1)
    elif unit == "week":
        articles.append(f"{CIVIL} 제160조")
        end = first + dt.timedelta(days=7 * amount - 1)
    else:
        articles.append(f"{CIVIL} 제160조")
        months = amount * (12 if unit == "year" else 1)
        same_day = _add_months(first, months)
        if same_day is None:  # 제160조제3항: no such day in the last month -> its last day
            index = first.year * 12 + first.month - 1 + months
            year, month = divmod(index, 12)
            end = dt.date(year, month + 1, calendar.monthrange(year, month + 1)[1])
            notes.append("최종 월에 해당일이 없어 그 월의 말일로 만료 (제160조제3항)")
        else:  # 제160조제2항: the day before the day corresponding to the first day
            end = same_day - dt.timedelta(days=1)
    nominal = end
    moved = []
    while (reason := non_working_reason(end)) is not None:
        moved.append({"date": end.isoformat(), "reason": reason})
        end += dt.timedelta(days=1)
    if moved:
        articles.append(f"{CIVIL} 제161조")
        notes.append("말일이 토요일 또는 공휴일이어서 그 다음 날로 만료 (제161조)")
    return {"result": {"first_day": first.isoformat(), "nominal_end": nominal.isoformat(),
                       "end": end.isoformat(), "skipped": moved},
            "articles": articles, "notes": notes}


# --- labour ------------------------------------------------------------------------------------


@validate_call
def dismissal_notice_pay(
    daily_ordinary_wage: Annotated[float, Field(ge=0, le=MAX_WON, description="1일 통상임금 (원)")],
    notice_days: Annotated[int, Field(ge=0, description="해고일 며칠 전에 예고했는지 (안 했으면 0)")] = 0,
    months_of_service: Annotated[int | None, Field(
        ge=0, description="계속 근로한 개월 수 (모르면 생략)")] = None,
) -> dict[str, Any]:
    """해고예고수당 (근로기준법 제26조): 30일 전에 예고하지 않은 해고에는 30일분 이상의 통상임금.
    계속 근로 3개월 미만이면 적용되지 않는다 (제26조제1호)."""
    articles = [f"{LABOUR} 제26조"]
    notes = ["천재ㆍ사변 등으로 사업 계속이 불가능하거나 근로자의 고의로 막대한 지장·손해를 "
             "끼친 경우(제26조제2호·제3호)는 사실 판단이 필요해 계산하지 않았습니다."]
    if months_of_service is not None and months_of_service < 3:
        return {"result": {"amount": 0, "days": 0,
                           "reason": "계속 근로한 기간이 3개월 미만 (제26조제1호)"},
                "articles": articles, "notes": notes}
    if notice_days >= 30:
        return {"result": {"amount": 0, "days": 0, "reason": "30일 전에 예고함"},
                "articles": articles, "notes": notes}
    return {"result": {"amount": _won(30 * daily_ordinary_wage), "days": 30,
                       "reason": "30일 전에 예고하지 않음: 30일분 이상의 통상임금"},
            "articles": articles, "notes": notes}


@validate_call
def annual_leave_days(
    years_of_service: Annotated[int, Field(ge=0, le=60, description="계속 근로한 햇수 (만)")],
    attendance_rate: Annotated[float, Field(
        ge=0, le=1, description="직전 1년간 출근율 (0.8 = 80%)")] = 1.0,
    months_fully_attended: Annotated[int, Field(
        ge=0, le=12, description="1년 미만이거나 출근율 80% 미만일 때 개근한 달 수")] = 0,
) -> dict[str, Any]:
    """연차 유급휴가 일수 (근로기준법 제60조): 1년간 80% 이상 출근하면 15일, 3년 이상이면 최초
    1년을 넘는 매 2년에 1일 가산(최대 25일); 1년 미만 또는 80% 미만이면 1개월 개근마다 1일."""
    articles = [f"{LABOUR} 제60조"]
    if years_of_service < 1:
        days = min(months_fully_attended, 11)
        basis = "계속 근로 1년 미만: 1개월 개근 시 1일 (제60조제2항, 최대 11일)"
    elif attendance_rate < 0.8:
        days = months_fully_attended
        basis = "1년간 출근율 80% 미만: 1개월 개근 시 1일 (제60조제2항)"
    else:
        extra = (years_of_service - 1) // 2
        days = min(15 + extra, 25)
        basis = ("80% 이상 출근: 15일 (제60조제1항)" + (
            f" + 계속 근로 {years_of_service}년, 최초 1년 초과 2년마다 1일 = {extra}일 "
            "(제60조제4항, 한도 25일)" if extra else ""))
    return {"result": {"days": days, "basis": basis}, "articles": articles,
            "notes": ["상시 5명 이상 사업장에 적용됩니다 (제11조, 시행령 별표 1)."]}


@validate_call
def overtime_pay(
    hourly_wage: Annotated[float, Field(ge=0, le=MAX_WON, description="시간급 통상임금 (원)")],
    overtime_hours: Annotated[float, Field(
        ge=0, le=MAX_HOURS, description="연장근로 시간 (휴일근로 제외)")] = 0,
    night_hours: Annotated[float, Field(
        ge=0, le=MAX_HOURS, description="오후 10시~오전 6시 사이에 일한 시간 (연장·휴일 여부와 무관)")
    ] = 0,
    holiday_hours: Annotated[float, Field(ge=0, le=MAX_HOURS, description="휴일근로 시간")] = 0,
) -> dict[str, Any]:
    """연장·야간·휴일 근로의 임금 (근로기준법 제56조): 연장 50%, 휴일 8시간 이내 50%·8시간 초과
    100%, 야간 50%를 통상임금에 가산. total = 연장·휴일 시간의 임금 + 모든 가산금."""
    w = hourly_wage
    premium_parts = {
        "overtime": 0.5 * w * overtime_hours,
        "holiday": 0.5 * w * min(holiday_hours, 8) + 1.0 * w * max(holiday_hours - 8, 0),
        "night": 0.5 * w * night_hours,
    }
    base = w * (overtime_hours + holiday_hours)
    premium = sum(premium_parts.values())
    return {"result": {"base": _won(base), "premium": _won(premium),
                       "premium_parts": {k: _won(v) for k, v in premium_parts.items()},
                       "total": _won(base + premium)},
            "articles": [f"{LABOUR} 제56조"],
            "notes": ["야간 시간의 기본 임금은 소정근로·연장·휴일 임금에 이미 들어 있어 가산분만 더합니다.",
                      "상시 4명 이하 사업장에는 가산임금 규정이 적용되지 않습니다 (제11조, 시행령 별표 1)."]}


@validate_call
def weekly_holiday_pay(
    weekly_hours: Annotated[float, Field(ge=0, le=68, description="1주 소정근로시간")],
    hourly_wage: Annotated[float, Field(ge=0, le=MAX_WON, description="시간급 통상임금 (원)")],
) -> dict[str, Any]:
    """주휴수당 (근로기준법 제55조): 1주 소정근로일을 개근하면 유급휴일 1일. 1주 소정근로시간이
    15시간 미만이면 적용하지 않고(제18조제3항), 단시간근로자는 소정근로시간에 비례(주 40시간 = 8시간)."""
    articles = [f"{LABOUR} 제55조", f"{LABOUR} 제18조"]
    if weekly_hours < 15:
        return {"result": {"amount": 0, "hours": 0,
                           "reason": "4주 평균 1주 소정근로시간 15시간 미만 (제18조제3항)"},
                "articles": articles, "notes": []}
    hours = min(weekly_hours, 40) / 40 * 8
    return {"result": {"amount": _won(hours * hourly_wage), "hours": hours,
                       "reason": "1주 소정근로일 개근 시 유급휴일 1일분"},
            "articles": articles,
            "notes": ["비례 계산(주 소정근로시간 ÷ 40 × 8시간)은 근로기준법 시행령 제30조·별표 2에 "
                      "따른 것으로, 이 팩의 법령 데이터에는 시행령이 없습니다."]}


@validate_call
def severance_pay(
    service_days: Annotated[int, Field(ge=0, le=36_600, description="계속근로기간 (일)")],
    average_daily_wage: Annotated[float | None, Field(
        ge=0, le=MAX_WON, description="1일 평균임금 (원); 없으면 최근 3개월 임금과 일수로 계산")
    ] = None,
    wages_last_3_months: Annotated[float | None, Field(
        ge=0, le=MAX_WON, description="퇴직 전 3개월 동안의 임금 총액 (원)")] = None,
    days_last_3_months: Annotated[int | None, Field(
        ge=1, le=92, description="그 3개월의 총일수")] = None,
    daily_ordinary_wage: Annotated[float | None, Field(
        ge=0, le=MAX_WON, description="1일 통상임금 (평균임금보다 많으면 통상임금으로)")] = None,
    weekly_hours: Annotated[float, Field(ge=0, le=168, description="4주 평균 1주 소정근로시간")] = 40,
) -> dict[str, Any]:
    """퇴직금 (근로자퇴직급여 보장법 제8조): 계속근로기간 1년에 대하여 30일분의 평균임금
    = 30 × 1일 평균임금 × 재직일수 ÷ 365. 1년 미만 또는 주 15시간 미만이면 없음 (제4조제1항)."""
    articles = [f"{RETIREMENT} 제8조", f"{RETIREMENT} 제4조"]
    notes = []
    if average_daily_wage is None:
        if wages_last_3_months is None or days_last_3_months is None:
            raise ValueError("평균임금이나 최근 3개월 임금과 일수를 주세요 / give average_daily_wage "
                             "or wages_last_3_months and days_last_3_months")
        average_daily_wage = wages_last_3_months / days_last_3_months
        articles.append(f"{LABOUR} 제2조")
        notes.append("평균임금 = 산정 사유 발생일 이전 3개월 임금 총액 ÷ 그 기간의 총일수 "
                     "(근로기준법 제2조제1항제6호)")
    average = average_daily_wage
    if daily_ordinary_wage is not None and average < daily_ordinary_wage:
        average = daily_ordinary_wage
        if f"{LABOUR} 제2조" not in articles:
            articles.append(f"{LABOUR} 제2조")
        notes.append("평균임금이 통상임금보다 적어 통상임금을 평균임금으로 함 (근로기준법 제2조제2항)")
    if service_days < 365 or weekly_hours < 15:
        reason = ("계속근로기간 1년 미만" if service_days < 365
                  else "4주 평균 1주 소정근로시간 15시간 미만")
        return {"result": {"amount": 0, "average_daily_wage": round(average, 2),
                           "reason": reason + " (제4조제1항 단서)"},
                "articles": articles, "notes": notes}
    amount = 30 * average * service_days / 365
    return {"result": {"amount": _won(amount), "average_daily_wage": round(average, 2),
                       "reason": "30일분 평균임금 × 재직일수 ÷ 365"},
            "articles": articles, "notes": notes}


@dataclass(frozen=True)
class MinimumWage:
    year: int
    hourly: int
    source: str


def minimum_wage_rates(path: Path | None = None) -> dict[int, MinimumWage]:
    """The per-year rate table (data/minimum_wage.toml; the operator keeps it current)."""
    raw = tomllib.loads((path or DATA / "minimum_wage.toml").read_text(encoding="utf-8"))
    return {int(y): MinimumWage(int(y), int(v["hourly"]), str(v.get("source", "")))
            for y, v in raw.get("rates", {}).items()}


@validate_call
def minimum_wage_check(
    hourly_wage: Annotated[float, Field(ge=0, le=MAX_WON, description="받는 시간급 (원)")],
    year: Annotated[int, Field(ge=2000, le=2100, description="적용 연도")],
    probation: Annotated[bool, Field(
        description="1년 이상 계약의 수습 시작 3개월 이내 (단순노무직 제외)")] = False,
) -> dict[str, Any]:
    """최저임금 위반 여부 (최저임금법 제6조): 그해 고시된 시간급 최저임금액 이상인지. 수습 3개월
    이내(1년 이상 계약, 단순노무 제외)는 최저임금액과 다른 금액을 정할 수 있다 (제5조제2항)."""
    rates = minimum_wage_rates()
    if year not in rates:
        raise ValueError(f"{year}년 최저임금이 표에 없습니다 / no rate for {year} in "
                         f"minimum_wage.toml (years: {', '.join(map(str, sorted(rates)))})")
    rate = rates[year]
    articles = [f"{MINIMUM_WAGE} 제6조", f"{MINIMUM_WAGE} 제10조"]
    notes = [f"{year}년 최저임금 시간급 {rate.hourly:,}원 — {rate.source}"]
    minimum: float = rate.hourly
    if probation:
        articles.append(f"{MINIMUM_WAGE} 제5조")
        minimum = rate.hourly * 0.9
        notes.append("수습 감액 90%는 최저임금법 시행령 제3조에 따른 것으로, 이 팩의 법령 데이터에는 "
                     "시행령이 없습니다.")
    shortfall = max(0.0, minimum - hourly_wage)
    return {"result": {"ok": shortfall == 0, "minimum": round(minimum, 2),
                       "shortfall": round(shortfall, 2), "year": year},
            "articles": articles, "notes": notes}


# --- article lookup (jaju.packs.statutes, over this pack's statutes) ---------------------------

ALIASES = {
    "근로기준법": LABOUR, "근기법": LABOUR, "퇴직급여법": RETIREMENT, "근퇴법": RETIREMENT,
    "남녀고용평등법": "남녀고용평등과 일ㆍ가정 양립 지원에 관한 법률",
    "스토킹처벌법": "스토킹범죄의 처벌 등에 관한 법률", "스토킹방지법": "스토킹범죄의 처벌 등에 관한 법률",
    "주임법": "주택임대차보호법", "상임법": "상가건물 임대차보호법",
    "상가임대차법": "상가건물 임대차보호법",
    "전세사기특별법": "전세사기피해자 지원 및 주거안정에 관한 특별법",
    "자배법": "자동차손해배상 보장법", "자동차손해배상법": "자동차손해배상 보장법",
    "가족관계등록법": "가족관계의 등록 등에 관한 법률", "채권추심법": "채권의 공정한 추심에 관한 법률",
    "통신사기피해환급법": "전기통신금융사기 피해 방지 및 피해금 환급에 관한 특별법",
}
"""Short names people type, for `lookup_article`."""


def statutes() -> dict[str, Statute]:
    """The pack's statutes by `title_key` of their title."""
    return read_statutes(STATUTES)


@validate_call
def lookup_article(
    citation: Annotated[str, Field(max_length=200, description=(
        "조문 인용: '근로기준법 제26조', '형법 제347조제1항', '근로기준법 부칙 제2조'"))],
    law: Annotated[str | None, Field(max_length=100,
                                     description="인용에 법령명이 없을 때의 법령명")] = None,
) -> dict[str, Any]:
    """조문 찾기: 인용("근로기준법 제26조", "형법 제347조제1항", "부칙 제2조")으로 이 팩의 법령에서
    조문(또는 항·호) 본문을 돌려준다. 부칙은 가장 최근 개정의 부칙에서 찾는다 (부칙 <제N호>로 지정 가능)."""
    return article_lookup(citation, law, STATUTES, ALIASES)


TOOLS: list[Callable[..., dict[str, Any]]] = [
    legal_period_end, dismissal_notice_pay, annual_leave_days, overtime_pay, weekly_holiday_pay,
    severance_pay, minimum_wage_check, lookup_article]
"""Every tool of the pack, in the order an assistant offers them."""
