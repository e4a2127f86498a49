"""The finance pack's sample document: a fictional bank's product terms as a PDF.

`python -m jaju.packs.finance.samples OUTDIR` writes `자주은행_상품약관.pdf` (the copy the pack
ships is `data/samples/`). The output is deterministic: reportlab's invariant mode fixes the
creation date and the document id, and the text is fixed here, so a test regenerates it and
compares bytes. "자주은행" is not a real bank; every rate and fee below is made up.

Needs reportlab (the `dev` extra); its built-in CID font HYSMyeongJo-Medium draws Hangul without
a font file, so the generator runs on any machine, CI included.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

TITLE = "자주은행 예금·대출 상품약관"
FILENAME = "자주은행_상품약관.pdf"

TERMS: list[tuple[str, list[str]]] = [
    ("자주 정기예금 상품설명서", [
        "제1조 (상품 개요) 자주 정기예금은 목돈을 한 번에 맡기고 만기에 원금과 이자를 받는 "
        "거치식 예금입니다. "
        "가입금액은 100만원 이상이며 가입기간은 1개월 이상 36개월 이하입니다.",
        "제2조 (기본금리) 기본금리는 가입기간 12개월 기준 연 3.0퍼센트이며 단리로 계산합니다. "
        "급여이체 등 우대조건을 충족하면 연 0.3퍼센트를 더합니다.",
        "제3조 (중도해지이율) 만기 전에 해지하면 약정금리 대신 중도해지이율을 적용합니다. "
        "예치기간 3개월 미만은 연 0.1퍼센트, 3개월 이상 6개월 미만은 기본금리의 30퍼센트, "
        "6개월 이상은 기본금리의 50퍼센트입니다.",
        "제4조 (만기 후 이율) 만기일 후 찾지 않은 기간에는 만기 후 1개월까지 기본금리의 50퍼센트, "
        "그 후에는 연 0.1퍼센트를 적용합니다.",
    ]),
    ("자주 정기적금 상품설명서", [
        "제5조 (상품 개요) 자주 정기적금은 매월 같은 날 같은 금액을 납입하는 적립식 예금입니다. "
        "월 납입한도는 1만원 이상 100만원 이하이며 가입기간은 6개월 이상 36개월 이하입니다.",
        "제6조 (이자 계산) 적금 이자는 매월 납입한 금액마다 납입일부터 만기일 전날까지의 기간에 대하여 "
        "약정금리로 단리 계산합니다. 12개월 적금의 기본금리는 연 3.5퍼센트입니다.",
    ]),
    ("예금 공통 사항", [
        "제7조 (세금) 이자에는 이자소득세 14퍼센트와 지방소득세 1.4퍼센트, 합계 15.4퍼센트의 세금이 "
        "원천징수됩니다. 비과세종합저축 대상자는 비과세, 세금우대 대상자는 9.5퍼센트가 적용됩니다.",
        "제8조 (예금자보호) 이 예금은 예금자보호법에 따라 예금보험공사가 보호하며, 보호한도는 원금과 "
        "소정의 이자를 합하여 1인당 예금자보호법 시행령이 정하는 금액까지입니다.",
    ]),
    ("자주 주택담보대출 상품설명서", [
        "제9조 (상환방법) 원리금균등분할상환, 원금균등분할상환, 만기일시상환 중에서 고를 수 있습니다. "
        "대출기간은 최장 30년입니다.",
        "제10조 (중도상환수수료) 대출금을 만기 전에 갚으면 중도상환수수료를 받습니다. "
        "중도상환수수료 = 중도상환금액 × 중도상환수수료율 × 잔여기간 일수 ÷ 대출기간 일수. "
        "중도상환수수료율은 변동금리 1.2퍼센트, 고정금리 1.4퍼센트이며, 대출일부터 3년이 지나면 "
        "중도상환수수료를 받지 않습니다.",
        "제11조 (금리인하요구권) 취업, 승진, 소득 증가, 신용점수 상승 등 신용상태가 나아진 고객은 "
        "은행에 금리인하를 요구할 수 있습니다.",
    ]),
    ("자주 신용대출 상품설명서", [
        "제12조 (대출금리) 대출금리는 기준금리에 가산금리를 더하여 정하며, 연 20퍼센트를 넘지 않습니다.",
        "제13조 (연체이자율) 원리금을 갚지 못하면 연체이자율을 적용합니다. 연체이자율은 약정금리에 "
        "연 3퍼센트포인트를 더한 율이며 최고 연 15퍼센트입니다.",
        "제14조 (청약철회) 대출계약서류를 받은 날부터 14일 이내에 대출 청약철회를 할 수 있으며, "
        "이 경우 받은 대출금과 이자를 돌려주어야 합니다. 청약철회에 따른 중도상환수수료는 없습니다.",
    ]),
    ("고객 유의사항", [
        "제15조 (개인정보와 보이스피싱 주의) 은행은 전화나 문자로 계좌 비밀번호, 보안카드 번호, "
        "인증번호를 묻지 않습니다. 보이스피싱이 의심되면 즉시 112나 은행 고객센터에 지급정지를 "
        "요청하세요.",
        "제16조 (분쟁조정) 이 약관에 관한 분쟁은 금융감독원 금융분쟁조정위원회에 조정을 신청할 수 "
        "있습니다.",
    ]),
]

WIDTH = 40
"""Characters per line: wrapped at spaces, so no word is cut across two lines."""


def write_pdf(path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "HYSMyeongJo-Medium"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setTitle(TITLE)
    c.setAuthor("jaju finance pack (sample)")
    _, height = A4
    for heading, articles in TERMS:
        y = height - 72
        c.setFont(font, 15)
        c.drawString(56, y, f"{TITLE} — {heading}")
        y -= 32
        c.setFont(font, 11)
        for article in articles:
            for line in textwrap.wrap(article, WIDTH, break_long_words=False):
                c.drawString(56, y, line)
                y -= 17
            y -= 10
        c.showPage()
    c.save()
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jaju.packs.finance.samples OUTDIR", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.mkdir(parents=True, exist_ok=True)
    print(write_pdf(out / FILENAME))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
