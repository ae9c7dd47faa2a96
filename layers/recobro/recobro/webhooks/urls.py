"""Which webhook URLs we accept and which addresses we are willing to connect to.

In production an endpoint is https on a public host: no credentials in the URL, no IP literal
or name that points at loopback, private, link-local or otherwise reserved addresses (a webhook
must not become a way to reach our own network). Locally (RECOBRO_ALLOW_HTTP_WEBHOOKS=1, set by
the local runtime) http://127.0.0.1 and http://localhost receivers are allowed for tests.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from recobro.config import env

MAX_URL_LENGTH = 2048
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def allow_local_http() -> bool:
    return env("RECOBRO_ALLOW_HTTP_WEBHOOKS").strip().lower() in ("1", "true", "yes", "on")


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str) -> str:
    """The URL, if acceptable; ValueError with a reason otherwise."""
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or not url.isascii():
        raise ValueError("a URL without spaces, control or non-ASCII characters (punycode hosts)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("a URL with a host, such as https://example.com/webhooks")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials do not belong in the URL; verify deliveries with the signing secret")
    if parts.fragment:
        raise ValueError("a URL without a #fragment")
    if port == 0:
        raise ValueError("not a valid port")
    local = allow_local_http() and host in LOCAL_HOSTS
    if parts.scheme == "http" and local:
        return url
    if parts.scheme != "https":
        raise ValueError("webhook URLs use https")
    if local:
        return url
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise ValueError("a public host; this one only resolves inside a private network")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if "." not in host:
            raise ValueError("a fully qualified public host name") from None
        return url
    if not _is_public(str(literal)):
        raise ValueError("a public address; private, loopback and link-local addresses are refused")
    return url


def resolves_to_public(host: str, port: int) -> bool:
    """Every address `host` resolves to is public (checked again at delivery time)."""
    if allow_local_http() and host.lower() in LOCAL_HOSTS:
        return True
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return True  # let the connection attempt report the DNS failure itself
    return all(_is_public(str(info[4][0])) for info in infos)
