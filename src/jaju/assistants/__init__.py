"""Assistants: a backend plus a system prompt and default settings, exposed as a model id."""

from jaju.assistants.assistant import Assistant

__all__ = ["Assistant"]
