"""PII detection per type (valid, invalid, look-alikes), masking, pseudonymisation through a
real upstream, streaming splits, and linear time on adversarial input; real-text variants
(full-width, dash and dot variants, zero-width characters, spacing), by example and generated
with hypothesis."""

from __future__ import annotations

import json
import time

import openai
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jaju.guards.actions import PLACEHOLDER, PiiBlocked, PiiPolicy, StreamFilter, Vault, apply, mask
from jaju.guards.pii import detect


def types(text):
    return [(f.type, f.text) for f in detect(text)]


@pytest.mark.parametrize("text, expected", [
    ("주민등록번호 880101-1234568 입니다", [("RRN", "880101-1234568")]),
    ("고객 주민번호는 900101-2345677이고", [("RRN", "900101-2345677")]),  # particle glued on
    ("신규 번호 201005-3987650 (2020년 10월 이후 발급: 끝자리 무작위)", [("RRN", "201005-3987650")]),
    ("외국인등록번호 870113-5443191로 조회", [("ARN", "870113-5443191")]),
    ("법인등록번호 110111-0006240의 등기부등본", [("CRN", "110111-0006240")]),
    ("사업자등록번호 220-81-62517 업체", [("BRN", "220-81-62517")]),
    ("운전면허번호 11-55-270178-40", [("DRIVER", "11-55-270178-40")]),
    ("여권번호 M12345678 만료", [("PASSPORT", "M12345678")]),
    ("여권 M123A4567 신규 형식", [("PASSPORT", "M123A4567")]),
    ("카드 4111 1111 1111 1111 결제", [("CARD", "4111 1111 1111 1111")]),
    ("카드번호 5345-5640-5440-5590", [("CARD", "5345-5640-5440-5590")]),
    ("전화 010-1234-5678, 사무실 02-775-5227", [("PHONE", "010-1234-5678"),
                                              ("PHONE", "02-775-5227")]),
    ("해외에서는 +82-10-7161-3409로", [("PHONE", "+82-10-7161-3409")]),
    ("환불 계좌: 신한은행 110-123-456789 (예금주 홍길동)", [("ACCOUNT", "110-123-456789")]),
    ("메일 hong.gildong@company.co.kr 로", [("EMAIL", "hong.gildong@company.co.kr")]),
    ("접속 IP 192.168.10.23 차단", [("IP", "192.168.10.23")]),
])
def test_identifiers(text, expected):
    assert types(text) == expected


@pytest.mark.parametrize("text", [
    "회의는 2024-03-15 14:00에 열립니다.",
    "2024년 매출은 766128,000원으로 전년 대비 12% 증가했다.",
    "주문번호 2021151211430의 배송이 시작되었습니다.",
    "송장번호 2022101043422 조회 결과 배송 완료",
    "법률 제19234호로 개정되었다.",
    "사건번호 2023가합12345 판결",
    "우편번호 06236 강남구",
    "ISBN 978-89-6848-123-4 도서",
    "버전 3.12.1-2 패치를 배포했다. 버전 1.2.3.4 도 있다.",
    "주민번호 같은 모양 991332-1234567 (13월 32일은 없다)",
    "번호 4111 1111 1111 1112 (Luhn 불일치) 영수증 번호 1234 5678 9012 3456",
    "문서 관리 번호 110-123-456789",
    "모델 번호 123-45-67890 (검증 숫자 불일치)",
])
def test_hard_negatives(text):
    assert types(text) == [], text


def test_context_changes_confidence():
    with_context = detect("주민등록번호 900101-2345677")[0].confidence
    without = detect("번호 900101-2345677")[0].confidence
    assert with_context > without
    assert detect("주문번호 900101-2345677") == []  # negative context drops it below threshold


def test_findings_explain_themselves():
    f = detect("주민등록번호 880101-1234568")[0]
    assert "check digit" in f.reason and f.to_dict() == {
        "type": "RRN", "start": 7, "end": 21, "confidence": f.to_dict()["confidence"],
        "reason": f.reason}
    assert "text" not in f.to_dict()


