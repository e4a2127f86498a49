"""Every format, from real files: shipped HWP/HWPX samples, and files the tests make."""

from __future__ import annotations

from pathlib import Path

import pytest

from jaju.knowledge.parsers import ParseError
from jaju.knowledge.parsers.docx import parse_docx
from jaju.knowledge.parsers.html import parse_html
from jaju.knowledge.parsers.hwp import parse_hwp
from jaju.knowledge.parsers.hwpx import parse_hwpx
from jaju.knowledge.parsers.pdf import parse_pdf
from jaju.knowledge.parsers.text import parse_markdown, parse_text

from conftest import FIXTURE_DOCS, STATUTES


def texts(doc):
    return [b.text for b in doc.blocks]


def test_hwp_tables_and_text_boxes():
    assert texts(parse_hwp(FIXTURE_DOCS / "hwplib_table.hwp"))[:3] == ["표", "ABC", "123"]
    compressed = texts(parse_hwp(FIXTURE_DOCS / "hwplib_textbox_compressed.hwp"))
    plain = texts(parse_hwp(FIXTURE_DOCS / "hwplib_textbox_uncompressed.hwp"))
    assert compressed == plain == ["그림", "ABC", "123", "ABC"]
    prose = " ".join(texts(parse_hwp(FIXTURE_DOCS / "hwplib_fields_prose.hwp")))
    assert "제레드 다이아몬드" in prose


def test_hwp_distribution_protected_is_reported():
    with pytest.raises(ParseError, match="distribution-protected"):
        parse_hwp(FIXTURE_DOCS / "hwplib_distribution_protected.hwp")


def test_hwpx_tables_sections_and_shapes():
    table = texts(parse_hwpx(FIXTURE_DOCS / "hwpxlib_table.hwpx"))
    assert table[:3] == ["C반 기말고사", "날짜", "이름"] and "개똥이" in table
    rfp = parse_hwpx(FIXTURE_DOCS / "hwpxlib_gangbuk_rfp_3sections.hwpx")
    assert {b.page for b in rfp.blocks} == {1, 2, 3}
    assert any("가을밤의 음악축제" in b.text for b in rfp.blocks)
    shapes = " ".join(texts(parse_hwpx(FIXTURE_DOCS / "hwpxlib_rect_in_para.hwpx")))
    assert "사각형입니다" in shapes and "본문 텍스트" in shapes


def make_pdf(path: Path, pages: list[str], encrypt: str | None = None) -> Path:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("HYSMyeongJo-Medium"))
    c = canvas.Canvas(str(path), encrypt=encrypt)
    for text in pages:
        c.setFont("HYSMyeongJo-Medium", 12)
        c.drawString(72, 750, text)
        c.showPage()
    c.save()
    return path


def test_pdf_pages(tmp_path):
    doc = parse_pdf(make_pdf(tmp_path / "a.pdf", ["임대차 보증금은 반환한다.", "월세는 말일에 낸다."]))
    assert [(b.page, b.text) for b in doc.blocks] == [
        (1, "임대차 보증금은 반환한다."), (2, "월세는 말일에 낸다.")]


def test_pdf_broken_and_encrypted(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n garbage garbage")
    with pytest.raises(ParseError, match="PDF"):
        parse_pdf(broken)
    locked = make_pdf(tmp_path / "locked.pdf", ["비밀 문서"], encrypt="secret")
    with pytest.raises(ParseError, match="encrypted"):
        parse_pdf(locked)


def test_docx_headings_and_tables(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("취업규칙", level=1)
    d.add_heading("제1장 총칙", level=2)
    d.add_paragraph("이 규칙은 직원의 근무 조건을 정한다.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "구분", "내용"
    table.cell(1, 0).text, table.cell(1, 1).text = "출근", "09:00"
    d.save(str(tmp_path / "rules.docx"))
    doc = parse_docx(tmp_path / "rules.docx")
    para = next(b for b in doc.blocks if b.text.startswith("이 규칙은"))
    assert para.heading == ("취업규칙", "제1장 총칙")
    assert "출근 | 09:00" in texts(doc)
    assert doc.title == "취업규칙"


def test_html_structure(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><title>안내</title><script>var x=1</script></head><body>"
                    "<h1>민원 안내</h1><p>여권 발급은 <b>구청</b>에서 합니다.</p>"
                    "<ul><li>준비물: 사진</li></ul></body></html>", encoding="utf-8")
    doc = parse_html(page)
    assert texts(doc) == ["민원 안내", "여권 발급은 구청 에서 합니다.", "준비물: 사진"]
    assert doc.blocks[1].heading == ("민원 안내",)
    assert "var x" not in " ".join(texts(doc))


def test_text_encodings(tmp_path):
    (tmp_path / "u.txt").write_text("첫 문단\n\n둘째 문단", encoding="utf-8")
    (tmp_path / "k.txt").write_bytes("한글 완성형 문서입니다".encode("cp949"))
    (tmp_path / "bom.txt").write_bytes("\ufeffBOM 있는 문서".encode())
    assert texts(parse_text(tmp_path / "u.txt")) == ["첫 문단", "둘째 문단"]
    assert texts(parse_text(tmp_path / "k.txt")) == ["한글 완성형 문서입니다"]
    assert texts(parse_text(tmp_path / "bom.txt")) == ["BOM 있는 문서"]


def test_text_is_nfc(tmp_path):
    import unicodedata

    (tmp_path / "nfd.txt").write_text(unicodedata.normalize("NFD", "한국어"), encoding="utf-8")
    assert texts(parse_text(tmp_path / "nfd.txt")) == ["한국어"]


def test_markdown_statute():
    doc = parse_markdown(STATUTES / "근로기준법.md")
    assert doc.title == "근로기준법"
    article = next(b for b in doc.blocks if b.text.startswith("제23조"))
    assert article.kind == "heading" and article.heading[0] == "근로기준법"
    body = doc.blocks[doc.blocks.index(article) + 1].text
    assert body.startswith("① 사용자는 근로자에게 정당한 이유 없이 해고")  # ** and \ removed
