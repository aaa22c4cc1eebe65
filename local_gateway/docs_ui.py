"""The API in a browser: Swagger UI at /docs over docs/openapi.json, offline, ready to try.

The assets are swagger-ui-dist's own files from a pinned dev dependency (swagger-ui-bundle-v2,
Apache-2.0), served from this process: no CDN, nothing leaves the machine (the page's
Content-Security-Policy allows this origin only). The document's ``servers`` is this gateway
as the browser reached it, and the bearer scheme is pre-authorised with the local token, so
"Try it out" → "Execute" answers from the sandbox at once. Local only: the deployed stack
serves no /docs.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from local_gateway.registry import ROOT

PREFIX = "/docs"
OPENAPI = ROOT / "docs" / "openapi.json"
# Host headers naming this machine; anything else gets the gateway's own URL in `servers`.
_LOOPBACK_HOST = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_INDEX = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Talon.One gateway (local): API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="/docs/index.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""

_INITIALIZER = """window.onload = () => {
  const scheme = %(scheme)s;
  window.ui = SwaggerUIBundle({
    url: "/docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    onComplete: () => {
      if (scheme !== null) window.ui.preauthorizeApiKey(scheme, %(token)s);
    },
  });
};
"""


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
def _asset(name: str) -> bytes | None:
    # Only a file directly in the folder, by exact name: no path from the request reaches it.
    for entry in assets().iterdir():
        if entry.name == name and entry.is_file():
            return entry.read_bytes()
    return None


def bearer_scheme(document: dict[str, Any]) -> str | None:
    schemes = document.get("components", {}).get("securitySchemes", {})
    for name, scheme in schemes.items():
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            return str(name)
    return None


class DocsUI:
    def __init__(self, *, token: str, gateway_url: str, openapi: Path = OPENAPI) -> None:
        self.token = token
        self.gateway_url = gateway_url
        self.openapi = openapi

    def _document(self, host: str | None) -> dict[str, Any]:
        # Read on every request: `make generate` while the gateway runs shows at the next reload.
        document: dict[str, Any] = json.loads(self.openapi.read_bytes())
        origin = f"http://{host}" if host and _LOOPBACK_HOST.match(host) else self.gateway_url
        document["servers"] = [{"url": origin, "description": "this local gateway (make run)"}]
        return document

    def answer(self, method: str, path: str, host: str | None) -> Answer | None:
        """The answer for a /docs request, or None when the path is not the UI's."""
        if method not in {"GET", "HEAD"} or not (path == PREFIX or path.startswith(PREFIX + "/")):
            return None
        name = path[len(PREFIX) :].strip("/")
        private = [("Cache-Control", "no-store")]  # pages holding the token or the live document
        if name in {"", "index.html"}:
            return self._ok("text/html; charset=utf-8", _INDEX.encode(), private)
        if name == "openapi.json":
            return self._ok("application/json", json.dumps(self._document(host)).encode(), private)
        if name == "swagger-initializer.js":
            script = _INITIALIZER % {
                "scheme": json.dumps(bearer_scheme(self._document(host))),
                "token": json.dumps(self.token),
            }
            return self._ok("text/javascript; charset=utf-8", script.encode(), private)
        content = _asset(name)
        if content is None:
            return None
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith(("javascript", "json")):
            kind += "; charset=utf-8"
        return self._ok(kind, content, [("Cache-Control", "max-age=3600")])

    @staticmethod
    def _ok(content_type: str, body: bytes, extra: list[tuple[str, str]]) -> Answer:
        headers = [
            ("Content-Type", content_type),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            *extra,
        ]
        return Answer(200, headers, body)
