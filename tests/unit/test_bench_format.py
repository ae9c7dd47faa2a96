"""The benchmark's pure parts: table formatting, the report's text form, a handler's environment."""

from __future__ import annotations

import pytest

from tests import template_helpers as th
from tests.perf import bench


def test_format_table_aligns_text_left_and_numbers_right() -> None:
    table = bench.format_table(["name", "n", "ratio"], [["alpha", 3, 1.5], ["b", 120, None]])
    assert table.splitlines() == [
        "name     n  ratio",
        "-----  ---  -----",
        "alpha    3   1.50",
        "b      120      -",
    ]


def test_format_table_applies_per_column_formats() -> None:
    table = bench.format_table(["ms", "x"], [[387.234, 1.98765]], [".1f", ".2f"])
    assert table.splitlines()[-1] == "387.2  1.99"


def test_format_table_with_no_rows_is_just_the_header() -> None:
    assert bench.format_table(["a", "bb"], []) == "a  bb\n-  --"


def test_format_table_rejects_ragged_rows() -> None:
    with pytest.raises(ValueError, match="cells"):
        bench.format_table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="formats"):
        bench.format_table(["a", "b"], [[1, 2]], [".1f"])


def test_format_cell() -> None:
    assert bench.format_cell(None) == "-"
    assert bench.format_cell(2.0) == "2.00"
    assert bench.format_cell(7) == "7"
    assert bench.format_cell(0.12345, ".3f") == "0.123"


def test_render_report_shows_both_sections() -> None:
    report = {
        "imports": {
            "runs": 5,
            "baseline_median_s": 0.2,
            "functions": [
                {"function": "F", "handler": "functions/f/app.handler", "median_s": 0.4, "ratio": 2.0},
            ],
        },
        "dynamodb": {
            "measures": [
                bench.measure("claim created", "F", 10, {"PutItem": 10, "GetItem": 20}),
                bench.measure("nothing", "G", 0, {}),
            ]
        },
    }
    text = bench.render_report(report)
    assert "median of 5 fresh interpreters" in text and "200.0 ms" in text
    assert "functions/f/app.handler      400.0        2.00" in text
    lines = text.splitlines()
    created = next(line for line in lines if line.startswith("claim created"))
    assert created.split() == ["claim", "created", "F", "10", "30", "3.00", "GetItem", "20,", "PutItem", "10"]
    nothing = next(line for line in lines if line.startswith("nothing"))
    assert nothing.split() == ["nothing", "G", "0", "0", "-"]


def test_render_report_skips_missing_sections() -> None:
    assert bench.render_report({}) == ""


def test_handler_env_resolves_template_references() -> None:
    template = th.load_template()
    env = bench.handler_env(template, "MessageSenderFunction")
    assert env["CLAIMS_TABLE"] == "recobro-ClaimsTable"
    assert env["POWERTOOLS_SERVICE_NAME"] == "message-sender"
    assert env["SES_FROM_ADDRESS"] == template["Parameters"]["SenderAddress"]["Default"]
    assert env["POWERTOOLS_TRACE_DISABLED"] == "1"
    assert env["RECOBRO_LINK_SECRET"]
    assert all(isinstance(v, str) for v in env.values())
