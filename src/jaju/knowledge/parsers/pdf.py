"""PDF via pypdfium2 (PDFium): text per page; a page never spans two chunks' origins. The title
is the metadata's, unless it is missing or a writer's placeholder: then the file name."""

from __future__ import annotations

import re
from pathlib import Path

from jaju.knowledge.parsers.base import Block, ParsedDocument, ParseError, nfc

PLACEHOLDER_TITLE = re.compile(
    r"^(?:untitled(?:\s*document)?|no\s*title|\(?anonymous\)?|제목\s*없음|무제|document\d*|문서\d*"
    r"|microsoft (?:word|powerpoint|excel) - .*|.*\.(?:docx?|hwpx?|pptx?|xlsx?|txt|pdf))$",
    re.IGNORECASE)
"""Titles that PDF writers put in when the author gave none (reportlab writes "untitled")."""


def parse_pdf(path: Path) -> ParsedDocument:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        reason = str(e)
        if "password" in reason.lower():
            raise ParseError("암호로 보호된 PDF입니다 / the PDF is encrypted (password)") from e
        raise ParseError(f"PDF를 열 수 없습니다 / cannot open PDF: {reason}") from e
    blocks: list[Block] = []
    try:
        for number in range(len(pdf)):
            page = pdf[number]
            textpage = page.get_textpage()
            text = nfc(textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n"))
            textpage.close()
            page.close()
            for para in re.split(r"\n\s*\n", text):
                para = re.sub(r"[ \t]*\n[ \t]*", "\n", para).strip()
                if para:
                    blocks.append(Block(para, page=number + 1))
        title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
        if title and PLACEHOLDER_TITLE.match(title):
            title = None  # "untitled", "제목 없음", "Microsoft Word - 문서1": the file name says more
    finally:
        pdf.close()
    if not blocks:
        raise ParseError("PDF에 텍스트가 없습니다(스캔 문서?) / the PDF has no text layer "
                         "(scanned? OCR is not available)")
    return ParsedDocument(blocks, title=title or path.stem, format="pdf")
