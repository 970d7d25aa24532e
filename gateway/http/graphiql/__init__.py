"""GraphiQL served by the gateway itself: no CDN, so it works air-gapped, and behind API keys.

``GraphiQLMiddleware`` sits outside authentication: the page is a static shell with no data in it,
and its assets are the vendored builds in ``static/`` (scripts/update-graphiql). The page asks the
user for the API key and sends it on every request and in the WebSocket's ``connection_init``;
the API behind it stays as protected as ever. docs/graphiql.md says how to turn it off.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from gateway.http.graphiql.assets import Assets, packaged_assets

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ASSETS_PATH", "GraphiQLMiddleware", "content_security_policy", "is_page_load"]

ASSETS_PATH = "/graphiql"
"""Assets are under ``/graphiql/<digest>/``, outside ``/graphql`` and so outside authentication."""
ASSET_MAX_AGE_S = 365 * 24 * 3600
FAVICON_PATH = "/favicon.ico"
"""Browsers ask for it on every page: a 404 there was the one error in GraphiQL's console."""
FAVICON_MAX_AGE_S = 24 * 3600
_PAGE = Template((Path(__file__).resolve().parent / "page.html").read_text(encoding="utf-8"))
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")
_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def is_page_load(scope: Scope) -> bool:
    """A GET without ``query`` that accepts HTML: what strawberry's own IDE answers, too."""
    if scope["method"] not in ("GET", "HEAD"):
        return False
    accept = _header(scope, b"accept") or ""
    if "text/html" not in accept and "*/*" not in accept:
        return False
    query = scope["query_string"].decode("latin-1")
    # A persisted query's GET names its document by hash (``extensions``): an answer, not the page.
    return not any(name in ("query", "extensions") for name, _ in parse_qsl(query))


def content_security_policy(host: str | None) -> str:
    """Only this gateway's origin: scripts and styles from files, the API and its WebSocket.

    ``host`` is the request's Host header; it names the WebSocket origin (``'self'`` alone does not
    cover ws: in every browser) and is left out when it is not a plain host[:port].
    """
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            # GraphiQL's dialogs add a <style> element whose text varies with the scrollbar's
            # width, so no hash covers it; a style cannot run script.
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self' data:",
            "img-src 'self' data:",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class GraphiQLMiddleware:
    """Answers ``GET /`` (to the IDE), a browser's page load of ``endpoint``, the assets and
    ``/favicon.ico``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoint: str = "/graphql",
        api_key: bool = False,
        assets: Assets | None = None,
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.assets = assets or packaged_assets()
        self.prefix = f"{ASSETS_PATH}/{self.assets.digest}/"
        self.page = _PAGE.substitute(
            assets=ASSETS_PATH + "/" + self.assets.digest,
            endpoint=html.escape(endpoint),
            api_key="required" if api_key else "none",
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        response: Response
        if path == "/":
            response = RedirectResponse(self.endpoint, status_code=307)
        elif path == self.endpoint and is_page_load(scope):
            response = self._page(scope)
        elif path.startswith(ASSETS_PATH + "/"):
            response = await self._asset(scope, path)
        elif path == FAVICON_PATH and (icon := self.assets.get("favicon.ico")) is not None:
            headers = {**_SECURITY_HEADERS, "cache-control": f"public, max-age={FAVICON_MAX_AGE_S}"}
            response = Response(icon.body, media_type=icon.media_type, headers=headers)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    def _page(self, scope: Scope) -> Response:
        host = _header(scope, b"host")
        headers = {
            **_SECURITY_HEADERS,
            "content-security-policy": content_security_policy(host),
            "cache-control": "no-cache",
        }
        return Response(self.page, media_type="text/html; charset=utf-8", headers=headers)

    async def _asset(self, scope: Scope, path: str) -> Response:
        asset = self.assets.get(path[len(self.prefix) :]) if path.startswith(self.prefix) else None
        if asset is None:
            # Another digest is another gateway version's files: not these under its name.
            return PlainTextResponse(
                "Not Found", status_code=404, headers={"cache-control": "no-store"}
            )
        headers = {
            **_SECURITY_HEADERS,
            "cache-control": f"public, max-age={ASSET_MAX_AGE_S}, immutable",
            "vary": "accept-encoding",
        }
        body = asset.body
        if "gzip" in (_header(scope, b"accept-encoding") or ""):
            gzipped = asset.gzipped
            body = gzipped if gzipped is not None else await run_in_threadpool(asset.compress)
            headers["content-encoding"] = "gzip"
        return Response(body, media_type=asset.media_type, headers=headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))  # scope headers are typed Any
    return None
