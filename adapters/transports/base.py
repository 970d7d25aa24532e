"""What every transport shares: the protocol, the response, the errors, and the rules they all follow.

A transport carries one request to a source's origin and returns its whole reply. There are three
(``server.upstream_client``): our own HTTP/1.1 client on httptools (the default), aiohttp, and httpx.
They are interchangeable because the rules that matter are decided here, once, and each transport
only applies them (``tests/adapters/transports/test_conformance.py`` checks all three alike):

- **Requests** are checked before anything is sent: a header name must be a token, a value must be
  Latin-1 without CR, LF or NUL, and the request target printable ASCII (``UnsafeRequest``).
- **Bodies** are capped at ``TransportOptions.max_body_bytes``, compressed or not, and only
  identity, gzip and deflate are accepted; decompression stops at the cap (``BodyTooLarge``), so a
  small gzip bomb cannot make the gateway buffer gigabytes.
- **TLS** uses one ``ssl.SSLContext`` built by ``TransportOptions.ssl_context``: the system trust
  store or the source's ``ca_bundle``, its client certificate, hostname checked unless
  ``verify`` is off.
- **Proxies** are resolved by ``TransportOptions.proxy_for``: the source's ``proxy_url``, else (with
  ``trust_env``, the default, as curl and httpx do) ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``
  minus ``NO_PROXY`` and loopback. The libraries' own reading of the environment is switched off, so the
  answer is the same whichever transport asks. HTTPS goes through a CONNECT tunnel, plain HTTP is
  sent to the proxy in absolute form.

Measured on the 2-vCPU machine (docs/performance.md), per call in a 20-call burst: the httptools
transport spends about 0.07 ms of CPU, aiohttp about 0.17 ms, and httpx's default transport about
2.7 ms, which is why httptools is the default.
"""

from __future__ import annotations

import base64
import ipaddress
import json as std_json
import os
import re
import ssl
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_BODY_BYTES",
    "MAX_HEADER_BYTES",
    "UPSTREAM_CLIENTS",
    "BodyTooLarge",
    "Proxy",
    "Transport",
    "TransportError",
    "TransportOptions",
    "TransportResponse",
    "TransportTimeout",
    "UnsafeRequest",
    "check_reply_head",
    "check_request",
    "decode_body",
    "header_lines",
    "json_body",
    "with_query",
]

UPSTREAM_CLIENTS = ("httptools", "aiohttp", "httpx")
MAX_BODY_BYTES = 32 * 1024 * 1024
"""A reply body larger than this (before or after decompression) is refused, not buffered."""
MAX_HEADER_BYTES = 64 * 1024
"""Reply headers beyond this, counted as ``name: value`` lines, are refused."""
ACCEPT_ENCODING = "gzip, deflate"
"""What every transport asks for, and all that ``decode_body`` undoes."""
KEEPALIVE_S = 30.0
"""An idle connection older than this is closed rather than reused."""
DNS_CACHE_S = 300
RETRY_STALE = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods resent once when a reused connection turns out closed before any byte of a reply."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00\r\n]")
_UNSAFE_IN_TARGET = re.compile(r"[^\x21-\x7e]")


class TransportError(Exception):
    """The exchange failed: refused, reset, closed mid-reply, unreadable, or refused by us."""


class TransportTimeout(Exception):
    """No complete answer in time (connecting included)."""


class BodyTooLarge(TransportError):
    """The reply body is over the cap, as announced, as received, or once decompressed."""


class UnsafeRequest(TransportError):
    """A header or the request target could split or smuggle a request; nothing was sent."""


@dataclass(frozen=True, slots=True)
class TransportResponse:
    """One whole reply, the same whichever client read it: what the engine decodes and what
    an adapter's ``read_error`` reads, so no adapter depends on a client library's types."""

    status: int
    headers: Mapping[str, str]
    """Read with lower-case names (every transport's mapping answers those)."""
    body: bytes
    """Decoded: ``content-encoding`` is undone, whatever the header still says."""


class Transport(Protocol):
    bounds_whole_exchange: bool
    """True when ``send`` itself gives up with TransportTimeout once ``timeout_s`` has passed,
    waiting for a connection, connecting and a slow reply included: the engine then arms no timer
    of its own. False when the client's timeouts are per read, so the engine bounds the attempt."""

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        timeout_s: float,
        connect_timeout_s: float,
    ) -> TransportResponse:
        """One exchange; ``path`` is percent-encoded already and joins the base URL's path."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Proxy:
    """An ``http://`` proxy: where to connect, and the ``Proxy-Authorization`` its URL carries."""

    url: str
    """Without credentials (safe to log)."""
    host: str
    port: int
    authorization: str | None = None

    @classmethod
    def parse(cls, value: str) -> Proxy:
        """``http://[user:pass@]host[:port]`` (a bare ``host:port`` means http, as in curl)."""
        text = value.strip()
        parts = urlsplit(text if "://" in text else f"http://{text}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                f"proxy {_redacted(parts.hostname, parts.port, parts.scheme)} is not an "
                "http:// proxy (https://, socks and others are not supported)"
            )
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        port = parts.port or 80
        return cls(_redacted(parts.hostname, port, "http"), parts.hostname, port, authorization)


