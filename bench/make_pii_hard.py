"""Write bench/data/pii_hard.jsonl: a harder labelled PII set of real-looking Korean documents
(forms, contracts, chat logs, e-mails) with synthetic but valid identifiers, particles glued to
numbers, numbers without hyphens, several types in one text, and hard negatives (dates,
amounts, order/parcel/case/statute numbers, postal codes, ISBNs, versions) in the same texts.

Run: python bench/make_pii_hard.py  (deterministic: seed 7)
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from jaju.guards.pii import _luhn  # the check the detector applies

R = random.Random(7)
OUT = Path(__file__).parent / "data" / "pii_hard.jsonl"


def rrn(foreign: bool = False, valid: bool = True) -> str:
    year = R.randint(1950, 2015)
    gender = (R.choice("56") if year < 2000 else R.choice("78")) if foreign else \
        (R.choice("12") if year < 2000 else R.choice("34"))
    six = f"{year % 100:02d}{R.randint(1, 12):02d}{R.randint(1, 28):02d}"
    body = six + gender + "".join(str(R.randint(0, 9)) for _ in range(5))
    total = sum(int(d) * w for d, w in zip(body, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5],
                                           strict=True))
    check = ((13 if foreign else 11) - total % 11) % 10
    if not valid:
        check = (check + R.randint(1, 9)) % 10  # issued after Oct 2020: random last digit
    return f"{body[:6]}-{body[6:]}{check}"


def luhn_card(prefix: str) -> str:
    digits = prefix + "".join(str(R.randint(0, 9)) for _ in range(15 - len(prefix)))
    return next(digits + str(d) for d in range(10) if _luhn(digits + str(d)))


def brn() -> str:
    while True:
        body = "".join(str(R.randint(0, 9)) for _ in range(9))
        weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
        total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
        total += int(body[8]) * 5 // 10
        check = (10 - total % 10) % 10
        s = body + str(check)
        return f"{s[:3]}-{s[3:5]}-{s[5:]}"


def crn() -> str:
    body = R.choice(["110111", "130111", "160111", "284411"]) + \
        "".join(str(R.randint(0, 9)) for _ in range(6))
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(body))
    return f"{body[:6]}-{body[6:]}{(10 - total % 10) % 10}"


def phone() -> str:
    kind = R.random()
    if kind < 0.5:
        return f"010-{R.randint(1000, 9999)}-{R.randint(1000, 9999)}"
    if kind < 0.7:
        return f"010{R.randint(1000, 9999)}{R.randint(1000, 9999)}"
    if kind < 0.9:
        return f"0{R.choice(['2', '31', '51', '62'])}-{R.randint(200, 9999)}-{R.randint(1000, 9999)}"
    return f"+82-10-{R.randint(1000, 9999)}-{R.randint(1000, 9999)}"


def account() -> str:
    return R.choice([f"{R.randint(100, 999)}-{R.randint(10, 99)}-{R.randint(100000, 999999)}",
                     f"{R.randint(100000, 999999)}-{R.randint(10, 99)}-{R.randint(100000, 999999)}",
                     f"{R.randint(10**11, 10**12 - 1)}"])


def passport() -> str:
    return R.choice("MSR") + (f"{R.randint(10**7, 10**8 - 1)}" if R.random() < 0.5 else
                              f"{R.randint(100, 999)}{R.choice('ABCDE')}{R.randint(1000, 9999)}")


def driver() -> str:
    return f"{R.choice(['11', '12', '13', '23', '28'])}-{R.randint(10, 99)}-" \
           f"{R.randint(100000, 999999)}-{R.randint(10, 99)}"


def email() -> str:
    name = "".join(R.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(R.randint(4, 9)))
    domain = R.choice(["gmail.com", "naver.com", "gov.kr", "company.co.kr"])
    return f"{name}{R.choice(['', '.kim', '_lee', '77'])}@{domain}"


def ip() -> str:
    return f"{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


def negatives() -> str:
    return R.choice([
        f"계약일 {R.randint(2020, 2025)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}",
        f"금액 {R.randint(1, 999)},{R.randint(100, 999)},000원",
        f"주문번호 {R.randint(10**12, 10**13 - 1)}",
        f"송장번호 {R.randint(10**11, 10**12 - 1)}",
        f"사건번호 {R.randint(2019, 2025)}가합{R.randint(10000, 99999)}",
        f"법률 제{R.randint(15000, 21000)}호",
        f"우편번호 {R.randint(10000, 63999)}",
        f"ISBN 978-89-{R.randint(1000, 9999)}-{R.randint(100, 999)}-{R.randint(0, 9)}",
        f"버전 {R.randint(1, 9)}.{R.randint(0, 20)}.{R.randint(0, 9)}",
    ])


TEMPLATES = [
    ("[신청서] 성명: 김민수 / 주민등록번호: {RRN} / 휴대전화: {PHONE} / {NEG}",),
    ("고객님 본인확인 위해 주민번호 {RRN} 확인했고요, 환불은 국민은행 {ACCOUNT}로 넣어드릴게요 ㅎㅎ",),
    ("제3조(대금 지급) 갑은 을의 농협 계좌({ACCOUNT})로 지급한다. 을의 사업자등록번호는 {BRN}이다. {NEG}",),
    ("외국인 근로자 등록: 외국인등록번호 {ARN}, 여권 {PASSPORT}, 연락처 {PHONE}",),
    ("[카톡] 카드번호 {CARD} 이걸로 결제해줘~ 메일은 {EMAIL} 로 보내고",),
    ("렌터카 계약서 - 운전면허번호 {DRIVER}, 연락처 {PHONE}, {NEG}",),
    ("법인 정보: 법인등록번호 {CRN}, 사업자번호 {BRN}, 대표메일 {EMAIL}",),
    ("서버 접속 기록: {IP} 에서 {EMAIL} 계정으로 로그인 ({NEG})",),
    ("주민등록번호는{RRN}입니다",),
    ("결제 카드 {CARD}, 승인번호 {NEG}",),
    ("{NEG} / {NEG} / 문의 {PHONE}",),
    ("{NEG}. 특이사항 없음.",),
]


def main() -> None:
    rows = []
    for i in range(300):
        template = TEMPLATES[i % len(TEMPLATES)][0]
        text, spans = "", []
        pos = 0
        while pos < len(template):
            start = template.find("{", pos)
            if start == -1:
                text += template[pos:]
                break
            text += template[pos:start]
            end = template.index("}", start)
            key = template[start + 1:end]
            value = {"RRN": lambda: rrn(valid=R.random() < 0.7),
                     "ARN": lambda: rrn(foreign=True), "CARD": lambda: luhn_card(
                         R.choice(["4", "51", "53", "9410", "35"])),
                     "PHONE": phone, "ACCOUNT": account, "BRN": brn, "CRN": crn,
                     "PASSPORT": passport, "DRIVER": driver, "EMAIL": email, "IP": ip,
                     "NEG": negatives}[key]()
            if key == "CARD" and R.random() < 0.5:
                value = " ".join(value[j:j + 4] for j in range(0, 16, 4))
            if key != "NEG":
                spans.append({"start": len(text), "end": len(text) + len(value), "type": key})
            text += value
            pos = end + 1
        rows.append({"text": text, "spans": spans})
    OUT.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                   encoding="utf-8")
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
