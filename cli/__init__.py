"""The `attribution` command line: one module per command over the public API."""
