"""Document parsers, one function per format, registered through the `register_parsers` hook.

A parser takes a path and returns a `ParsedDocument` (blocks with page and heading path), or
raises `ParseError` saying why the file cannot be read. A parser that reads compressed data may
take a `limits: Limits` keyword (how far a document may inflate); ingestion passes it on.
"""

from jaju.knowledge.parsers.base import Block, Limits, ParsedDocument, ParseError, Parser

__all__ = ["Block", "Limits", "ParseError", "ParsedDocument", "Parser"]
