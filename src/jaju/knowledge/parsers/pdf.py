"""PDF via pypdfium2 (PDFium): text per page; a page never spans two chunks' origins."""

from __future__ import annotations

import re
from pathlib import Path

from jaju.knowledge.parsers.base import Block, ParsedDocument, ParseError, nfc


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
    finally:
        pdf.close()
    if not blocks:
        raise ParseError("PDF에 텍스트가 없습니다(스캔 문서?) / the PDF has no text layer "
                         "(scanned? OCR is not available)")
    return ParsedDocument(blocks, title=title or path.stem, format="pdf")
