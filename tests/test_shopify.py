"""POST /webhooks/shopify and the worker's Shopify jobs, function by function.

The Shopify function and the delivery worker run in-process with API Gateway events; AWS is
moto over HTTP (fresh FIFO queues per test), Talon.One a recording server that counts what
reaches it. The storefront story through the local runner and the sandbox:
tests/test_shopify_e2e.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from local_gateway.shopify import FIXTURES, LOCAL_SHOP, api_gateway_event, hmac_header, webhook_headers
from talon_gateway.delivery import aws as clients
from talon_gateway.delivery import idempotency
from talon_gateway.delivery.queue import digest
from tests.conftest import Invoke, body_json, header, load_event
from tests.support import aws
from tests.support.faulty_aws import FaultyAws
from tests.support.queues import Worker, messages
from tests.support.upstream import Answer, RecordingUpstream

OTHER_SECRET = "previous-shopify-client-secret-still-valid-0001"
WRONG_SECRET = "some-other-apps-client-secret-not-ours-000001"


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return document


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def webhook(
    topic: str,
    payload: dict[str, Any] | bytes,
    *,
    secret: str = aws.SHOPIFY_SECRET,
    shop: str = LOCAL_SHOP,
    event_id: str | None = None,
    webhook_id: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else encode(payload)
    headers = webhook_headers(topic, body, secret=secret, shop=shop, event_id=event_id, webhook_id=webhook_id)
    return api_gateway_event(headers, body, base64_body=base64_body)


def without(event: dict[str, Any], name: str) -> dict[str, Any]:
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != name.lower()}
    event["multiValueHeaders"] = {
        k: v for k, v in event["multiValueHeaders"].items() if k.lower() != name.lower()
    }
    return event


def send(invoke: Invoke, event: dict[str, Any]) -> dict[str, Any]:
    return invoke("shopify_webhook", event)


def emitted(capsys: pytest.CaptureFixture[str]) -> Counter[str]:
    """The metrics the functions emitted so far (their EMF lines on stdout), summed by name."""
    counts: Counter[str] = Counter()
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            for definition in document["_aws"]["CloudWatchMetrics"]:
                for metric in definition["Metrics"]:
                    counts[metric["Name"]] += int(sum(document[metric["Name"]]))
    return counts


def drain(worker: Worker, rounds: int = 6) -> None:
    """Poll until the queue is empty (held-back messages become visible after their backoff)."""
    for _ in range(rounds):
        if worker()["messages"] == 0 and not messages():
            return
        time.sleep(1.1)


@pytest.fixture(autouse=True)
def _forget_shopify_state(moto_endpoint: str) -> None:
    """Each test starts with no remembered sessions, profiles or orders (the fixtures share ids)."""
    from local_gateway import aws_resources

    dynamodb = aws_resources.client("dynamodb", moto_endpoint, aws.REGION)
    for item in dynamodb.scan(TableName=aws.STATE_TABLE)["Items"]:
        dynamodb.delete_item(TableName=aws.STATE_TABLE, Key={"pk": item["pk"], "sk": item["sk"]})


@pytest.fixture
def sessions_ok(recorded_gateway: RecordingUpstream) -> RecordingUpstream:
    recorded_gateway.default = Answer(200, b'{"effects":[],"customerSession":{"state":"open"}}')
    return recorded_gateway


@pytest.fixture
def talon_secret(moto_endpoint: str) -> Iterator[None]:
    """Restore the test deployment's Talon.One secret after a test changed it."""
    yield
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())


# -- verification: the signature matrix ---------------------------------------------------------


def _repeated_hmac(event: dict[str, Any]) -> dict[str, Any]:
    value = event["headers"]["X-Shopify-Hmac-Sha256"]
    event["multiValueHeaders"]["X-Shopify-Hmac-Sha256"] = [value, value]
    return event


def _tampered(event: dict[str, Any]) -> dict[str, Any]:
    event["body"] = event["body"].replace('"quantity": 2', '"quantity": 20')
    return event


def _rotated(event: dict[str, Any]) -> dict[str, Any]:
    body = event["body"].encode()
    for field in ("headers", "multiValueHeaders"):
        value = hmac_header(body, OTHER_SECRET)
        event[field]["X-Shopify-Hmac-Sha256"] = value if field == "headers" else [value]
    return event


