"""Headless Chromium for the payment page tests, the way a debtor on a phone sees the page.

Playwright drives Debian's /usr/bin/chromium (`make system-deps` installs it; `playwright install`
downloads a browser build and is never used). Each test gets a 360x800 touch page; `step()` keeps
a full-page screenshot per step under test-artifacts/screenshots/<test>/ and runs axe-core on the
page, failing on any serious or critical violation.
"""

from __future__ import annotations

import json
import re
import shutil
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "infra" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 800}
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class _Steps:
    folder: Path
    inspector: Page | None = None  # where axe runs when the page itself has JavaScript off
    count: int = 0


_steps: weakref.WeakKeyDictionary[Page, _Steps] = weakref.WeakKeyDictionary()


@contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium package)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in infra/ (or `make test`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def phone(browser: Browser, test_name: str, *, javascript: bool = True) -> Iterator[Page]:
    """A fresh phone-sized page (own cookies) whose steps are kept under the test's name."""
    folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    options: dict[str, Any] = {
        "viewport": PHONE,
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
        "locale": "es-ES",
        "timezone_id": "Europe/Madrid",
    }
    context = browser.new_context(java_script_enabled=javascript, **options)
    # axe-core needs JavaScript (its timers never fire where scripts are off): a JS-enabled
    # twin gets a copy of each step's DOM instead.
    twin = None if javascript else browser.new_context(java_script_enabled=True, **options)
    for opened in (context, twin):
        if opened is not None:
            opened.set_default_timeout(15_000)
    if twin is not None:
        twin.route("**/*", lambda route: route.abort())  # the copy loads nothing and runs no page script
    try:
        page = context.new_page()
        _steps[page] = _Steps(folder, twin.new_page() if twin else None)
        yield page
    finally:
        context.close()
        if twin is not None:
            twin.close()


def step(page: Page, name: str, *, axe: bool = True) -> Path:
    """Keep a full-page screenshot of what the page shows now, then check it with axe-core."""
    steps = _steps[page]
    steps.count += 1
    path = steps.folder / f"{steps.count:02d}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if axe:
        if steps.inspector is not None:
            steps.inspector.set_content(page.content())
            assert_accessible(steps.inspector, f"step {path.name} (DOM of {page.url})")
        else:
            assert_accessible(page, f"step {path.name}")
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core in the page. DevTools evaluation is not subject to the page's CSP, so the
    page's own policy (no inline scripts) stays on for everything else."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
            }));
        }"""
    )
    return violations


def assert_accessible(page: Page, where: str) -> None:
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe-core at {where} ({page.url}):\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} ({v['helpUrl']})\n  " + json.dumps(v["nodes"], ensure_ascii=False)
        for v in blocking
    )


def fill_card(page: Page, number: str, exp: str, cvc: str, postal: str = "") -> None:
    """Type a card into localstripe's stand-in card element.

    Its card element is no iframe: mount() appends five plain text inputs to #card-element, told
    apart only by their placeholders (number, exp_month, exp_year, cvc, postal_code), and every
    input event rebuilds the element's value; the year is two digits (it prepends "20").
    """
    field = page.locator("#card-element")
    month, year = (part.strip() for part in exp.split("/"))
    values = {"number": number.replace(" ", ""), "exp_month": month, "exp_year": year[-2:], "cvc": cvc}
    if postal:
        values["postal_code"] = postal
    for placeholder, value in values.items():
        field.get_by_placeholder(placeholder, exact=True).fill(value)