def test_linear_time_on_adversarial_input():
    """Long runs that tempt backtracking: scanning stays proportional to the length."""
    def seconds(n):
        text = ("a" * n) + ("1-" * n) + ("." * n) + ("@a" * n) + ("0" * n)
        t0 = time.perf_counter()
        detect(text)
        return time.perf_counter() - t0

    small, big = seconds(5_000), seconds(50_000)
    assert big < 30 * max(small, 1e-3)  # 10x the input: far below the 100x of quadratic
    assert big < 5


def test_masks():
    rrn = detect("주민등록번호 880101-1234568")[0]
    assert mask(rrn) == "880101-1******"
    assert mask(detect("010-1234-5678")[0]) == "010-****-5678"
    assert mask(detect("카드 5345-5640-5440-5590")[0]) == "****-****-****-5590"
    assert mask(detect("a.b@naver.com")[0]) == "a***@naver.com"
    assert mask(detect("메일 hong＠naver.com")[0]) == "h***＠naver.com"  # full-width @ kept
    assert mask(detect("전화 ０１０．１２３４．５６７８")[0]) == "０１０．****．５６７８"
    assert mask(detect("접속 １９２．１６８．０．１")[0]) == "１９２．***．*．*"


def test_pseudonymise_and_restore_with_split_stream():
    policy = PiiPolicy.from_mapping({"default": "pseudonymise"})
    vault = Vault()
    applied = apply("제 번호 880101-1234568, 전화 010-1234-5678, 다시 880101-1234568", policy, vault)
    assert applied.text == "제 번호 <주민등록번호_1>, 전화 <전화번호_1>, 다시 <주민등록번호_1>"
    text = "확인: <주민등록번호_1> / <전화번호_1> 끝"
    for size in (1, 2, 3, 5, 7):
        stream = StreamFilter(policy, vault)
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        out = "".join(stream.feed(p) for p in pieces) + stream.flush()
        assert out == "확인: 880101-1234568 / 010-1234-5678 끝", size


def test_stream_masks_numbers_split_across_chunks():
    policy = PiiPolicy.from_mapping({"PHONE": "mask", "RRN": "mask"})
    text = "연락처는 010-9876-5432 이고 주민번호는 900101-2345677 입니다"
    for size in (1, 3, 4, 6):
        stream = StreamFilter(policy, Vault())
        out = "".join(stream.feed(text[i:i + size]) for i in range(0, len(text), size))
        out += stream.flush()
        assert out == "연락처는 010-****-5432 이고 주민번호는 900101-2****** 입니다", size


def test_stream_masks_numbers_padded_with_invisible_characters():
    policy = PiiPolicy.from_mapping({"PHONE": "mask"})
    text = "연락처는 010" + "\u200b" * 80 + "-1234-5678 이고 끝입니다"
    for size in (1, 5, 40):
        stream = StreamFilter(policy, Vault())
        out = "".join(stream.feed(text[i:i + size]) for i in range(0, len(text), size))
        out += stream.flush()
        assert "1234" not in out and out.replace("\u200b", "") == "연락처는 010-****-5678 이고 끝입니다"


SECRET = "제 주민등록번호는 880101-1234568이고 카드는 5345-5640-5440-5590, 전화 010-1234-5678입니다."