def _unprefixed(event: dict[str, Any]) -> dict[str, Any]:
    for field in ("headers", "multiValueHeaders"):
        event[field] = {
            (k[2:].lower() if k.lower().startswith("x-shopify-") else k): v for k, v in event[field].items()
        }
    return event


MATRIX = [
    # (case, how the event is changed, status, Talon.One called)
    ("valid", lambda e: e, 202, True),
    ("rotated secret (the previous one)", _rotated, 202, True),
    ("unprefixed shopify-* headers", _unprefixed, 202, True),
    ("base64 body from API Gateway", None, 202, True),
    ("wrong secret", lambda e: webhook("carts/update", fixture("cart"), secret=WRONG_SECRET), 401, False),
    ("tampered body", _tampered, 401, False),
    ("missing HMAC", lambda e: without(e, "X-Shopify-Hmac-Sha256"), 401, False),
    ("repeated HMAC", _repeated_hmac, 401, False),
    ("missing topic", lambda e: without(e, "X-Shopify-Topic"), 400, False),
    ("missing shop domain", lambda e: without(e, "X-Shopify-Shop-Domain"), 400, False),
]


@pytest.mark.parametrize(("case", "change", "status", "called"), MATRIX, ids=[m[0] for m in MATRIX])
def test_the_signature_matrix(
    case: str,
    change: Any,
    status: int,
    called: bool,
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
) -> None:
    # Given the client secret being rotated: the new one and the previous one both configured
    aws.set_inbound_secrets(
        moto_endpoint, aws.inbound_secrets(shopifyWebhookSecrets=[aws.SHOPIFY_SECRET, OTHER_SECRET])
    )
    try:
        event = webhook("carts/update", fixture("cart"), base64_body=change is None)
        response = send(invoke, event if change is None else change(event))
        drain(worker, rounds=2)
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    # Then the status, and Talon.One reached only by a verified webhook
    assert response["statusCode"] == status, (case, response["body"])
    assert (len(sessions_ok.requests) == 1) is called, case
    if status == 401:
        assert header(response, "WWW-Authenticate") is not None
        assert body_json(response)["message"] == "Authentication required"


def test_a_missing_topic_names_the_header(invoke: Invoke, queues: None) -> None:
    response = send(invoke, without(webhook("carts/update", fixture("cart")), "X-Shopify-Topic"))
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["source"] == {"parameter": "X-Shopify-Topic"}
    assert messages() == []


def test_without_shopify_secrets_every_webhook_is_refused_and_the_api_still_works(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    queues: None,
    moto_endpoint: str,
) -> None:
    # Given an inbound secret of the first release's shape: no shopifyWebhookSecrets
    aws.set_inbound_secrets(moto_endpoint, {"bearerTokens": [aws.BEARER_TOKEN]})
    try:
        shopify = send(invoke, webhook("carts/update", fixture("cart")))
        api = invoke("get_customer_inventory", load_event("get_customer_inventory"))
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    # Then Shopify's webhooks are refused as misconfigured, nothing queued; the API is unaffected
    assert shopify["statusCode"] == 500
    assert messages() == []
    assert api["statusCode"] == 200


def test_a_secret_with_only_shopify_secrets_serves_shopify_and_refuses_api_callers(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    queues: None,
    moto_endpoint: str,
) -> None:
    aws.set_inbound_secrets(moto_endpoint, {"shopifyWebhookSecrets": [aws.SHOPIFY_SECRET]})
    try:
        shopify = send(invoke, webhook("carts/update", fixture("cart")))
        api = invoke("get_customer_inventory", load_event("get_customer_inventory"))
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    assert shopify["statusCode"] == 202
    assert api["statusCode"] == 401


def test_a_short_shopify_secret_is_a_configuration_error(
    invoke: Invoke,
    queues: None,
    moto_endpoint: str,
) -> None:
    aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets(shopifyWebhookSecrets=["too-short"]))
    try:
        response = send(invoke, webhook("carts/update", fixture("cart")))
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    assert response["statusCode"] == 500
    assert "too-short" not in response["body"]


