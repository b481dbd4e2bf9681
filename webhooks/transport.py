"""Sending one attempt: SSRF-guarded, no redirects, bounded time and bounded reading.

The guard resolves the host itself, refuses the URL unless every address is public (or inside
an allowed network), and then connects to one of exactly those addresses, so a DNS answer that
changes between the check and the connection (rebinding) cannot slip through. TLS still
verifies the certificate against the host name.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import time
import urllib.parse
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.settings import Settings

READ_CAP = 64 * 1024  # bytes read from a receiver's answer at most


class Refused(Exception):
    """The URL may not be called; the message says why (safe to show to the subscriber).
    Final: a delivery refused so fails at once instead of being retried."""


class Unresolvable(Exception):
    """The host name has no address now; DNS may answer later, so a delivery is retried."""


def _unmapped(address: ipaddress._BaseAddress) -> ipaddress._BaseAddress:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def check_address(text: str, settings: Settings) -> None:
    """Raises Refused unless the address is public or inside an allowed network."""
    address = _unmapped(ipaddress.ip_address(text.split("%", 1)[0]))
    if any(address in network for network in settings.allowed_networks):
        return
    if not address.is_global or address.is_multicast:
        raise Refused(f"address {address} is not public; list its network in "
                      "webhook.allowed_networks to allow it")


def check_url(url: str, settings: Settings) -> urllib.parse.SplitResult:
    """Syntax and scheme checks that need no DNS; raises Refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in (("https", "http") if settings.allow_http else ("https",)):
        raise Refused("the URL must use https" + ("" if settings.allow_http else
                                                   " (webhook.allow_http is off)"))
    if not parts.hostname or parts.username or parts.password:
        raise Refused("the URL needs a host and no user or password")
    try:
        parts.port
    except ValueError:
        raise Refused("the URL's port is not a number from 0 to 65535") from None
    literal = _address_literal(parts.hostname)
    if literal is not None:
        check_address(literal, settings)
    return parts


def _address_literal(host: str) -> str | None:
    """The address an IP literal host stands for, in every spelling the resolver takes
    (`2130706433`, `127.1`, `0x7f.0.0.1`, `::ffff:127.0.0.1`); None for a name. No DNS."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return infos[0][4][0]


def resolve(host: str, port: int, settings: Settings) -> list[tuple]:
    """Every address of `host`, each checked; raises Refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"cannot resolve {host!r}: {exc}") from None
    for *_, sockaddr in infos:
        check_address(sockaddr[0], settings)
    return infos


def _guarded_connection(base):
    class Guarded(base):
        settings: Settings

        def _new_conn(self):
            infos = resolve(self._dns_host, self.port, self.settings)
            family, kind, proto, _, sockaddr = infos[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else None)
            try:
                sock.connect(sockaddr)  # the checked address, never a second lookup
            except OSError:
                sock.close()
                raise
            return sock

    return Guarded


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to checked addresses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        settings = self.settings

        class GuardedHTTPPool(HTTPConnectionPool):
            ConnectionCls = type("C", (_guarded_connection(HTTPConnection),), {"settings": settings})

        class GuardedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = type("C", (_guarded_connection(HTTPSConnection),), {"settings": settings})

        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool,
                                                   "https": GuardedHTTPSPool}


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int
    excerpt: str | None
    retry_after_s: float | None
    refused: bool = False  # the guard refused the URL: retrying cannot help


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - dt.datetime.now(dt.timezone.utc))
                   .total_seconds())
    except (TypeError, ValueError):
        return None


def post(url: str, body: bytes, headers: dict, settings: Settings) -> Outcome:
    """One attempt: POST `body` and read at most READ_CAP bytes back. Never raises for the
    receiver's behaviour; a refused URL, a timeout or a reset become `error`."""
    started = time.monotonic()
    deadline = started + settings.attempt_timeout_s
    try:
        check_url(url, settings)
        with requests.Session() as session:
            session.trust_env = False  # no proxies from the environment
            session.mount("http://", GuardedAdapter(settings))
            session.mount("https://", GuardedAdapter(settings))
            remaining = max(0.1, deadline - time.monotonic())
            with session.post(url, data=body, headers=headers, allow_redirects=False, stream=True,
                              timeout=(settings.connect_timeout_s, remaining)) as response:
                received = bytearray()
                for chunk in response.iter_content(8192):
                    received += chunk
                    if len(received) >= READ_CAP or time.monotonic() > deadline:
                        break
                latency = int((time.monotonic() - started) * 1000)
                excerpt = bytes(received[:settings.response_log_bytes]).decode("utf-8", "replace")
                return Outcome(response.status_code, None, latency, excerpt,
                               _retry_after(response.headers.get("Retry-After")))
    except Refused as exc:
        return Outcome(None, f"refused: {exc}", int((time.monotonic() - started) * 1000), None,
                       None, refused=True)
    except Unresolvable as exc:
        error = str(exc)
    except requests.Timeout:
        error = "timed out"
    except requests.RequestException as exc:
        error = f"connection failed: {type(exc).__name__}"
    return Outcome(None, error, int((time.monotonic() - started) * 1000), None, None)
