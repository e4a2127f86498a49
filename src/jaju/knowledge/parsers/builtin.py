"""Default plugin: the built-in parsers, by file suffix."""

from __future__ import annotations

from collections.abc import Callable

from jaju.hookspecs import hookimpl
from jaju.knowledge.parsers.base import Parser
from jaju.knowledge.parsers.docx import parse_docx
from jaju.knowledge.parsers.html import parse_html
from jaju.knowledge.parsers.hwp import parse_hwp
from jaju.knowledge.parsers.hwpx import parse_hwpx
from jaju.knowledge.parsers.pdf import parse_pdf
from jaju.knowledge.parsers.text import parse_markdown, parse_text


@hookimpl
def register_parsers(register: Callable[[list[str], Parser], None]) -> None:
    register([".txt", ".text"], parse_text)
    register([".md", ".markdown"], parse_markdown)
    register([".html", ".htm", ".xhtml"], parse_html)
    register([".docx"], parse_docx)
    register([".pdf"], parse_pdf)
    register([".hwp"], parse_hwp)
    register([".hwpx"], parse_hwpx)