# -- fast and once -------------------------------------------------------------------------------


def test_a_webhook_is_answered_before_talon_one_is_asked(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    # Given Talon.One answering slowly
    recorded_gateway.default = Answer(200, b'{"effects":[]}', delay=3.0)
    # When Shopify delivers a cart update
    response = send(invoke, webhook("carts/update", fixture("cart")))
    # Then it is queued (202) without Talon.One having been asked anything
    assert response["statusCode"] == 202, response["body"]
    assert body_json(response)["state"] == "queued"
    assert recorded_gateway.requests == []
    (message,) = messages()
    assert message["Attributes"]["MessageGroupId"] == digest("session:c1-7a2abe82733a34e84aa472d57fb5c3c1")
    assert json.loads(message["Body"]).keys() == {"deliveryId"}


def test_a_duplicate_event_reaches_talon_one_once(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    # Given the same event delivered twice (Shopify's retry, or two subscriptions: new webhook ids)
    first = send(invoke, webhook("carts/update", fixture("cart"), event_id="evt-1", webhook_id="w-1"))
    again = send(invoke, webhook("carts/update", fixture("cart"), event_id="evt-1", webhook_id="w-2"))
    # Then both are answered 202 with the same delivery, the second marked replayed
    assert (first["statusCode"], again["statusCode"]) == (202, 202)
    assert body_json(again) == body_json(first)
    assert header(again, "Idempotent-Replayed") == "true"
    drain(worker)
    assert len(sessions_ok.requests) == 1
    # and the same event id under another topic is another webhook
    other = send(invoke, webhook("carts/create", fixture("cart"), event_id="evt-1"))
    assert body_json(other)["deliveryId"] != body_json(first)["deliveryId"]


def test_without_an_event_id_the_webhook_id_deduplicates(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    def no_event_id(webhook_id: str) -> dict[str, Any]:
        return without(webhook("carts/update", fixture("cart"), webhook_id=webhook_id), "X-Shopify-Event-Id")

    first = send(invoke, no_event_id("w-9"))
    again = send(invoke, no_event_id("w-9"))
    other = send(invoke, no_event_id("w-10"))
    assert body_json(again) == body_json(first)
    assert body_json(other) != body_json(first)
    assert len(messages()) == 2


def test_a_webhook_that_cannot_be_queued_is_a_503_and_not_marked_seen(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given SQS refusing every message
    with FaultyAws(moto_endpoint) as faulty:
        monkeypatch.setenv("AWS_ENDPOINT_URL", faulty.url)
        faulty.fail("AmazonSQS.SendMessage", count=1000)
        refused = send(invoke, webhook("orders/paid", fixture("order"), event_id="evt-503"))
    # Then 503 with Retry-After: Shopify retries
    assert refused["statusCode"] == 503
    assert header(refused, "Retry-After") is not None
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    clients.reset()
    idempotency.reset()
    # and its retry, once SQS is back, is queued and delivered: the event was not marked as seen
    retried = send(invoke, webhook("orders/paid", fixture("order"), event_id="evt-503"))
    assert retried["statusCode"] == 202
    assert header(retried, "Idempotent-Replayed") is None
    drain(worker)
    assert len(sessions_ok.requests) == 1


# -- what is queued, what is acknowledged ------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("orders/create", "order", "order_topic_not_closing"),
        ("shop/redact", "shop_redact", "shop_redact"),
        ("app/uninstalled", "app_uninstalled", "app_uninstalled"),
        ("products/update", "cart", "unhandled_topic"),
    ],
)
def test_topics_that_send_nothing_are_acknowledged_at_once(
    topic: str,
    payload: str,
    reason: str,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    queues: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = send(invoke, webhook(topic, fixture(payload)))
    assert response["statusCode"] == 200
    assert body_json(response) == {"acknowledged": reason}
    assert messages() == []
    assert recorded_gateway.requests == []
    # counted: acknowledged, and a topic the gateway does not handle as such
    metrics = emitted(capsys)
    assert metrics["ShopifyWebhooksAcknowledged"] == 1
    assert metrics["ShopifyTopicsUnhandled"] == (1 if reason == "unhandled_topic" else 0)
    assert metrics["ShopifyWebhooksQueued"] == 0


def test_a_payload_that_does_not_map_is_refused_with_its_field(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    queues: None,
) -> None:
    cart = fixture("cart")
    cart["line_items"][0]["quantity"] = "two"
    response = send(invoke, webhook("carts/update", cart))
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["source"] == {"pointer": "/line_items/0/quantity"}
    assert messages() == []


def test_a_body_that_is_not_json_is_a_400(invoke: Invoke, queues: None) -> None:
    response = send(invoke, webhook("carts/update", b'{"token": "abc",'))
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["title"] == "Invalid JSON"


def test_a_write_talon_ones_model_refuses_is_never_queued() -> None:
    # The mapping's output is checked by today's request models before anything is queued
    from talon_gateway.api.shopify import _check_write
    from talon_gateway.errors import InvalidRequest
    from talon_gateway.sources.shopify import Write

    write = Write(
        operation="updateCustomerSessionV2",
        path={"customerSessionId": "s"},
        query={},
        body={"customerSession": {"cartItems": [{"sku": "1", "quantity": 0, "price": 1.0}]}},
        entity="session:s",
        kind="session_update",
        updated_at=None,
    )
    with pytest.raises(InvalidRequest) as refused:
        _check_write(write)
    assert refused.value.problems[0].pointer == "/customerSession/cartItems/0/quantity"


def test_the_queued_job_keeps_no_personal_data(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    queues: None,
    moto_endpoint: str,
) -> None:
    order = fixture("order")
    send(invoke, webhook("orders/paid", order))
    send(invoke, webhook("customers/redact", fixture("customers_redact")))
    send(invoke, webhook("refunds/create", fixture("refund")))
    stored = json.dumps(aws_items(moto_endpoint, aws.STATE_TABLE))
    for value in ("buyer@example.com", "Bob", "Norman", "Chestnut", "555-625-1199", "192.0.2.10"):
        assert value not in stored, value


def aws_items(endpoint: str, table: str) -> list[dict[str, Any]]:
    from local_gateway import aws_resources

    dynamodb = aws_resources.client("dynamodb", endpoint, aws.REGION)
    return list(dynamodb.scan(TableName=table)["Items"])


# -- the worker: staleness, closed sessions, refunds -------------------------------------------


def _cart_at(minutes: int, quantity: int) -> dict[str, Any]:
    cart = fixture("cart")
    cart["updated_at"] = (datetime(2026, 5, 4, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()
    cart["line_items"] = cart["line_items"][:1]
    cart["line_items"][0]["quantity"] = quantity
    return cart


def test_an_older_update_arriving_late_is_dropped(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the newer cart delivered first
    send(invoke, webhook("carts/update", _cart_at(10, 3)))
    drain(worker)
    # When the older one (Shopify keeps no order between webhooks) comes afterwards, with an offset
    older = _cart_at(5, 1)
    older["updated_at"] = (
        datetime(2026, 5, 4, 9, 5, tzinfo=UTC).astimezone(timezone(timedelta(hours=-4))).isoformat()
    )
    capsys.readouterr()
    send(invoke, webhook("carts/update", older))
    drain(worker)
    # Then only the newer reached Talon.One; the older one was dropped, and counted
    assert len(sessions_ok.requests) == 1
    assert emitted(capsys)["ShopifyWebhooksDropped"] == 1
    assert json.loads(sessions_ok.requests[0].body)["customerSession"]["cartItems"][0]["quantity"] == 3


def test_an_update_at_the_same_instant_is_applied(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    send(invoke, webhook("carts/update", _cart_at(10, 3)))
    send(invoke, webhook("carts/update", _cart_at(10, 4)))
    drain(worker)
    assert len(sessions_ok.requests) == 2


def test_cart_updates_after_the_order_closed_the_session_are_not_sent(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    order = fixture("order")
    send(invoke, webhook("orders/paid", order))
    drain(worker)
    cart = fixture("cart")
    cart["updated_at"] = "2030-01-01T00:00:00Z"  # even newer
    send(invoke, webhook("carts/update", cart))
    drain(worker)
    bodies = [json.loads(r.body) for r in sessions_ok.requests]
    assert [b["customerSession"]["state"] for b in bodies] == ["closed"]


def test_a_refund_names_the_lines_of_the_closed_session(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    send(invoke, webhook("orders/paid", fixture("order")))
    drain(worker)
    sessions_ok.default = Answer(200, b'{"effects":[]}')
    send(invoke, webhook("refunds/create", fixture("refund")))
    drain(worker)
    returned = sessions_ok.requests[-1]
    assert returned.target.startswith("/v2/customer_sessions/c1-7a2abe82733a34e84aa472d57fb5c3c1/returns")
    assert returned.headers["idempotency-key"] == f"shopify-refund-{fixture('refund')['id']}"
    items = json.loads(returned.body)["return"]["returnedCartItems"]
    assert items
    assert all(set(item) == {"position", "quantity"} for item in items)


def test_a_refund_of_an_unknown_order_is_retried_then_dead_lettered(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    send(invoke, webhook("refunds/create", fixture("refund")))
    for _ in range(4):
        worker()
        time.sleep(1.2)
    assert sessions_ok.requests == []
    assert len(messages("DeadLetterQueue")) == 1
    # each attempt (MaxReceiveCount=3) counted the order as not yet known
    assert emitted(capsys)["ShopifyOrderUnknown"] == 3


def test_a_refund_queued_before_its_order_is_delivered_once_the_order_is(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    send(invoke, webhook("refunds/create", fixture("refund")))
    worker()  # the order is not known yet: held back
    send(invoke, webhook("orders/paid", fixture("order")))
    drain(worker)
    assert [r.method for r in sessions_ok.requests] == ["PUT", "POST"]


# -- compliance: redact and data requests ------------------------------------------------------


def test_a_data_request_exports_to_an_encrypted_object_and_logs_its_location(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from local_gateway import aws_resources

    sessions_ok.default = Answer(200, b'{"profile":{"integrationId":"207119551","attributes":{}}}')
    request = fixture("customers_data_request")
    send(invoke, webhook("customers/data_request", request))
    drain(worker)
    inventory = sessions_ok.requests[0]
    assert inventory.method == "GET"
    assert inventory.target.startswith(f"/v1/customer_profiles/{request['customer']['id']}/inventory?")
    s3 = aws_resources.client("s3", moto_endpoint, aws.REGION)
    key = f"exports/{LOCAL_SHOP}/{request['data_request']['id']}.json"
    head = s3.head_object(Bucket=aws.BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    exported = json.loads(s3.get_object(Bucket=aws.BUCKET, Key=key)["Body"].read())
    assert exported["talonOne"]["customerInventory"]["profile"]["integrationId"] == "207119551"
    assert key in capfd.readouterr().out


def test_a_redact_erases_talon_one_and_everything_the_gateway_keeps(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
) -> None:
    from local_gateway import aws_resources

    # Given the customer's checkout, order, and a data export
    redact = fixture("customers_redact")
    customer = str(redact["customer"]["id"])
    checkout = fixture("checkout")
    checkout["customer"]["id"] = int(customer)
    order = fixture("order")
    order["customer"]["id"] = int(customer)
    send(invoke, webhook("checkouts/update", checkout))
    send(invoke, webhook("orders/paid", order))
    sessions_ok.default = Answer(200, b'{"profile":{"integrationId":"%s"}}' % customer.encode())
    send(
        invoke,
        webhook(
            "customers/data_request", fixture("customers_data_request") | {"customer": redact["customer"]}
        ),
    )
    drain(worker)
    state = aws_resources.client("dynamodb", moto_endpoint, aws.REGION)
    before = json.dumps(state.scan(TableName=aws.STATE_TABLE)["Items"])
    assert customer in before

    # When the customer asks for erasure
    sessions_ok.default = Answer(204, b"", headers={})
    response = send(invoke, webhook("customers/redact", redact))
    assert response["statusCode"] == 202
    drain(worker)

    # Then Talon.One erased the profile...
    erase = sessions_ok.requests[-1]
    assert (erase.method, erase.target) == ("DELETE", f"/v1/customer_data/{customer}")
    # ...and no table, queue or bucket of the gateway names the customer any more
    for table in (aws.STATE_TABLE, aws.IDEMPOTENCY_TABLE):
        assert customer not in json.dumps(state.scan(TableName=table)["Items"]), table
    s3 = aws_resources.client("s3", moto_endpoint, aws.REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws.BUCKET, Prefix="exports/").get("Contents", [])]
    assert keys == []
    assert messages() == []
    assert messages("DeadLetterQueue") == []


def test_a_redact_of_a_customer_talon_one_never_had_is_done(
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    recorded_gateway.default = Answer(404, b'{"message":"not found","errors":[]}')
    send(invoke, webhook("customers/redact", fixture("customers_redact")))
    drain(worker)
    assert messages("DeadLetterQueue") == []


# -- several shops, several applications --------------------------------------------------------


def test_each_shop_reaches_its_own_application(
    invoke: Invoke,
    worker: Worker,
    moto_endpoint: str,
    talon_secret: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RecordingUpstream() as eu, RecordingUpstream() as us:
        aws.set_talon_credentials(
            moto_endpoint,
            {
                "applications": {
                    "eu": {"apiKey": "eu-key", "baseUrl": eu.url, "shopifyShops": ["eu-store.myshopify.com"]},
                    "us": {"apiKey": "us-key", "baseUrl": us.url, "shopifyShops": ["us-store.myshopify.com"]},
                }
            },
        )
        send(invoke, webhook("carts/update", fixture("cart"), shop="eu-store.myshopify.com"))
        send(invoke, webhook("carts/update", fixture("cart"), shop="us-store.myshopify.com"))
        unknown = send(invoke, webhook("carts/update", fixture("cart"), shop="other.myshopify.com"))
        drain(worker)
        assert [r.headers["authorization"] for r in eu.requests] == ["ApiKey-v1 eu-key"]
        assert [r.headers["authorization"] for r in us.requests] == ["ApiKey-v1 us-key"]
    # A shop no application lists: 403, nothing queued, counted
    assert unknown["statusCode"] == 403
    assert body_json(unknown)["message"] == "No Talon.One application is configured for this shop"
    assert emitted(capsys)["ShopifyShopNotConfigured"] == 1


def test_the_first_releases_secret_serves_every_shop(
    sessions_ok: RecordingUpstream,
    invoke: Invoke,
    worker: Worker,
) -> None:
    response = send(invoke, webhook("carts/update", fixture("cart"), shop="any-shop.myshopify.com"))
    assert response["statusCode"] == 202
    drain(worker)
    assert sessions_ok.requests[0].headers["authorization"] == f"ApiKey-v1 {aws.API_KEY}"


def test_a_secret_bound_to_its_shops_verifies_no_other_shops_webhooks(
    sessions_ok: RecordingUpstream, invoke: Invoke, worker: Worker, moto_endpoint: str
) -> None:
    # Given each merchant's app with its own client secret, bound to its shop
    aws.set_inbound_secrets(
        moto_endpoint,
        aws.inbound_secrets(
            shopifyWebhookSecrets=[
                {"secret": aws.SHOPIFY_SECRET, "shops": ["merchant-a.myshopify.com"]},
                {"secret": OTHER_SECRET, "shops": ["merchant-b.myshopify.com"]},
            ]
        ),
    )
    try:
        own = send(invoke, webhook("carts/update", fixture("cart"), shop="merchant-a.myshopify.com"))
        # When merchant A's signed body is sent as merchant B's (the shop header is not signed)
        forged = webhook("carts/update", fixture("cart"), shop="merchant-a.myshopify.com")
        for field in ("headers", "multiValueHeaders"):
            value = "merchant-b.myshopify.com"
            forged[field]["X-Shopify-Shop-Domain"] = value if field == "headers" else [value]
        refused = send(invoke, forged)
        unknown = send(invoke, webhook("carts/update", fixture("cart"), shop="merchant-c.myshopify.com"))
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    # Then only the genuine one is queued
    assert (own["statusCode"], refused["statusCode"], unknown["statusCode"]) == (202, 401, 401)
    drain(worker)
    assert len(sessions_ok.requests) == 1
