"""The storefront story end to end: Shopify's webhooks over HTTP → the local gateway → SQS FIFO →
the delivery worker → the Talon.One sandbox, as `make run` starts them.

A shopper's cart is created and updated, checks out with a coupon, pays (the session closes and
the coupon is redeemed), gets a partial refund (the session is partially returned), updates
their account, and asks for erasure: the profile is gone from Talon.One and nothing of the
customer is left in the gateway's tables, queues or bucket. The same story with its webhooks
shuffled and duplicated ends in the same Talon.One state.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local_gateway import aws_resources
from local_gateway.shopify import FIXTURES, webhook_headers
from local_gateway.stack import BUCKET_NAME, IDEMPOTENCY_TABLE_NAME, STATE_TABLE_NAME, LocalStack
from tests.conftest import reset_sandbox

# A stack to start and every delivery to settle, on a slow machine: more than the default 120 s.
pytestmark = pytest.mark.timeout(300)
COUPON = "SUMMER20"  # the sandbox's valid 20 % coupon (sandbox/README.md, seed ids)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    parameters = {
        "MaxReceiveCount": "6",
        "MaxBackoffSeconds": "1",
        # The merchant chose to send the first name (the default sends no personal data)
        "ShopifyConfig": json.dumps({"customerAttributes": {"first_name": "FirstName"}}),
    }
    with LocalStack(port=0, sandbox_port=0, workers=2, parameters=parameters) as running:
        yield running


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return document


def story(run: str) -> list[tuple[str, dict[str, Any]]]:
    """One shopper's webhooks, in the order Shopify triggered them; ids made unique per run."""
    token = f"c1-{run}7a2abe82733a34e84aa472d57fb5c3c1"
    customer = {"id": 207119551 + int(run), "email": f"shopper{run}@example.com", "first_name": "Bob"}
    order_id = 450789469 + int(run)

    created = fixture("cart") | {"token": f"{token}?key=secret{run}", "updated_at": "2026-05-04T09:10:00Z"}
    created["line_items"] = created["line_items"][:1]
    updated = fixture("cart") | {"token": f"{token}?key=secret{run}"}
    checkout = fixture("checkout") | {
        "cart_token": f"{token}?key=secret{run}",
        "customer": fixture("checkout")["customer"] | customer,
        "discount_codes": [{"code": COUPON, "amount": "9.00", "type": "percentage"}],
    }
    order = fixture("order") | {
        "id": order_id,
        "cart_token": f"{token}?key=secret{run}",
        "customer": fixture("order")["customer"] | customer,
        "discount_codes": [{"code": COUPON, "amount": "9.00", "type": "percentage"}],
    }
    refund = fixture("refund") | {"order_id": order_id, "id": 509562969 + int(run)}
    profile = fixture("customer") | customer
    return [
        ("carts/create", created),
        ("carts/update", updated),
        ("checkouts/update", checkout),
        ("orders/create", order),  # acknowledged: orders/paid closes
        ("orders/paid", order),
        ("refunds/create", refund),
        ("customers/update", profile),
    ]


def redact(run: str) -> dict[str, Any]:
    return fixture("customers_redact") | {
        "customer": {
            "id": 207119551 + int(run),
            "email": f"shopper{run}@example.com",
            "phone": "+15555550123",
        },
        "orders_to_redact": [450789469 + int(run)],
    }


