"""PII detection per type (valid, invalid, look-alikes), masking, pseudonymisation through a
real upstream, streaming splits, and linear time on adversarial input."""

from __future__ import annotations

import json
import time

import openai
import pytest

from jaju.guards.actions import PiiPolicy, StreamFilter, Vault, apply, mask
from jaju.guards.pii import detect

from conftest import start_script


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


@pytest.fixture
def echo(tmp_path):
    record = tmp_path / "received.jsonl"
    proc, port = start_script("echo_upstream.py", str(record))
    yield f"http://127.0.0.1:{port}/v1", record
    proc.kill()
    proc.wait()


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
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == \
        f"들은 내용: {SECRET}"
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