def test_round_trip_pseudonymisation_through_real_upstream(live, echo):
    url, record = echo
    server = live(config=f"""
[backends.remote]
type = "openai"
urls = ["{url}"]

[guards.pii]
default = "pseudonymise"
""")
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    r = client.chat.completions.create(model="remote",
                                       messages=[{"role": "user", "content": SECRET}])
    assert r.choices[0].message.content == f"들은 내용: {SECRET}"  # restored for the user
    stream = client.chat.completions.create(model="remote", stream=True,
                                            messages=[{"role": "user", "content": SECRET}])
    chunks = [c for c in stream if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"들은 내용: {SECRET}"
    # text the guard holds back (it may be part of a number) sends no empty chunk meanwhile
    said = [c for c in chunks if c.choices[0].delta.role or c.choices[0].delta.content
            or c.choices[0].finish_reason]
    assert said == chunks and len(chunks) > 3
    received = record.read_text(encoding="utf-8")
    for raw in ("880101-1234568", "5345-5640-5440-5590", "010-1234-5678"):
        assert raw not in received  # the upstream never saw a real value
    sent = json.loads(received.splitlines()[0])["messages"][0]["content"]
    assert "<주민등록번호_1>" in sent and "<카드번호_1>" in sent and "<전화번호_1>" in sent
    import sqlite3

    audit = sqlite3.connect(server.home / "jaju.db").execute(
        "SELECT detail FROM audit WHERE action='guard.pii'").fetchall()
    assert audit and "880101" not in json.dumps(audit)
    assert json.loads(audit[0][0])["decisions"]["pseudonymise:RRN"] == 1


def test_block_and_mask_per_assistant(live, echo):
    url, record = echo
    server = live(config=f"""
[backends.remote]
type = "openai"
urls = ["{url}"]

[guards.pii]
CARD = "block"

[assistants.masked]
backend = "remote"
[assistants.masked.guards.pii]
CARD = "mask"
RRN = "mask"
""")
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="remote",
                                       messages=[{"role": "user", "content": SECRET}])
    assert e.value.code == "pii_blocked" and "CARD" in str(e.value)
    r = client.chat.completions.create(model="masked",
                                       messages=[{"role": "user", "content": SECRET}])
    assert "880101-1******" in r.choices[0].message.content
    assert "****-****-****-5590" in r.choices[0].message.content
    assert "010-1234-5678" in r.choices[0].message.content  # PHONE allowed
    assert "880101-1234568" not in record.read_text(encoding="utf-8")


# --- real text: full-width, dash and dot variants, zero-width characters, spacing -----------

@pytest.mark.parametrize("text, kind, value", [
    ("주민등록번호 ８８０１０１－１２３４５６８ 입니다", "RRN", "８８０１０１－１２３４５６８"),
    ("주민번호 ８８０１０１-１２３４５６８입니다", "RRN", "８８０１０１-１２３４５６８"),
    ("주민번호 880101–1234568 (en dash)", "RRN", "880101–1234568"),
    ("주민번호 880101—1234568 (em dash)", "RRN", "880101—1234568"),
    ("주민번호 880101−1234568 (minus)", "RRN", "880101−1234568"),
    ("주민번호 880101.1234568 확인", "RRN", "880101.1234568"),
    ("주민번호 880101 1234568 확인", "RRN", "880101 1234568"),
    ("주민번호 880101 - 1234568 확인", "RRN", "880101 - 1234568"),
    ("주민번호 880101\u200b-\u200b1234568 확인", "RRN", "880101\u200b-\u200b1234568"),
    ("주민번호 8801\u200c01-12\u200d34\u2060568\ufeff 확인", "RRN", "8801\u200c01-12\u200d34\u2060568"),
    ("주민번호 880101\u00ad-1234568 확인", "RRN", "880101\u00ad-1234568"),
    ("전화 010.1234.5678 로", "PHONE", "010.1234.5678"),
    ("전화 (02) 775-5227 로", "PHONE", "(02) 775-5227"),
    ("전화 (010)1234-5678 로", "PHONE", "(010)1234-5678"),
    ("전화 010-1234.5678 로", "PHONE", "010-1234.5678"),
    ("전화 010 1234-5678 로", "PHONE", "010 1234-5678"),
    ("전화 ０１０－１２３４－５６７８ 로", "PHONE", "０１０－１２３４－５６７８"),
    ("카드 4111.1111.1111.1111 결제", "CARD", "4111.1111.1111.1111"),
    ("카드 4111-1111 1111.1111 결제", "CARD", "4111-1111 1111.1111"),
    ("번호 ４１１１ １１１１ １１１１ １１１１ 결제", "CARD", "４１１１ １１１１ １１１１ １１１１"),
    ("여권번호 m12345678 만료", "PASSPORT", "m12345678"),
    ("여권번호 M 12345678 만료", "PASSPORT", "M 12345678"),
    ("여권 m123a4567 신규", "PASSPORT", "m123a4567"),
    ("메일 hong＠naver.com 로", "EMAIL", "hong＠naver.com"),
    ("메일 ｈｏｎｇ＠ｎａｖｅｒ．ｃｏｍ 로", "EMAIL", "ｈｏｎｇ＠ｎａｖｅｒ．ｃｏｍ"),
    ("메일 홍길동@회사.kr로 보내 주세요", "EMAIL", "홍길동@회사.kr"),
    ("환불 계좌: 신한은행 110 123 456789 (예금주 홍길동)", "ACCOUNT", "110 123 456789"),
    ("신한은행으로 보내실 때 쓰시는 제 월급 통장 번호는 110-123-456789 입니다", "ACCOUNT",
     "110-123-456789"),
    ("사업자등록번호 220–81–62517 업체", "BRN", "220–81–62517"),
    ("운전면허번호 11.55.270178.40", "DRIVER", "11.55.270178.40"),
])
def test_variants_are_found_with_original_spans(text, kind, value):
    found = detect(text)
    assert [(f.type, f.text) for f in found] == [(kind, value)], found
    f = found[0]
    assert text[f.start:f.end] == value  # offsets are in the original text


