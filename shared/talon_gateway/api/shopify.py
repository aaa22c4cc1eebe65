"""POST /webhooks/shopify: a Shopify webhook in, a queued Talon.One job out, within milliseconds.

    API Gateway event
      → size limit, raw body (base64 from API Gateway decoded)
      → HMAC of the raw body with the app's client secrets (shopifyWebhookSecrets), before
        anything is parsed: 401, Talon.One never called
      → headers: topic, shop, event or webhook id (400 naming the header)
      → the shop's Talon.One application (403 and ShopifyShopNotConfigured when none)
      → one JSON document (strict parser), mapped (sources/shopify), the Talon.One body
        validated by today's request model: 400 naming the field, nothing queued
      → acknowledged topics answer 200 and queue nothing (counted)
      → the rest is queued once per (shop, topic, event id — else webhook id), through the
        idempotency layer: 202; a duplicate gets the same 202, marked replayed; a queue or store
        failing → 503 and the event is not marked as seen (Shopify retries it)

The worker delivers the job (delivery/shopify.py) whatever Talon.One is doing meanwhile.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from talon_gateway.api import http_errors, snapstart
from talon_gateway.api.app import CORRELATION_HEADER, JSON, LambdaHandler, observed, respond
from talon_gateway.api.docs import ErrorBody
from talon_gateway.api.routes import SHOPIFY_WEBHOOK
from talon_gateway.config import get_shopify_config
from talon_gateway.delivery.record import Delivery
from talon_gateway.errors import (
    ConfigurationError,
    FieldProblem,
    InvalidRequest,
    ShopNotConfigured,
    Unauthenticated,
)
from talon_gateway.inbound.credentials import get_inbound_secrets
from talon_gateway.inbound.event import header_values, parse_json, raw_body
from talon_gateway.models import requests
from talon_gateway.observability import MetricUnit, logger, metrics
from talon_gateway.sources import shopify
from talon_gateway.sources.shopify.errors import WRONG_SIGNATURE
from talon_gateway.sources.shopify.mapping import RETURN_CART_ITEMS, UPDATE_PROFILE, UPDATE_SESSION
from talon_gateway.upstream.credentials import get_talon_secret

# The Talon.One request model of each write the mapping produces.
_BODY_MODELS: dict[str, type[BaseModel]] = {
    UPDATE_SESSION: requests.IntegrationRequest,
    RETURN_CART_ITEMS: requests.ReturnIntegrationRequest,
    UPDATE_PROFILE: requests.CustomerProfileIntegrationRequestV2,
}


def _check_write(write: shopify.Write) -> None:
    """The write as Talon.One's own model takes it: what it refuses is never queued."""
    model = _BODY_MODELS.get(write.operation)
    if model is None or write.body is None:
        return
    try:
        model.model_validate(write.body)
    except ValidationError as exc:
        problems = [
            FieldProblem(
                "Not accepted by Talon.One",
                f"The {write.operation} request this webhook maps to is invalid: {error['msg']}",
                pointer=http_errors.json_pointer(error["loc"]),
            )
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidRequest(problems) from None


def _claimed_shop(headers: dict[str, list[str]]) -> str | None:
    """The shop the (unsigned) headers name, to choose the secrets that may verify it; the
    verification reads the headers again, strictly."""
    values = [
        value
        for name, listed in headers.items()
        if name.lower() in ("x-shopify-shop-domain", "shopify-shop-domain")
        for value in listed
    ]
    return values[0].lower() if len(values) == 1 else None


def _verified(event: dict[str, Any]) -> tuple[shopify.ShopifyWebhook, bytes]:
    body = raw_body(event)
    configured = get_inbound_secrets().shopify_webhook_secrets
    if not configured:
        raise ConfigurationError(
            "INBOUND_SECRET_ID has no shopifyWebhookSecrets: every Shopify webhook is refused"
        )
    headers = header_values(event)
    shop = _claimed_shop(headers)
    # Only the secrets of the apps serving that shop: a body signed by one merchant's app is
    # not accepted as another shop's webhook. None serves it: refused as wrongly signed (401).
    secrets = [s.secret.get_secret_value() for s in configured if shop is None or s.serves(shop)]
    if not secrets:
        raise Unauthenticated(WRONG_SIGNATURE)
    webhook = shopify.verify_webhook(body, headers, secrets)
    return webhook, body


def _mapped(webhook: shopify.ShopifyWebhook, body: bytes) -> tuple[shopify.Outcome, Any]:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise InvalidRequest(
            [FieldProblem("Invalid body", "The body is not valid UTF-8", pointer="")]
        ) from None
    payload = parse_json(text)
    config = get_shopify_config()
    outcome = shopify.map_webhook(webhook, payload, config)
    if isinstance(outcome, shopify.UnknownOrder):
        # A refund: mapped for real when delivered (its order's record), checked now against an
        # order holding every line it names, so that a malformed refund is refused here.
        lines = payload.get("refund_line_items") if isinstance(payload, dict) else None
        named = tuple(str(line.get("line_item_id")) for line in lines or [] if isinstance(line, dict))
        probe = shopify.OrderRecord(outcome.order_id, "probe", named, None, webhook.shop_domain)
        checked = shopify.map_webhook(webhook, payload, config, order=probe)
        if isinstance(checked, shopify.Acknowledge):
            return checked, payload
    if isinstance(outcome, shopify.Deliver):
        _check_write(outcome.write)
    return outcome, payload


def _accept(
    webhook: shopify.ShopifyWebhook, outcome: shopify.Outcome, payload: Any, application: str
) -> Delivery:
    from talon_gateway.delivery import deliveries, idempotency, queue
    from talon_gateway.delivery import shopify as jobs

    job = jobs.job_of(webhook, outcome, payload)

    def enqueue() -> Delivery:
        request = deliveries.Request(
            operation=jobs.OPERATION_PREFIX + webhook.topic,
            path_values={},
            query=[],
            body=jobs.encode(job),
            idempotency_key=None,
            group=queue.group_of(application, job.entity),
            application=application,
        )
        delivery_id = queue.enqueue(
            request,
            dedup=queue.digest(f"{webhook.shop_domain}#{webhook.dedup_key}"),
            # An erasure's own record is not indexed: it would erase itself (it is scrubbed).
            index=False if job.kind == "erase" else job.mentions(),
            attributes={"topic": webhook.topic},
        )
        return Delivery(202, JSON, json.dumps({"deliveryId": delivery_id, "state": "queued"}))

    # Once per event and topic (else per webhook id) and shop: a duplicate is answered the same.
    return idempotency.deliver_once(
        SHOPIFY_WEBHOOK,
        f"{webhook.shop_domain}#{webhook.dedup_key}",
        path_values={},
        query={},
        body=None,  # the key alone decides: two subscriptions' copies of one event are one
        send=enqueue,
    )


def _acknowledge(webhook: shopify.ShopifyWebhook, reason: str) -> Response[str]:
    metrics.add_metric("ShopifyWebhooksAcknowledged", MetricUnit.Count, 1)
    if reason == "unhandled_topic":
        metrics.add_metric("ShopifyTopicsUnhandled", MetricUnit.Count, 1)
    logger.info("shopify webhook acknowledged", extra={"topic": webhook.topic, "reason": reason})
    return Response(200, JSON, json.dumps({"acknowledged": reason}))


def _serve(event: dict[str, Any], context: LambdaContext) -> Response[str]:
    webhook, body = _verified(event)
    application = get_talon_secret().for_shop(webhook.shop_domain)
    if application is None:
        metrics.add_metric("ShopifyShopNotConfigured", MetricUnit.Count, 1)
        raise ShopNotConfigured
    outcome, payload = _mapped(webhook, body)
    if isinstance(outcome, shopify.Acknowledge):
        return _acknowledge(webhook, outcome.reason)
    from talon_gateway.delivery import idempotency

    idempotency.register(context)
    delivery = _accept(webhook, outcome, payload, application)
    metrics.add_metric(
        "ShopifyWebhooksRepeated" if delivery.replayed else "ShopifyWebhooksQueued", MetricUnit.Count, 1
    )
    logger.info(
        "shopify webhook queued" if not delivery.replayed else "shopify webhook repeated: already queued",
        extra={"topic": webhook.topic, "application": application},
    )
    return respond(delivery)


def serve(app: APIGatewayRestResolver) -> Response[str]:
    """The route's body: the resolver routed the event; nothing of it is parsed before the HMAC."""
    return _serve(app.current_event.raw_event, app.lambda_context)


def lambda_handler_for_shopify(app: APIGatewayRestResolver) -> LambdaHandler:
    """The Shopify function's entry point: observability around the resolver (its errors are
    mapped by http_errors, as on every route)."""
    snapstart.register()

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_dimension("operation", SHOPIFY_WEBHOOK.name)
        metrics.add_metric("Requests", MetricUnit.Count, 1)
        result: dict[str, Any] = app.resolve(event, context)
        request_id = (event.get("requestContext") or {}).get("requestId")
        if request_id:
            result.setdefault("multiValueHeaders", {})[CORRELATION_HEADER] = [request_id]
        return result

    return observed(handle, correlation_paths.API_GATEWAY_REST)


_ERRORS = {
    400: "A header is missing, repeated or malformed, or the payload does not map (the field named)",
    401: "The HMAC is missing, repeated, malformed or does not match a client secret",
    403: "No Talon.One application is configured for the shop",
    413: "The body is larger than MAX_BODY_BYTES",
    500: "The gateway is misconfigured (no shopifyWebhookSecrets, SHOPIFY_CONFIG invalid)",
    503: "The job could not be queued (the event is not marked as seen: Shopify's retry is queued)",
}


def responses() -> dict[int, Any]:
    """The OpenAPI responses of POST /webhooks/shopify."""
    acknowledged = 'Acknowledged: a topic that sends nothing to Talon.One ({"acknowledged": reason})'
    queued = 'Queued ({"deliveryId", "state": "queued"}); a repeat gets the same, Idempotent-Replayed'
    documented: dict[int, Any] = {200: {"description": acknowledged}, 202: {"description": queued}}
    for code, text in _ERRORS.items():
        documented[code] = {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    return documented
