"""Bad input gets a clear JSON error naming every invalid field, and never reaches Talon.One."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from local_gateway.template import ROOT
from tests.conftest import Invoke, body_json, load_event
from tests.support.upstream import RecordingUpstream


def problems(response: dict[str, Any]) -> set[tuple[str, str]]:
    """(title, pointer or parameter) of each listed error."""
    found = set()
    for error in body_json(response)["errors"]:
        source = error["source"]
        found.add((error["title"], source.get("pointer", source.get("parameter", ""))))
    return found


# Each invalid variant of events/invalid/, with its status and exactly the problems it must list.
INVALID_EVENTS: list[tuple[str, int, set[tuple[str, str]]]] = [
    (
        "update_customer_session_v2.unknown-field",
        400,
        {("Unknown field", "/customerSession/profileID")},
    ),
    (
        "update_customer_session_v2.wrong-types",
        400,
        {
            ("Invalid value", "/customerSession/profileId"),
            ("Invalid value", "/customerSession/state"),
            ("Invalid value", "/customerSession/cartItems/0/sku"),
            ("Invalid value", "/customerSession/cartItems/0/quantity"),
            ("Invalid value", "/customerSession/cartItems/0/price"),
        },
    ),
    ("update_customer_session_v2.missing-session", 400, {("Missing field", "/customerSession")}),
    (
        "update_customer_session.null-field",
        400,
        {("Invalid value", "/profileId"), ("Missing field", "/cartItems/0/price")},
    ),
    ("track_event.bad-json", 400, {("Invalid JSON", "")}),
    ("track_event.missing-required", 400, {("Invalid value", "/type"), ("Missing field", "/sessionId")}),
    (
        "create_referral.wrong-types",
        400,
        {("Invalid value", "/campaignId"), ("Invalid value", "/startDate")},
    ),
    (
        "create_coupon_reservation.missing-ids",
        400,
        {("Missing field", "/integrationIDs"), ("Unknown field", "/integrationIds")},
    ),
    ("delete_coupon_reservation.not-an-object", 400, {("Invalid value", "")}),
    ("update_customer_profile.wrong-types", 400, {("Invalid value", "/attributes")}),
    ("get_customer_inventory.bad-flag", 400, {("Invalid value", "profile")}),
    ("get_customer_inventory.unknown-parameter", 400, {("Unknown parameter", "profiles")}),
    ("track_event.form-encoded", 415, {("Unsupported Media Type", "")}),
    ("track_event.not-utf8", 400, {("Invalid body", "")}),
]


@pytest.mark.parametrize(("name", "status", "expected"), INVALID_EVENTS, ids=[c[0] for c in INVALID_EVENTS])
def test_invalid_event_is_refused_with_every_problem_named(
    name: str,
    status: int,
    expected: set[tuple[str, str]],
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
) -> None:
    # Given an invalid variant of a function's event
    function = name.split(".", 1)[0]

    # When the function is invoked with it
    response = invoke(function, load_event(f"invalid/{name}"))

    # Then it answers the status with Talon.One's error shape naming each problem
    assert response["statusCode"] == status
    body = body_json(response)
    assert body["StatusCode"] == status
    assert isinstance(body["message"], str)
    assert problems(response) == expected
    # and Talon.One was never called
    assert recorded_gateway.requests == []


# Per request model: a body that breaks one rule, and the pointer the error must name.
MODEL_CASES: list[tuple[str, Any, str, str]] = [
    ("create_coupon_reservation", {"integrationIDs": "customer-1"}, "Invalid value", "/integrationIDs"),
    ("create_coupon_reservation", {"integrationIDs": [1]}, "Invalid value", "/integrationIDs/0"),
    ("create_referral", {"campaignId": 3}, "Missing field", "/advocateProfileIntegrationId"),
    (
        "create_referral",
        {"campaignId": True, "advocateProfileIntegrationId": "a"},
        "Invalid value",
        "/campaignId",
    ),
    (
        "create_referral",
        {"campaignId": 3, "advocateProfileIntegrationId": "a", "expiryDate": "2026-13-01T00:00:00Z"},
        "Invalid value",
        "/expiryDate",
    ),
    ("track_event", {"type": "t", "attributes": {}, "sessionId": ""}, "Invalid value", "/sessionId"),
    (
        "track_event",
        {"type": "t", "attributes": {}, "sessionId": "s", "profileId": None},
        "Invalid value",
        "/profileId",
    ),
    ("update_customer_profile", {"attributes": {}, "Attributes": {}}, "Unknown field", "/Attributes"),
    ("update_customer_session", {"state": "paid"}, "Invalid value", "/state"),
    ("update_customer_session", {"total": "12.00"}, "Invalid value", "/total"),
    (
        "update_customer_session",
        {"cartItems": [{"name": "a", "sku": "b", "quantity": 1.5, "price": 1}]},
        "Invalid value",
        "/cartItems/0/quantity",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"additionalCosts": {"shipping": {"price": 1, "currency": "EUR"}}}},
        "Unknown field",
        "/customerSession/additionalCosts/shipping/currency",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"couponCodes": "SUMMER20"}},
        "Invalid value",
        "/customerSession/couponCodes",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"cartItems": [{"name": "a", "quantity": 1, "price": 1}]}},
        "Missing field",
        "/customerSession/cartItems/0/sku",
    ),
    # Today's limits, as the spec states them
    (
        "update_customer_session_v2",
        {"customerSession": {"loyaltyCards": ["card-1", "card-2"]}},
        "Invalid value",
        "/customerSession/loyaltyCards",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"identifiers": ["a", "b", "c", "d", "e", "f"]}},
        "Invalid value",
        "/customerSession/identifiers",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"couponCodes": ["X" * 101]}},
        "Invalid value",
        "/customerSession/couponCodes/0",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"cartItems": [{"sku": "a", "quantity": 1}] * 1001}},
        "Too many cart items",
        "/customerSession/cartItems",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"cartItems": [{"sku": "a", "quantity": 5000}, {"sku": "b", "quantity": 5001}]}},
        "Too many units",
        "/customerSession/cartItems",
    ),
    (
        "update_customer_session_v2",
        {"customerSession": {"state": "paid"}},
        "Invalid value",
        "/customerSession/state",
    ),
    (
        "create_referral",
        {"campaignId": 5, "advocateProfileIntegrationId": "a" * 1001},
        "Invalid value",
        "/advocateProfileIntegrationId",
    ),
    ("track_event_v3", {"type": "t", "profileId": "p"}, "Missing field", "/integrationId"),
    (
        "update_customer_session_v2",
        {"customerSession": {}, "responseContent": "all"},
        "Invalid value",
        "/responseContent",
    ),
    ("update_customer_session_v2", {"customerSession": {}, "extra": 1}, "Unknown field", "/extra"),
]


@pytest.mark.parametrize(("function", "body", "title", "pointer"), MODEL_CASES)
def test_request_models_are_strict(
    function: str, body: Any, title: str, pointer: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a body that breaks one rule of the operation's request model
    event = load_event(function)
    event["body"] = json.dumps(body)

    # When the function is invoked
    response = invoke(function, event)

    # Then it answers 400 naming the field, and Talon.One is not called
    assert response["statusCode"] == 400
    assert (title, pointer) in problems(response)
    assert recorded_gateway.requests == []


def test_numbers_that_are_not_finite_are_refused(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    # Given a price and a total written as 1e999 and -1e999 (infinite once parsed)
    event = load_event("update_customer_session")
    event["body"] = '{"cartItems":[{"name":"a","sku":"b","quantity":1,"price":1e999}],"total":-1e999}'

    # When it is sent
    response = invoke("update_customer_session", event)

    # Then both are refused by name
    assert response["statusCode"] == 400
    assert {("Invalid value", "/cartItems/0/price"), ("Invalid value", "/total")} <= problems(response)
    assert recorded_gateway.requests == []


def test_nan_is_not_json(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    event = load_event("update_customer_session")
    event["body"] = '{"total":NaN}'
    response = invoke("update_customer_session", event)
    assert problems(response) == {("Invalid JSON", "")}
    assert recorded_gateway.requests == []


def test_error_bodies_never_echo_the_input(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    # Given an invalid body holding a customer's personal data in a wrong-typed field
    event = load_event("update_customer_session")
    event["body"] = json.dumps({"profileId": ["jane.doe@example.com"], "attributes": "Jane Doe, Lisbon"})

    # When it is refused
    response = invoke("update_customer_session", event)

    # Then the error names the fields but never the values
    assert response["statusCode"] == 400
    assert "jane.doe@example.com" not in response["body"]
    assert "Lisbon" not in response["body"]


@pytest.mark.parametrize(("choice", "status"), [("refuse", 400), ("forward", 200)])
def test_unknown_fields_follow_the_deployments_choice(
    choice: str, status: int, recorded_gateway: RecordingUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment with UnknownRequestFields=<choice> (read when the models load: a fresh
    # interpreter, as a new execution environment would be)
    event = load_event("update_customer_session_v2")
    body = '{"customerSession":{"profileId":"c1","fieldTalonOneAddedLater":{"x":1}},"responseContent":[]}'
    event["body"] = body
    script = (
        "import json, sys; from local_gateway.functions import LambdaContext, load_handler; "
        "from local_gateway.template import functions; "
        "spec = next(s for s in functions() if s.code_uri.name == 'update_customer_session_v2'); "
        "answer = load_handler(spec)(json.load(sys.stdin), LambdaContext()); print(json.dumps(answer))"
    )
    environment = dict(os.environ) | {
        "UNKNOWN_REQUEST_FIELDS": choice,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'shared'}",
    }
    child = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        check=True,
    )
    response = json.loads(child.stdout.strip().splitlines()[-1])

    # When the field is unknown to the spec: refused by name, or forwarded byte for byte
    assert response["statusCode"] == status, response["body"]
    if choice == "refuse":
        assert ("Unknown field", "/customerSession/fieldTalonOneAddedLater") in problems(response)
        assert recorded_gateway.requests == []
    else:
        assert recorded_gateway.requests[0].body == body.encode()
