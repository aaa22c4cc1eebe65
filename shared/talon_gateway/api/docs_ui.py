"""Swagger UI over the gateway's OpenAPI document: the page, its initializer, its assets, its CSP.

One implementation for both places /docs is served: the local gateway (local_gateway/docs_ui.py:
the local token pre-filled, the document's server the loopback origin the browser used) and a
deployed stack with ``EnableDocs=true`` (functions/docs/app.py: nothing pre-filled, the server
the stage's URL as the request reached it).

The assets are swagger-ui-dist's own files from the pinned package swagger-ui-bundle-v2
(Apache-2.0), served by the caller: no CDN, and the page's Content-Security-Policy allows its
own origin only. Only the files the page links are served, each by its exact name, so no path
from a request reaches the file system. Standard library only; the package is found by name
(importlib.resources) when an asset is first asked for, so no other function ever loads it (it
is installed with DocsFunction, not in the layer).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

PREFIX = "/docs"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# What the page links, by type, all text (API Gateway passes a Lambda's text bodies through as they are;
# binary ones would need the API's binaryMediaTypes). The favicon is inlined instead (data:).
ASSETS = {"swagger-ui.css": "text/css", "index.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}
FAVICON = "favicon-32x32.png"
PAGE_NAMES = frozenset({"", "index.html"})
DOCUMENT = "openapi.json"
INITIALIZER = "swagger-initializer.js"
# Pages holding the live document (and, locally, the token) are never cached; the package's
# files are the same until the next deployment.
NO_STORE = ("Cache-Control", "no-store")
CACHED = ("Cache-Control", "max-age=3600")

_INDEX = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>%(title)s</title>
    <link rel="stylesheet" type="text/css" href="%(base)s/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="%(base)s/index.css">
    <link rel="icon" type="image/png" href="%(favicon)s" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="%(base)s/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="%(base)s/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""

_INITIALIZER = """window.onload = () => {%(scheme)s
  window.ui = SwaggerUIBundle({
    url: %(document)s,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,%(on_complete)s
  });
};
"""

# Only with a token to pre-fill (the local gateway's): a deployed stack's page holds none, the
# caller types theirs into Authorize.
_PREAUTHORIZE = """
    onComplete: () => {
      if (scheme !== null) window.ui.preauthorizeApiKey(scheme, %(token)s);
    },"""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@cache
def assets() -> Traversable:
    """swagger-ui-dist's folder inside the pinned package (vendor/swagger-ui-<version>)."""
    vendor = files("swagger_ui_bundle") / "vendor"
    found = sorted((e for e in vendor.iterdir() if e.name.startswith("swagger-ui-")), key=lambda e: e.name)
    if not found:
        raise RuntimeError("swagger-ui-bundle-v2 holds no swagger-ui folder")
    return found[-1]


@cache
def asset(name: str) -> bytes | None:
    """One of the files the page links, by its exact name; None for any other name."""
    if name not in ASSETS:
        return None
    for entry in assets().iterdir():
        if entry.name == name and entry.is_file():
            return entry.read_bytes()
    return None


@cache
def _favicon() -> str:
    for entry in assets().iterdir():
        if entry.name == FAVICON and entry.is_file():
            return "data:image/png;base64," + base64.b64encode(entry.read_bytes()).decode()
    return "data:,"  # none: no request for /favicon.ico either


def bearer_scheme(document: dict[str, Any]) -> str | None:
    schemes = document.get("components", {}).get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            return str(name)
    return None


def name_under(path: str, prefix: str = PREFIX) -> str | None:
    """The UI's file a path names (``""`` for the page itself), or None when it is not under prefix."""
    if path != prefix and not path.startswith(prefix + "/"):
        return None
    return path[len(prefix) :].strip("/")


@dataclass(frozen=True)
class DocsPage:
    """Swagger UI for one audience.

    ``base`` is where the browser reaches the UI (``/docs`` locally, ``/v1/docs`` on a stage),
    ``server`` the document's ``servers`` entry, ``token`` the bearer token to pre-fill (None:
    nothing is), ``document`` the OpenAPI document, read when asked for.
    """

    base: str
    server: dict[str, str]
    title: str
    document: Callable[[], dict[str, Any]]
    token: str | None = None

    def answer(self, method: str, name: str) -> Answer | None:
        """The answer for the UI's file ``name``, or None when it is not one of the UI's."""
        if method not in {"GET", "HEAD"}:
            return None
        if name in PAGE_NAMES:
            page = _INDEX % {
                "title": html.escape(self.title),
                "base": html.escape(self.base),
                "favicon": _favicon(),
            }
            return _ok("text/html; charset=utf-8", page.encode(), NO_STORE)
        if name == DOCUMENT:
            return _ok("application/json", json.dumps(self.served_document()).encode(), NO_STORE)
        if name == INITIALIZER:
            return _ok("text/javascript; charset=utf-8", self.initializer().encode(), NO_STORE)
        content = asset(name)
        if content is None:
            return None
        return _ok(f"{ASSETS[name]}; charset=utf-8", content, CACHED)

    def served_document(self) -> dict[str, Any]:
        return {**self.document(), "servers": [self.server]}

    def initializer(self) -> str:
        scheme = on_complete = ""
        if self.token is not None:
            scheme = f"\n  const scheme = {json.dumps(bearer_scheme(self.document()))};"
            on_complete = _PREAUTHORIZE % {"token": json.dumps(self.token)}
        return _INITIALIZER % {
            "scheme": scheme,
            "document": json.dumps(f"{self.base}/{DOCUMENT}"),
            "on_complete": on_complete,
        }


def _ok(content_type: str, body: bytes, cache_control: tuple[str, str]) -> Answer:
    headers = [
        ("Content-Type", content_type),
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        cache_control,
    ]
    return Answer(200, headers, body)