def test_card_block_cannot_be_bypassed_with_dots():
    policy = PiiPolicy.from_mapping({"CARD": "block"})
    for card in ("4111.1111.1111.1111", "4111 1111-1111.1111", "４１１１－１１１１－１１１１－１１１１",
                 "4111\u200b1111\u200b1111\u200b1111"):
        with pytest.raises(PiiBlocked):
            apply(f"제 카드 {card} 로 결제해 주세요", policy, Vault())


@pytest.mark.parametrize("text", [
    "1861–1904년 사이의 일이다.",          # a year range with an en dash
    "2024．03．15 회의",                  # a full-width dotted date
    "3·1 운동과 6·25 전쟁",               # middle dots between small numbers
    "계좌 개설일은 2024.03.15 입니다.",     # a date near 계좌
    "총 120 350 480 원을 송금",           # amounts separated by spaces near 송금
    "항목 123 45 67890 합계",             # BRN shape with spaces, no context
    "버전 ３.１２.１-２ 배포",
])
def test_normalisation_does_not_invent_findings(text):
    assert types(text) == [], text


def test_normalised_offsets_map_back():
    from jaju.guards.pii import normalise

    text = "가\u200b나  다－１\u3000２"
    norm = normalise(text)
    assert norm.text == "가나 다-1 2"
    for i, ch in enumerate(norm.text):
        start, end = norm.span(i, i + 1)
        assert end - start == 1 or ch == " "
    assert norm.span(4, 8) == (text.index("－"), len(text))  # "-1 2" is "－１\u3000２"
    assert normalise("010 \u00a01234 \u3000 5678").text == "010 1234 5678"  # mixed space runs


def test_linear_time_with_characters_to_normalise():
    def seconds(n):
        text = ("１\u200b－" * n) + ("\u3000" * n) + ("８８" + "\u2013") * n + ("＠ａ" * n)
        t0 = time.perf_counter()
        detect(text)
        return time.perf_counter() - t0

    small, big = seconds(5_000), seconds(50_000)
    assert big < 30 * max(small, 1e-3)
    assert big < 5


# --- property-based: every type, every separator, width and spacing, in Korean sentences ----

