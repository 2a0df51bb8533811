"""No SSRF (DESIGN §16): webhook URLs never reach our own network.

Checked twice: when an endpoint is saved (:func:`check_url`) and when each delivery connects
(:class:`PublicOnlyAdapter`), because a name can resolve to a public address at creation and to
``127.0.0.1`` a minute later (DNS rebinding). At connect time the adapter resolves the host itself,
refuses unless every address is public, and connects to the address it checked — the TLS handshake
still names and verifies the URL's host (SNI and certificate), and the ``Host`` header is unchanged.

``WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`` (development, tests, ``make demo``) lifts the address
checks and allows ``http``.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

# Cloud metadata services that are not covered by "not globally routable" (Azure's wire server is
# a public address; the others are link-local or private and listed for the message's sake).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "168.63.129.16", "100.100.100.200", "fd00:ec2::254")
)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL is not allowed as a webhook target; the message says why."""


class RefusedConnection(NewConnectionError):
    """A delivery's connection refused at connect time; ``reason`` says why (the URL's host now
    resolves to an address of our own network)."""

    def __init__(self, conn: Any, reason: str) -> None:
        super().__init__(conn, f"refused: {reason}")
        self.refusal = reason


def private_networks_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_NETWORKS", False))


def refused_address(address: IpAddress) -> str | None:
    """Why ``address`` may not be a webhook target, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private or not address.is_global:
        return "a private or reserved address"
    return None


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` results for TCP; UnsafeUrl when the name does not resolve."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # no such name, a label too long, a NUL byte
        raise UnsafeUrl(f"{host} does not resolve: {exc}") from None


def public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """The resolved addresses of ``host``, all of them public; UnsafeUrl if any is not."""
    infos = resolve(host, port)
    if private_networks_allowed():
        return infos
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = refused_address(address)
        if reason:
            raise UnsafeUrl(f"{host} resolves to {address}, {reason}")
    if not infos:
        raise UnsafeUrl(f"{host} does not resolve")
    return infos


def scheme_refusal(url: str) -> str | None:
    """Why ``url``'s scheme may not be used now (checked again at send time: the setting may change)."""
    scheme = urlsplit(url).scheme
    allowed = ("https", "http") if private_networks_allowed() else ("https",)
    return None if scheme in allowed else "The URL must start with https://"


def check_url(url: str) -> str:
    """The URL, if it may be saved as an endpoint; UnsafeUrl otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"Not a valid URL: {exc}") from None
    refusal = scheme_refusal(url)
    if refusal:
        raise UnsafeUrl(refusal)
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host")
    public_addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url


def _connect_checked(conn: HTTPConnection) -> socket.socket:
    """Resolve, check every address, connect to the first one that answers (what we checked)."""
    host = getattr(conn, "_dns_host", None) or conn.host  # the name without IPv6 brackets
    try:
        infos = public_addresses(host, conn.port or 443)
    except UnsafeUrl as exc:
        raise RefusedConnection(conn, str(exc)) from None
    last: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if conn.timeout is not None and isinstance(conn.timeout, int | float):
                sock.settimeout(conn.timeout)
            sock.connect(sockaddr)
            return sock
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from exc
        except OSError as exc:
            sock.close()
            last = exc
    raise NewConnectionError(conn, f"could not connect to {conn.host}: {last}")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self)


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """A ``requests`` adapter whose every connection goes through :func:`_connect_checked`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}