def post(stack: LocalStack, topic: str, payload: dict[str, Any], event_id: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = webhook_headers(topic, body, secret=stack.shopify_secret, event_id=event_id)
    return httpx.post(f"{stack.url}/webhooks/shopify", content=body, headers=headers, timeout=30)


def aws(stack: LocalStack, service: str) -> Any:
    return aws_resources.client(
        service, stack.environment["AWS_ENDPOINT_URL"], stack.environment["AWS_DEFAULT_REGION"]
    )


def settle(stack: LocalStack, timeout: float = 90) -> None:
    """Until the queue is empty and no delivery is queued or failed (to be retried)."""
    sqs, dynamodb = aws(stack, "sqs"), aws(stack, "dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue_urls["DeliveryQueue"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        in_queue = sum(int(v) for v in attributes.values())
        pending = [
            item
            for item in dynamodb.scan(TableName=STATE_TABLE_NAME)["Items"]
            if item["pk"]["S"].startswith("delivery#") and item["state"]["S"] in ("queued", "failed")
        ]
        if in_queue == 0 and not pending:
            return
        time.sleep(0.3)
    raise AssertionError("the deliveries never settled")


def talon(stack: LocalStack, run: str) -> dict[str, Any]:
    """What Talon.One holds of the run's shopper: the session, the profile's attributes, the coupon."""
    state = httpx.get(f"{stack.talon_url}/_sandbox/state", timeout=10).json()
    session = state["sessions"].get(f"c1-{run}7a2abe82733a34e84aa472d57fb5c3c1")
    profile = state["profiles"].get(str(207119551 + int(run)))
    coupon = next(c for c in state["coupons"].values() if c["value"] == COUPON)
    kept = None
    if session is not None:
        kept = {k: session.get(k) for k in ("state", "profileId", "couponCodes", "cartItems")}
        for item in kept["cartItems"] or []:
            item.pop("position", None)
    attributes = None if profile is None else profile["attributes"]
    return {"session": kept, "profile": attributes, "couponUsage": coupon.get("usageCounter")}


def gateway_holds(stack: LocalStack, text: str) -> list[str]:
    """Where in the gateway's tables, queues and bucket ``text`` still appears."""
    found: list[str] = []
    dynamodb, sqs, s3 = aws(stack, "dynamodb"), aws(stack, "sqs"), aws(stack, "s3")
    for table in (STATE_TABLE_NAME, IDEMPOTENCY_TABLE_NAME):
        found += [
            f"{table}:{i['pk' if 'pk' in i else 'id']}"
            for i in dynamodb.scan(TableName=table)["Items"]
            if text in json.dumps(i)
        ]
    for name, url in stack.queue_urls.items():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        found += [name for m in messages if text in m["Body"]]
    for entry in s3.list_objects_v2(Bucket=BUCKET_NAME).get("Contents", []):
        if text in s3.get_object(Bucket=BUCKET_NAME, Key=entry["Key"])["Body"].read().decode(
            errors="replace"
        ):
            found.append(entry["Key"])
    return found


def test_the_storefront_story(stack: LocalStack) -> None:
    reset_sandbox(stack)
    run = "1"
    # When Shopify delivers the shopper's webhooks as they happen, each answered at once
    for number, (topic, payload) in enumerate(story(run)):
        response = post(stack, topic, payload, event_id=f"{run}-{number}")
        assert response.status_code in (200, 202), (topic, response.text)
        settle(stack)
        if topic == "carts/update":
            assert talon(stack, run)["session"]["state"] == "open"
        if topic == "checkouts/update":
            assert talon(stack, run)["session"]["couponCodes"] == [COUPON]
        if topic == "orders/paid":
            # the session is closed and the coupon redeemed
            assert talon(stack, run)["session"]["state"] == "closed"
            assert talon(stack, run)["couponUsage"] == 1
    # Then the refund left the session partially returned, and the profile exists
    final = talon(stack, run)
    assert final["session"]["state"] == "partially_returned"
    assert final["session"]["profileId"] == str(207119551 + int(run))
    assert final["profile"] == {"FirstName": "Bob"}

    # When the customer asks for erasure
    assert post(stack, "customers/redact", redact(run), event_id=f"{run}-redact").status_code == 202
    settle(stack)
    # Then Talon.One erased the profile's data, and the gateway holds nothing of the customer
    assert talon(stack, run)["profile"] == {}
    for trace in (str(207119551 + int(run)), f"shopper{run}@example.com", "+15555550123"):
        assert gateway_holds(stack, trace) == [], trace


def test_shuffled_and_duplicated_deliveries_end_in_the_same_state(stack: LocalStack) -> None:
    # Given the story delivered in order (run 2) ...
    reset_sandbox(stack)
    for number, (topic, payload) in enumerate(story("2")):
        assert post(stack, topic, payload, event_id=f"2-{number}").status_code in (200, 202)
        settle(stack)
    in_order = talon(stack, "2")

    # ... and the same story shuffled, each webhook delivered twice or three times (run 3)
    reset_sandbox(stack)
    deliveries = [(n, topic, payload) for n, (topic, payload) in enumerate(story("3"))]
    deliveries = deliveries * 2 + random.Random(7).sample(deliveries, 3)
    random.Random(42).shuffle(deliveries)
    for number, topic, payload in deliveries:
        assert post(stack, topic, payload, event_id=f"3-{number}").status_code in (200, 202)
    settle(stack)
    shuffled = talon(stack, "3")

    # Then Talon.One holds the same session, profile and coupon usage either way
    in_order["session"]["profileId"] = shuffled["session"]["profileId"] = "<the customer>"
    assert shuffled == in_order
    assert shuffled["session"]["state"] == "partially_returned"
    assert shuffled["couponUsage"] == 1
