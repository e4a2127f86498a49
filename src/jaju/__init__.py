"""jaju (자주, 自主): a self-hosted, Korean-first AI platform.

An OpenAI-compatible gateway whose models are assistants. Importing this package is cheap:
heavy parts (FastAPI, llama.cpp) load only when an app or a backend is built.
"""

from jaju.errors import JajuError

__version__ = "0.1.0"

__all__ = ["JajuError", "__version__"]
