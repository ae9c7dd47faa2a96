"""Reading a strategy's YAML into a Strategy, or into errors that name their line and column.

PyYAML composes the text into nodes that keep their positions (start_mark). The nodes are
checked for what YAML itself would let through silently (a key given twice, aliases), turned
into plain data, validated by the pydantic models in recobro.strategies.schema and then by the
rules across fields below. Every error is mapped back to the node it concerns, so a person
reads "strategy.yaml:12:7: unknown condition field 'amount'".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from recobro.strategies.schema import (
    CHANNELS,
    CONDITION_FIELDS,
    MAX_LIST_VALUES,
    OPERATORS,
    SEGMENT_PATTERN,
    Strategy,
)

MAX_YAML_BYTES = 64_000
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class StrategyError:
    """One problem, where it is: 1-based line and column, and a JSON pointer into the document."""

    line: int
    column: int
    pointer: str
    message: str

    def format(self, source: str) -> str:
        return f"{source}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "pointer": self.pointer, "message": self.message}


class StrategyInvalid(Exception):
    """The document is not a valid strategy; `errors` lists every problem found, in document order."""

    def __init__(self, errors: Sequence[StrategyError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line, e.column, e.message))
        super().__init__("; ".join(f"{e.line}:{e.column}: {e.message}" for e in self.errors))


def pointer(path: Path) -> str:
    """RFC 6901: "/steps/2/variants/0/control"; "" is the whole document."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


# ---------------------------------------------------------------- nodes


@dataclass(frozen=True)
class _Located:
    node: yaml.Node
    key_node: yaml.Node | None  # for a mapping value: its key


def _error_at(node: yaml.Node, path: Path, message: str) -> StrategyError:
    mark = node.start_mark
    return StrategyError(mark.line + 1, mark.column + 1, pointer(path), message)


