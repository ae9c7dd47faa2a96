"""The tracking function's routes match its Api events in template.yaml (like the drift tests)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import template_helpers as th


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return th.load_template()


def test_tracking_routes_match_api_events(template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    path, _ = th.handler_location(template, "TrackingFunction")
    routes = th.powertools_routes(th.load_module_by_path(path, "drift_TrackingFunction").app)
    assert routes == {("/t/o/{token}", "GET"), ("/t/c/{token}", "GET")}
    assert th.check_routes(template, "TrackingFunction", routes) == []
    assert th.check_routes(template, "TrackingFunction", routes | {("/t/x/{token}", "GET")}) != []


def test_the_tracking_api_returns_binary_whatever_the_accept_header(template: dict[str, Any]) -> None:
    api = th.resources(template)["TrackingApi"]["Properties"]
    assert api["BinaryMediaTypes"] == ["*~1*"]
    events = th.resources(template)["TrackingFunction"]["Properties"]["Events"].values()
    assert {e["Properties"]["RestApiId"]["Ref"] for e in events} == {"TrackingApi"}
