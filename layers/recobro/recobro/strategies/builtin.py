"""The built-in default strategy (default.yaml, shipped inside the package): what every merchant
has as version 0 of "default" until they save their own. Pure, so the CLI and benches can use it."""

from __future__ import annotations

import functools
from pathlib import Path

from recobro.strategies.parser import parse_strategy
from recobro.strategies.schema import Strategy

DEFAULT_FILE = Path(__file__).with_name("default.yaml")


@functools.lru_cache(maxsize=1)
def built_in_text() -> str:
    return DEFAULT_FILE.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def built_in() -> Strategy:
    return parse_strategy(built_in_text())