def _walk_checks(node: yaml.Node, path: Path) -> Iterator[StrategyError]:
    """What YAML accepts but a strategy must not: repeated keys, aliases, non-string keys."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                yield _error_at(key_node, path, "keys must be plain words")
                continue
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark.line + 1
                yield _error_at(key_node, (*path, key), f"'{key}' is given twice (first on line {first})")
            seen[key] = key_node
            yield from _walk_checks(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk_checks(item, (*path, index))


class _NoAliasComposer(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: a strategy has no need for them, and an
    alias bomb ("billion laughs") would expand into gigabytes when constructed."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        if getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(None, None, "anchors (&name) are not allowed", mark)
        return super().compose_node(parent, index)


def _locate(root: yaml.Node, path: Path) -> _Located:
    """The deepest node `path` reaches (a missing key stops at its parent mapping)."""
    node, key_node = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and str(k.value) == part]
            if not match:
                break
            key_node, node = match[-1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node, key_node = node.value[part], None
        else:
            break
    return _Located(node, key_node)


# ---------------------------------------------------------------- rules across fields


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


_KIND_WORDS = {"int": "a whole number", "str": "a string", "bool": "true or false", "channel": "a channel"}


def _condition_errors(conditions: Any, path: Path) -> Iterator[tuple[Path, bool, str]]:
    """(path, point at the key?, message) for every bad condition of one step."""
    if not isinstance(conditions, dict):
        return
    for name, operators in conditions.items():
        if not isinstance(name, str):
            continue  # pydantic reports keys that are not strings
        spec = CONDITION_FIELDS.get(name)
        if spec is None:
            known = ", ".join(CONDITION_FIELDS)
            yield (*path, name), True, f"unknown condition field '{name}' (known: {known})"
            continue
        if not isinstance(operators, dict) or not operators:
            yield (*path, name), False, f"'{name}' needs operators, e.g. {{eq: ...}} or {{gte: ...}}"
            continue
        for op, value in operators.items():
            where = (*path, name, op)
            if op not in OPERATORS:
                yield where, True, f"unknown operator '{op}' (use one of {', '.join(OPERATORS)})"
                continue
            if op not in spec.operators:
                yield where, True, f"'{name}' takes only {', '.join(spec.operators)}"
                continue
            values = value if op in ("in", "not_in") else [value]
            if op in ("in", "not_in") and (not isinstance(value, list) or not value or len(value) > MAX_LIST_VALUES):
                yield where, False, f"'{op}' needs a list of 1 to {MAX_LIST_VALUES} values"
                continue
            for index, item in enumerate(values):
                item_where = (*where, index) if op in ("in", "not_in") else where
                if not _is_kind(item, spec.kind):
                    yield item_where, False, f"'{name}' compares with {_KIND_WORDS[spec.kind]}, not {item!r}"
                elif spec.choices and item not in spec.choices:
                    yield item_where, False, f"'{name}' is one of {', '.join(spec.choices)}, not {item!r}"
                elif name == "segment" and not _matches(SEGMENT_PATTERN, item):
                    yield item_where, False, "a segment is lower-case letters, digits, _ and -"


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _step_errors(data: dict[str, Any]) -> Iterator[tuple[Path, bool, str]]:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    seen: dict[tuple[Any, Any], int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        path: Path = ("steps", index)
        yield from _condition_errors(step.get("conditions", {}), (*path, "conditions"))
        variants = step.get("variants")
        if isinstance(variants, list) and variants:
            controls = [n for n, v in enumerate(variants) if isinstance(v, dict) and v.get("control") is True]
            if not controls:
                yield (*path, "variants"), False, "exactly one variant must be the control (control: true); none is"
            for extra in controls[1:]:
                yield (*path, "variants", extra, "control"), False, "exactly one variant must be the control"
            templates: dict[Any, int] = {}
            for n, variant in enumerate(variants):
                template = variant.get("template") if isinstance(variant, dict) else None
                if isinstance(template, str) and template in templates:
                    yield (*path, "variants", n, "template"), False, f"template '{template}' is listed twice"
                templates.setdefault(template, n)
        day, channel = step.get("day"), step.get("channel")
        if "early_payment_offer" in step and isinstance(day, int) and day >= 0:
            yield (*path, "early_payment_offer"), True, "an early payment offer needs a day before the due date"
        if isinstance(day, int) and channel in CHANNELS:
            if (day, channel) in seen:
                first = seen[(day, channel)]
                yield (*path, "day"), False, f"steps {first} and {index} both send {channel} on day {day}"
            seen.setdefault((day, channel), index)


# ---------------------------------------------------------------- entry point


def _pydantic_errors(exc: ValidationError) -> Iterator[tuple[Path, bool, str]]:
    for error in exc.errors(include_url=False):
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if loc and loc[-1] == "[key]":
            yield loc[:-1], True, "keys must be strings"
        elif error["type"] == "extra_forbidden":
            yield loc, True, f"unknown field '{loc[-1]}'"
        elif error["type"] == "missing":
            yield loc, False, f"'{loc[-1]}' is required"
        elif error["type"] == "literal_error" and loc and loc[-1] == "channel":
            yield loc, False, f"channel is one of {', '.join(CHANNELS)}"
        elif error["type"] == "string_pattern_mismatch" and loc == ("description",):
            yield loc, False, "the description may not contain control characters"
        elif error["type"] == "string_pattern_mismatch":
            yield (
                loc,
                False,
                f"'{loc[-1]}' is 1 to 64 lower-case letters, digits, _ and - (starting with a letter or digit)",
            )
        else:
            yield loc, False, str(error["msg"]).removeprefix("Value error, ")


def _at(root: yaml.Node, path: Path, on_key: bool, message: str) -> StrategyError:
    found = _locate(root, path)
    node = found.key_node if on_key and found.key_node is not None else found.node
    return _error_at(node, path, message)


def parse_strategy(text: str) -> Strategy:
    """The strategy `text` describes; raises StrategyInvalid listing every problem with its position."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise StrategyInvalid([StrategyError(1, 1, "", f"the document is larger than {MAX_YAML_BYTES} bytes")])
    try:
        loader = _NoAliasComposer(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise StrategyInvalid([StrategyError(line, column, "", problem)]) from None
    except yaml.YAMLError as exc:
        raise StrategyInvalid([StrategyError(1, 1, "", f"not valid YAML: {exc}")]) from None
    if root is None or not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        where = root.start_mark if root is not None else None
        line, column = (where.line + 1, where.column + 1) if where else (1, 1)
        raise StrategyInvalid(
            [StrategyError(line, column, "", "a strategy is a mapping with name, description and steps")]
        )
    errors = list(_walk_checks(root, ()))
    strategy: Strategy | None = None
    try:
        strategy = Strategy.model_validate(data)
    except ValidationError as exc:
        errors.extend(_at(root, path, on_key, message) for path, on_key, message in _pydantic_errors(exc))
    # Conditions are free-form to pydantic; they and the rules across fields are checked here
    # even when pydantic failed, so one run reports everything.
    errors.extend(_at(root, path, on_key, message) for path, on_key, message in _step_errors(data))
    if errors or strategy is None:
        raise StrategyInvalid(_unique(errors))
    return strategy


def errors_at(text: str, problems: Sequence[tuple[Path, str]]) -> StrategyInvalid:
    """Problems found after parsing (a template the merchant does not have), placed on the nodes
    of `text`, a document parse_strategy accepted: (path, message) -> line, column and pointer."""
    loader = _NoAliasComposer(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    if root is None:
        return StrategyInvalid([StrategyError(1, 1, pointer(path), message) for path, message in problems])
    return StrategyInvalid([_at(root, path, False, message) for path, message in problems])


def _unique(errors: list[StrategyError]) -> list[StrategyError]:
    return list(dict.fromkeys(errors))


def to_yaml(strategy: Strategy) -> str:
    """A YAML text for `strategy` that parses back to an equal strategy (keys in schema order)."""
    from recobro.strategies.schema import dump

    return yaml.safe_dump(dump(strategy), sort_keys=False, allow_unicode=True, width=120)
