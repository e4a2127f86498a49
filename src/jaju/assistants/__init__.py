"""Assistants: a backend plus a system prompt, settings, knowledge and tools, as a model id."""

from jaju.assistants.assistant import Assistant, Turn

__all__ = ["Assistant", "Turn"]
