"""Backends generate chat completions. See `base.Backend` for the protocol.

The built-in backends are registered by the default plugin in `jaju.backends.builtin`.
"""
