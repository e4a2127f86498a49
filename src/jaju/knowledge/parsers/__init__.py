"""Document parsers, one function per format, registered through the `register_parsers` hook.

A parser takes a path and returns a `ParsedDocument` (blocks with page and heading path), or
raises `ParseError` saying why the file cannot be read.
"""

from jaju.knowledge.parsers.base import Block, ParsedDocument, ParseError, Parser

__all__ = ["Block", "ParseError", "ParsedDocument", "Parser"]
