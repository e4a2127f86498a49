"""The `jaju` command: one module per command group."""