DASHES = ["-", "\u2013", "\u2014", "\u2212", "\uff0d", "\u2010", "\u2011", "\ufe63"]
SEPARATORS = [*DASHES, ".", "\uff0e", " ", " - ", " . ", "\u3000", "\u00a0"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
WIDE = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@."}
CONTEXT_WORDS = {"RRN": "주민등록번호", "ARN": "외국인등록번호", "CRN": "법인등록번호",
                 "BRN": "사업자등록번호", "DRIVER": "운전면허번호", "PASSPORT": "여권번호",
                 "CARD": "카드번호", "PHONE": "연락처", "ACCOUNT": "국민은행 계좌",
                 "EMAIL": "이메일", "IP": "접속 주소"}
TEMPLATES = ["고객님의 {ctx}는 {v} 입니다.", "{ctx}: {v}", "확인 결과 {ctx} {v}로 조회되었습니다.",
             "{ctx}({v})을 알려 드립니다", "담당자에게 {ctx} {v}, 그리고 성함을 보내 주세요."]
KEPT_DIGITS = {"RRN": 7, "ARN": 7, "CRN": 7, "CARD": 4, "ACCOUNT": 4, "PHONE": 7, "BRN": 2,
               "DRIVER": 2, "PASSPORT": 2, "IP": 3, "EMAIL": 1}


def _digits(n):
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def rrn_like(draw, kind):
    year = draw(st.integers(1940, 2019))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    if kind == "RRN":
        gender = draw(st.sampled_from("12" if year < 2000 else "34"))
        weights_check = 11
    else:
        gender = draw(st.sampled_from("56" if year < 2000 else "78"))
        weights_check = 13
    body = f"{year % 100:02d}{month:02d}{day:02d}{gender}" + draw(_digits(5))
    total = sum(int(d) * w for d, w in zip(body, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5], strict=True))
    return [body[:6], body[6:] + str((weights_check - total % 11) % 10)]


@st.composite
def crn(draw):
    body = draw(st.sampled_from(["110111", "130111", "160111", "284411"])) + "0" + draw(_digits(5))
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(body))
    return [body[:6], body[6:] + str((10 - total % 10) % 10)]


@st.composite
def brn(draw):
    body = draw(_digits(9))
    total = sum(int(d) * w for d, w in zip(body, [1, 3, 7, 1, 3, 7, 1, 3, 5], strict=True))
    total += int(body[8]) * 5 // 10
    s = body + str((10 - total % 10) % 10)
    return [s[:3], s[3:5], s[5:]]


@st.composite
def driver(draw):
    region = draw(st.sampled_from([f"{n}" for n in range(11, 29) if n != 27]))
    return [region, draw(_digits(2)), draw(_digits(6)), draw(_digits(2))]


@st.composite
def card(draw):
    from jaju.guards.pii import _luhn

    body = draw(st.sampled_from(["4", "51", "52", "53", "54", "55"]))
    body += draw(_digits(15 - len(body)))
    s = next(body + str(d) for d in range(10) if _luhn(body + str(d)))
    return [s[0:4], s[4:8], s[8:12], s[12:16]]


@st.composite
def phone(draw):
    kind = draw(st.sampled_from(["mobile", "seoul", "region"]))
    if kind == "mobile":
        return [draw(st.sampled_from(["010", "011", "016", "019"])), draw(_digits(4)), draw(_digits(4))]
    area = "02" if kind == "seoul" else draw(st.sampled_from(["031", "051", "062", "064"]))
    middle = draw(st.sampled_from(["2", "3", "5", "7", "8"])) + draw(_digits(draw(st.sampled_from([2, 3]))))
    return [area, middle, draw(_digits(4))]


@st.composite
def account(draw):
    shape = draw(st.sampled_from([(3, 3, 6), (6, 2, 6), (4, 3, 6), (3, 6, 5)]))
    return [draw(st.sampled_from("123456789")) + draw(_digits(n - 1)) for n in shape]


