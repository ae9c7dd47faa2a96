"""`recobro strategy validate|simulate FILE`: check and try a strategy offline, before saving it.

Validation prints one "FILE:LINE:COL: message" line per problem (the form editors and CI jump
to) and exits 1. It knows the built-in templates but not a merchant's: names it cannot check
are listed (same form, "not checked") and do not fail it; saving through the API checks them.
Simulation runs the strategy over a generated sample of claims (no AWS, no network) and prints
what would be sent, when, and what a guardrail would hold back.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from recobro import clock
from recobro.channels import message_templates
from recobro.strategies.parser import StrategyInvalid, errors_at, parse_strategy
from recobro.strategies.schema import Strategy
from recobro.strategies.simulate import simulate, synthetic_claims


def _load(path: str, err: TextIO) -> tuple[str, Strategy] | None:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=err)
        return None
    try:
        return text, parse_strategy(text)
    except StrategyInvalid as invalid:
        for error in invalid.errors:
            print(error.format(path), file=err)
        return None


def _unchecked_templates(path: str, text: str, strategy: Strategy) -> list[str]:
    """Templates that are not built in: they may be the merchant's, which only the API can tell."""
    unchecked = [
        (
            ("steps", index, "variants", number, "template"),
            f"not checked: {step.channel} template '{variant.template}' is not built in; "
            "it must be one of your templates when you save",
        )
        for index, step in enumerate(strategy.steps)
        for number, variant in enumerate(step.variants)
        if variant.template not in message_templates.builtin_names(step.channel)
    ]
    return [error.format(path) for error in errors_at(text, unchecked).errors] if unchecked else []


def _print_simulation(result: dict[str, Any], out: TextIO) -> None:
    print(f"strategy {result['strategy']} at {result['now']}", file=out)
    for claim in result["claims"]:
        facts = claim["facts"]
        print(f"\n{claim['claim_id']}  {facts['status']}  {facts['timezone']}  segment={facts['segment']}", file=out)
        for step in claim["steps"]:
            when = step["send_at_local"] or step["planned_at_local"]
            reason = f"  ({step['reason']})" if step["reason"] else ""
            print(
                f"  #{step['installment']} {step['step']:<14} {step['outcome']:<8} {when}  {step['channel']}{reason}",
                file=out,
            )
    totals = ", ".join(f"{k} {v}" for k, v in result["totals"].items())
    print(f"\ntotals: {totals}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="recobro", description="Recobro command line tools.")
    commands = parser.add_subparsers(dest="area", required=True)
    strategy = commands.add_parser("strategy", help="Check and try strategies as code.")
    actions = strategy.add_subparsers(dest="action", required=True)
    validate = actions.add_parser("validate", help="Check a strategy file; errors as FILE:LINE:COL: message.")
    validate.add_argument("file", help="the strategy YAML ('-' reads standard input)")
    sim = actions.add_parser("simulate", help="Run a strategy over a generated sample of claims.")
    sim.add_argument("file", help="the strategy YAML ('-' reads standard input)")
    sim.add_argument("--claims", type=int, default=10, help="how many generated claims (1-1000, default 10)")
    sim.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    sim.add_argument("--at", help="simulate as of this ISO instant (default: now)")
    sim.add_argument("--json", action="store_true", help="print the simulation as JSON")
    args = parser.parse_args(argv)

    read = _load(args.file, err)
    if read is None:
        return 1
    text, loaded = read
    if args.action == "validate":
        notes = _unchecked_templates(args.file, text, loaded)
        for note in notes:
            print(note, file=out)
        unchecked = f"; {len(notes)} template name(s) not checked" if notes else ""
        print(f"{args.file}: ok ({len(loaded.steps)} steps{unchecked})", file=out)
        return 0
    if not 1 <= args.claims <= 1000:
        print("--claims is between 1 and 1000", file=err)
        return 2
    now = datetime.fromisoformat(args.at.replace("Z", "+00:00")) if args.at else clock.now()
    if now.tzinfo is None:
        print("--at needs a timezone, e.g. 2026-10-01T09:00:00Z", file=err)
        return 2
    segments = sorted(_segments(loaded)) or ["default"]
    result = simulate(loaded, synthetic_claims(args.claims, now, args.seed, segments), now)
    if args.json:
        json.dump(result, out, indent=2, ensure_ascii=False)
        print(file=out)
    else:
        _print_simulation(result, out)
    return 0


def _segments(strategy: Strategy) -> set[str]:
    """Segments the strategy's conditions name, so a sample exercises them."""
    found = {"default"}
    for step in strategy.steps:
        for op, value in step.conditions.get("segment", {}).items():
            found.update(value if op in ("in", "not_in") else [value])
    return found


if __name__ == "__main__":
    sys.exit(main())
