"""docs: Swagger UI at GET /docs and GET /docs/{proxy+}, on a stack deployed with EnableDocs=true.

The page, its initializer and the three files it links (swagger-ui-dist's, from
requirements.txt: this function's only dependency, not the layer's), and the gateway's OpenAPI
document (openapi.json beside this file, written by `make generate`) with this stage as its
server. Nothing is pre-filled: the page holds no secret, and the caller types their own bearer
token into Authorize. No secret, table or queue is read: the function's role allows logs only.
Any other path, and any method but GET and HEAD, is API Gateway's own 404.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from talon_gateway.api.docs_ui import PREFIX, DocsPage

OPENAPI = Path(__file__).with_name("openapi.json")
# A stage's or base path mapping's path, and a host name: anything else is not put in the page.
_BASE_PATH = re.compile(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")
# template.yaml's MISSING_AUTHENTICATION_TOKEN gateway response: what API Gateway answers for a
# path without a route (tests/test_docs_function.py holds the two equal).
NO_ROUTE = '{"message":"No such route","errors":[{"title":"No such route","details":"No such route","source":{}}],"StatusCode":404}'


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI.read_bytes())
    return document


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower() and isinstance(value, str):
            return value
    return None


def stage_url(event: dict[str, Any]) -> tuple[str, str]:
    """(origin, base path) by which the request reached the API: ``https://<api>.execute-api…``
    and ``/v1`` (the stage), or a custom domain and its base path mapping."""
    context = event.get("requestContext") or {}
    requested = str(context.get("path") or "")  # as the caller sent it: stage or base path included
    resource = str(event.get("path") or "")  # the same path within the API
    stage = str(context.get("stage") or "")
    derived = requested.removesuffix(resource) if resource and requested.endswith(resource) else None
    candidates = [c.rstrip("/") for c in (derived, f"/{stage}" if stage else None) if c is not None]
    base = next((c for c in candidates if _BASE_PATH.fullmatch(c)), "")
    host = str(context.get("domainName") or _header(event, "Host") or "")
    origin = f"https://{host}" if _HOST.fullmatch(host) else ""
    return origin, base


def _reply(status: int, headers: list[tuple[str, str]], body: str, request_id: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": dict(headers) | {"X-Correlation-Id": request_id},
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = str((event.get("requestContext") or {}).get("requestId") or "")
    method = str(event.get("httpMethod") or "")
    # /docs/{proxy+}: the rest of the path, decoded by API Gateway; /docs: the page itself
    name = str((event.get("pathParameters") or {}).get("proxy") or "").strip("/")
    if event.get("resource") not in {PREFIX, PREFIX + "/{proxy+}"}:
        name = "\0"  # not a route of this function: nothing matches
    origin, base = stage_url(event)
    page = DocsPage(
        base=f"{base}{PREFIX}",
        server={"url": f"{origin}{base}" or "/", "description": "this stage of the gateway"},
        title="Talon.One gateway: API",
        document=_document,
    )
    answer = page.answer(method, name)
    if answer is None:
        return _reply(404, [("Content-Type", "application/json")], NO_ROUTE, request_id)
    body = answer.body.decode() if method == "GET" else ""
    return _reply(answer.status, answer.headers, body, request_id)