@st.composite
def separated(draw, groups, separators=SEPARATORS, optional=False):
    """Groups joined by separators chosen one by one (mixed), digits maybe full-width."""
    parts = [groups[0]]
    for g in groups[1:]:
        choices = [*separators, ""] if optional else separators
        parts += [draw(st.sampled_from(choices)), g]
    value = "".join(parts)
    if draw(st.booleans()):
        value = "".join(WIDE.get(c, c) if c.isdigit() else c for c in value)
    return value


@st.composite
def with_invisible(draw, value):
    """Zero-width characters inserted strictly inside the value (never at its edges)."""
    chars = list(value)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(1, len(chars) - 1))
        chars.insert(at, draw(st.sampled_from(INVISIBLE)))
    return "".join(chars)


@st.composite
def pii_value(draw):
    kind = draw(st.sampled_from(sorted(CONTEXT_WORDS)))
    if kind in ("RRN", "ARN"):
        value = draw(separated(draw(rrn_like(kind)), optional=True))
    elif kind == "CRN":
        value = draw(separated(draw(crn()), separators=[*DASHES, ".", " - "]))
    elif kind == "BRN":
        value = draw(separated(draw(brn())))
    elif kind == "DRIVER":
        value = draw(separated(draw(driver())))
    elif kind == "CARD":
        value = draw(separated(draw(card()), optional=True))
    elif kind == "PHONE":
        groups = draw(phone())
        value = draw(separated(groups, optional=True))
        if draw(st.booleans()):  # (02) 775-5227
            rest = draw(separated(groups[1:], optional=True))
            value = f"({groups[0]})" + draw(st.sampled_from(["", " "])) + rest
    elif kind == "ACCOUNT":
        value = draw(separated(draw(account())))
    elif kind == "PASSPORT":
        letter = draw(st.sampled_from("MSRODGmsrodg"))
        body = draw(st.one_of(_digits(8), st.tuples(_digits(3), st.sampled_from("ABCDEabcde"),
                                                     _digits(4)).map("".join)))
        value = letter + draw(st.sampled_from(["", " ", "-"])) + body
        if draw(st.booleans()):
            value = "".join(WIDE.get(c, c) for c in value)
    elif kind == "EMAIL":
        local = draw(st.one_of(
            st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
            st.text("김이박최정홍길동민수영희", min_size=2, max_size=5)))
        domain = draw(st.sampled_from(["naver.com", "company.co.kr", "korea.kr", "회사.kr"]))
        value = local + draw(st.sampled_from(["@", "\uff20", "\ufe6b"])) + domain
        assume(".." not in value and "._" not in value)
        if draw(st.booleans()):
            value = "".join(WIDE.get(c, c) for c in value)
    else:  # IP
        octets = [str(draw(st.integers(1, 255))) for _ in range(4)]
        value = draw(separated(octets, separators=[".", "\uff0e"]))
    if kind != "EMAIL":
        value = draw(with_invisible(value))
    return kind, value


def _plain_digits(text):
    import unicodedata

    return "".join(str(unicodedata.digit(c)) for c in text if unicodedata.digit(c, None) is not None)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pii_value(), st.sampled_from(TEMPLATES))
def test_property_every_variant_is_found(item, template):
    kind, value = item
    text = template.format(ctx=CONTEXT_WORDS[kind], v=value)
    start = text.index(value)
    found = [(f.type, f.start, f.end) for f in detect(text)]
    assert (kind, start, start + len(value)) in found, (text, found)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pii_value(), st.sampled_from(TEMPLATES), st.sampled_from(["mask", "pseudonymise"]))
def test_property_apply_leaves_no_raw_value(item, template, action):
    kind, value = item
    text = template.format(ctx=CONTEXT_WORDS[kind], v=value)
    out = apply(text, PiiPolicy.from_mapping({"default": action}), Vault()).text
    assert value not in out
    raw = _plain_digits(value)
    shown = _plain_digits(PLACEHOLDER.sub("", out))  # the templates have no digits of their own
    if action == "pseudonymise":
        assert shown == "", (text, out)
    else:
        assert (not raw or raw not in shown) and len(shown) <= KEPT_DIGITS[kind], (text, out)
