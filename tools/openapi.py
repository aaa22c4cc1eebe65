"""The gateway's OpenAPI document (docs/openapi.json), read off the routes of every function.

The routes are the contract: each function's route decorator (summary, typed parameters and
body, documented responses) is collected from template.yaml's functions into one resolver,
and Powertools writes the document. Only here do the routes document their answers' models
(``docs.document_models``): the Lambda functions never import them. The same text is written
to functions/docs/openapi.json, the copy DocsFunction ships (its CodeUri: Swagger UI on a stack
deployed with EnableDocs=true). ``--check`` exits 1 when either is stale; ``make generate``
(tools/generate.py) writes both.

    python -m tools.openapi [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_gateway.functions import ensure_layer_on_path, load_module  # noqa: E402
from local_gateway.template import functions  # noqa: E402

ensure_layer_on_path()
from talon_gateway.api import docs  # noqa: E402
from talon_gateway.operations import OPERATIONS  # noqa: E402

OUTPUT = ROOT / "docs" / "openapi.json"
# What DocsFunction serves: inside its own CodeUri, not the layer (every function loads that).
DEPLOYED_COPY = ROOT / "functions" / "docs" / "openapi.json"
OUTPUTS = (OUTPUT, DEPLOYED_COPY)
DESCRIPTION = (
    "The Talon.One Integration API behind AWS API Gateway: same methods, paths and bodies as "
    "Talon.One, validated strictly, authenticated inbound, deduplicated by Idempotency-Key or "
    "webhook-id, signed toward Talon.One. Talon.One's answers pass through unchanged; the "
    "gateway's own errors use Talon.One's error shape."
)


def _drop_undeclared_validation_responses(document: dict[str, Any]) -> None:
    """Powertools documents a 422 for every validated route; the gateway answers 400 for invalid
    requests and 422 only for a reused idempotency key, so keep 422 only where a route declares it."""
    for item in document["paths"].values():
        for operation in item.values():
            response = operation["responses"].get("422", {})
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref", "").endswith("/HTTPValidationError"):
                del operation["responses"]["422"]
    text = json.dumps(document["paths"])
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'/{name}"' not in text:
            document["components"]["schemas"].pop(name, None)


def _no_content_for_empty_answers(document: dict[str, Any]) -> None:
    """An answer documented without a model has no body (204, or joinLoyaltyProgram's 200):
    Powertools would describe the handlers' ``Response[str]`` return type as its content."""
    for item in document["paths"].values():
        for operation in item.values():
            for code, response in operation["responses"].items():
                if code.startswith("2") and response.get("description") == docs.NO_CONTENT:
                    response.pop("content", None)


PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "examples": ["respond-async"]},
    "description": (
        "respond-async (RFC 7240, among other preferences if any): queue the write for the "
        "delivery worker and answer 202 at once, instead of waiting for Talon.One's answer"
    ),
}


def _prefer_on_queued_writes(document: dict[str, Any]) -> None:
    """The writes that may be queued (docs.may_be_queued, which documents their 202) take the
    Prefer header: Powertools documents only the parameters a route's signature declares, and
    the guard reads this one."""
    for operation in OPERATIONS:
        if docs.may_be_queued(operation):
            route = document["paths"][operation.path][operation.method.lower()]
            route.setdefault("parameters", []).append(PREFER)


def render() -> str:
    ensure_layer_on_path()
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

    docs.document_models()
    resolver = APIGatewayRestResolver(enable_validation=True)
    for spec in functions():
        resolver.include_router(load_module(spec.code_uri).router)
    schema = resolver.get_openapi_json_schema(
        title="Talon.One Integration API gateway",
        version="1.0.0",
        description=DESCRIPTION,
        security_schemes={
            "bearer": HTTPBearer(description="A token from the bearerTokens of INBOUND_SECRET_ID"),
            "standardWebhooks": APIKey(
                name="webhook-signature",
                in_=APIKeyIn.header,
                description=(
                    "Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature (v1, "
                    "HMAC-SHA256 with a secret from the webhookSecrets of INBOUND_SECRET_ID)"
                ),
            ),
            "shopifyHmac": APIKey(
                name="X-Shopify-Hmac-Sha256",
                in_=APIKeyIn.header,
                description=(
                    "Shopify's webhook signature: base64 HMAC-SHA256 of the raw body with the app's "
                    "client secret (shopifyWebhookSecrets of INBOUND_SECRET_ID)"
                ),
            ),
        },
        security=[{"bearer": []}, {"standardWebhooks": []}],
    )
    document = json.loads(schema)
    # Shopify signs its webhooks its own way: neither a bearer token nor Standard Webhooks.
    document["paths"]["/webhooks/shopify"]["post"]["security"] = [{"shopifyHmac": []}]
    _drop_undeclared_validation_responses(document)
    _no_content_for_empty_answers(document)
    _prefer_on_queued_writes(document)
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def stale(text: str) -> list[Path]:
    return [path for path in OUTPUTS if not path.exists() or path.read_text() != text]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when a copy of the document is stale")
    args = parser.parse_args()
    text = render()
    outdated = stale(text)
    if args.check:
        for path in outdated:
            print(f"stale: {path.relative_to(ROOT)} (run: make generate)", file=sys.stderr)
        return 1 if outdated else 0
    for path in outdated:
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
