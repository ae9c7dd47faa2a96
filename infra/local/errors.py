"""One exception type whose message is a single line a person can act on (the CLI prints only it)."""

from __future__ import annotations


class LocalRuntimeError(RuntimeError):
    """A problem starting or running the local stack, explained in one line."""