def _redacted(host: str | None, port: int | None, scheme: str) -> str:
    authority = host or "?"
    if ":" in authority:
        authority = f"[{authority}]"
    return f"{scheme}://{authority}" + (f":{port}" if port else "")


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How one source is reached, applied the same way by every transport (per-source config)."""

    proxy_url: str | None = None
    """Always this proxy (``http://[user:pass@]host:port``), whatever the environment says."""
    trust_env: bool = True
    """Without ``proxy_url``: honour ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``."""
    ca_bundle: str | None = None
    """PEM file of the CAs to trust for this source, instead of the system's trust store."""
    client_cert: str | None = None
    """PEM file with the client certificate (and its key, unless ``client_key`` is given)."""
    client_key: str | None = None
    verify: bool = True
    """False skips certificate and hostname checks: for a test upstream only, never production."""
    max_body_bytes: int = MAX_BODY_BYTES
    """Not a config key: the bound is the gateway's; tests shrink it."""

    def ssl_context(self) -> ssl.SSLContext:
        """The one TLS context every transport uses for this source (ssl.SSLError if unreadable)."""
        context = ssl.create_default_context(cafile=self.ca_bundle)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def proxy_for(self, url: str, env: Mapping[str, str] | None = None) -> Proxy | None:
        """The proxy requests to ``url`` go through, or None to connect directly.

        ValueError when the proxy named is not an ``http://`` one.
        """
        if self.proxy_url:
            return Proxy.parse(self.proxy_url)
        if not self.trust_env:
            return None
        env = os.environ if env is None else env
        parts = urlsplit(url)
        value = _env(env, f"{parts.scheme}_proxy") or _env(env, "all_proxy")
        host = parts.hostname or ""
        if not value or _bypassed(host, f"{_LOOPBACK},{_env(env, 'no_proxy')}"):
            return None
        return Proxy.parse(value)


_LOOPBACK = "localhost,127.0.0.0/8,::1"
"""Never proxied from the environment: a proxy elsewhere cannot reach this host's loopback."""


def _env(env: Mapping[str, str], name: str) -> str:
    """The lower-case variable wins over the upper-case one, as in curl and the standard library."""
    return env.get(name) or env.get(name.upper()) or ""


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``: ``*``, a domain and its subdomains, an IP or a CIDR."""
    host = host.lower().rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        entry = entry.removeprefix("*").removeprefix(".").strip("[]")
        if not entry:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == entry or host.endswith("." + entry):
            return True
    return False


_JSON_ENCODER = std_json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""What ``json.dumps`` with these options builds on every call; built once, it costs half."""


def json_body(value: Any) -> bytes:
    """A request's JSON body, byte for byte the same whichever transport sends it."""
    return _JSON_ENCODER.encode(value).encode()


def with_query(target: str, params: Mapping[str, Any] | None) -> str:
    """``target`` with ``params`` as its query string (lists repeat the key)."""
    return f"{target}?{urlencode(params, doseq=True)}" if params else target


def check_request(method: str, target: str, headers: Mapping[str, str] | None) -> None:
    """Refuse, before anything is sent, what could split or smuggle a request."""
    if not _TOKEN.fullmatch(method) or _UNSAFE_IN_TARGET.search(target):
        raise UnsafeRequest("invalid request line")
    if headers:
        header_lines(headers)


def header_lines(headers: Mapping[str, str]) -> bytes:
    """``name: value`` lines, refusing anything that could split the request (CR, LF, NUL)."""
    lines = []
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
            raise UnsafeRequest(f"invalid request header {name!r}")
        try:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        except UnicodeEncodeError:
            raise UnsafeRequest(f"request header {name!r} is not Latin-1") from None
    return b"".join(lines)


def check_reply_head(headers: Mapping[str, str], cap: int) -> None:
    """Refuse headers over MAX_HEADER_BYTES, and a Content-Length over the cap, before the body.

    For the libraries that parse the head themselves (httpx buffers up to 100 KiB of it).
    """
    size = sum(len(name) + len(value) + 4 for name, value in headers.items())
    if size > MAX_HEADER_BYTES:
        raise TransportError("reply headers too large")
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise BodyTooLarge("reply body too large")


def decode_body(encoding: str | None, body: bytes, cap: int) -> bytes:
    """Undo gzip or deflate, bounded so a small compressed body can't expand without limit."""
    if not encoding or not body:
        return body
    encoding = encoding.strip().lower()
    if encoding == "identity":
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
        wbits = zlib.MAX_WBITS if body[0] & 0x0F == 8 else -zlib.MAX_WBITS
    else:
        raise TransportError(f"unsupported content-encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise TransportError(f"unreadable {encoding} body: {exc}") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise BodyTooLarge("reply body too large")
    return out
