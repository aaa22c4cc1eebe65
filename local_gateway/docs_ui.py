"""The API in a browser: Swagger UI at /docs over docs/openapi.json, offline, ready to try.

The page, its assets and its Content-Security-Policy are the layer's
(talon_gateway.api.docs_ui), as a deployed stack serves them with ``EnableDocs=true``; what is
local is here: the document's ``servers`` is this gateway as the browser reached it, and the
bearer scheme is pre-authorised with the local token, so "Try it out" → "Execute" answers from
the sandbox at once (a deployed stack's page pre-fills nothing).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from local_gateway.functions import ensure_layer_on_path
from local_gateway.registry import ROOT

ensure_layer_on_path()
from talon_gateway.api.docs_ui import PREFIX, Answer, DocsPage, bearer_scheme, name_under  # noqa: E402

__all__ = ["OPENAPI", "PREFIX", "Answer", "DocsUI", "bearer_scheme"]

OPENAPI = ROOT / "docs" / "openapi.json"
# Host headers naming this machine; anything else gets the gateway's own URL in `servers`.
_LOOPBACK_HOST = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$")


class DocsUI:
    def __init__(self, *, token: str, gateway_url: str, openapi: Path = OPENAPI) -> None:
        self.token = token
        self.gateway_url = gateway_url
        self.openapi = openapi

    def _document(self) -> dict[str, Any]:
        # Read on every request: `make generate` while the gateway runs shows at the next reload.
        document: dict[str, Any] = json.loads(self.openapi.read_bytes())
        return document

    def answer(self, method: str, path: str, host: str | None) -> Answer | None:
        """The answer for a /docs request, or None when the path is not the UI's."""
        name = name_under(path)
        if name is None:
            return None
        origin = f"http://{host}" if host and _LOOPBACK_HOST.match(host) else self.gateway_url
        page = DocsPage(
            base=PREFIX,
            server={"url": origin, "description": "this local gateway (make run)"},
            title="Talon.One gateway (local): API",
            document=self._document,
            token=self.token,
        )
        return page.answer(method, name)
