"""Korean text: morphology (Kiwi), sentences, normalisation."""

from jaju.korean.analyzer import Analyzer

__all__ = ["Analyzer"]
