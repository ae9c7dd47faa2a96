"""Recobro core: the collections domain, its storage and its channels, free of Lambda events.

Handlers in functions/ parse events and call into this package; the local runtime and the
tests import the same code, so what is tested is what ships (as the RecobroLayer).
"""

__version__ = "0.1.0"
