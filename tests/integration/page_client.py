"""A cookie-keeping HTTP client for the payment page, and the steps every page test repeats."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

from tests.http import Reply
from tests.integration.claims import claim_body
from tests.integration.conftest import MerchantClient

DOB = {"day": "12", "month": "4", "year": "1990"}  # claim_body's 1990-04-12
WRONG_DOB = {"day": "13", "month": "4", "year": "1990"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass
class PageReply(Reply):
    set_cookies: list[str] = field(default_factory=list)


@dataclass
class Browser:
    """Just enough of a browser: keeps cookies by name, never follows redirects by itself."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, form: dict[str, str] | None = None, cookies: bool = True) -> PageReply:
        headers = {}
        if cookies and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _opener.open(req, timeout=30) as resp:
                status, raw_headers, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, raw_headers, body = err.code, err.headers, err.read()
        for value in raw_headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        headers = {k.lower(): v for k, v in raw_headers.items()}
        return PageReply(status, headers, body, list(raw_headers.get_all("Set-Cookie") or []))

    def get(self, url: str) -> PageReply:
        return self.request("GET", url)

    def post(self, url: str, form: dict[str, str]) -> PageReply:
        return self.request("POST", url, form)


def _csrf(page: Reply) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _action(url: str, page: Reply) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match, page.text
    return urljoin(url, match.group(1))


def _claim(merchant: MerchantClient, **kwargs) -> dict:
    reply = merchant.call("POST", "/v1/claims", claim_body(**kwargs))
    assert reply.status == 201, reply.text
    return reply.json()


def _answer(browser: Browser, url: str, answer: dict[str, str]) -> PageReply:
    page = browser.get(url)
    assert page.status == 200, page.text
    return browser.post(_action(url, page), {"csrf_token": _csrf(page), **answer})


def verified(browser: Browser, url: str, answer: dict[str, str]) -> Reply:
    """Answer the identity question and open the page with the session cookie."""
    reply = _answer(browser, url, answer)
    assert reply.status == 303, reply.text
    return browser.get(url)
