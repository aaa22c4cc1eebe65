"""Each of the 43 operations end to end: its events/ file through its handler to Talon.One over HTTP.

Talon.One is a recording server on 127.0.0.1; Secrets Manager is moto over HTTP. Expected
values are written out here independently of the gateway's code: encoded targets by hand,
signatures with hmac from the contract's test vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import pytest

from talon_gateway.operation import Operation
from talon_gateway.operations import OPERATIONS
from tests.conftest import ROOT, Invoke, body_json, header, load_event
from tests.support import aws
from tests.support.upstream import RecordingUpstream
from tools.catalog import entries

# The answer Talon.One gives in these tests carries a field the spec does not know.
UNKNOWN_FIELD_ANSWER = b'{"totalResultSize":1,"data":[],"fieldNotInTheSpec":{"kept":true}}'
SESSION = "cart-7f3a%2F2026"  # cart-7f3a/2026
PROFILE = "jane.doe%2Bshop%40example.com"  # jane.doe+shop@example.com
COUPON = "SUMMER%2020%2F50%25"  # SUMMER 20/50%
# The 2020 document's operations that took the Content-Signature: it is still sent on them.
SIGNED_IN_2020 = {
    "createCouponReservation",
    "deleteCouponReservation",
    "getReservedCoupons",
    "getReservedCustomers",
    "createReferral",
    "getCustomerInventory",
    "deleteCustomerData",
    "trackEvent",
    "updateCustomerProfile",
    "updateCustomerSession",
}


@dataclass(frozen=True)
class Case:
    function: str
    method: str
    target: str  # what must reach Talon.One: percent-encoded path and query
    success: int = 200

    @property
    def name(self) -> str:
        head, *rest = self.function.split("_")
        return head + "".join(part.capitalize() for part in rest)


CASES = [
    Case("best_prior_price", "POST", "/v1/best_prior_price"),
    Case("sync_catalog", "PUT", "/v1/catalogs/1/sync"),
    Case("get_reserved_customers", "GET", f"/v1/coupon_reservations/customerprofiles/{COUPON}"),
    Case("create_coupon_reservation", "POST", f"/v1/coupon_reservations/{COUPON}", 201),
    Case("delete_coupon_reservation", "DELETE", f"/v1/coupon_reservations/{COUPON}", 204),
    Case("delete_customer_data", "DELETE", f"/v1/customer_data/{PROFILE}", 204),
    Case(
        "get_customer_achievements",
        "GET",
        f"/v1/customer_profiles/{PROFILE}/achievements?achievementStatus=active%2Cscheduled",
    ),
    Case("get_customer_achievement_history", "GET", f"/v1/customer_profiles/{PROFILE}/achievements/1"),
    Case(
        "get_customer_inventory",
        "GET",
        f"/v1/customer_profiles/{PROFILE}/inventory?profile=true&referrals=true",
    ),
    Case("integration_get_all_campaigns", "GET", "/v1/integration/campaigns?pageSize=10"),
    Case("activate_loyalty_points", "POST", "/v1/loyalty_programs/1/activate_points"),
    Case("generate_loyalty_card", "POST", "/v1/loyalty_programs/1/cards"),
    Case("get_loyalty_card_balances", "GET", "/v1/loyalty_programs/1/cards/CARD-0001/balances"),
    Case("get_loyalty_card_points", "GET", "/v1/loyalty_programs/1/cards/CARD-0001/points"),
    Case(
        "get_loyalty_card_transactions",
        "GET",
        "/v1/loyalty_programs/1/cards/CARD-0001/transactions?subledgerId=beauty&pageSize=10",
    ),
    Case(
        "get_loyalty_balances", "GET", f"/v1/loyalty_programs/1/profile/{PROFILE}/balances?includeTiers=true"
    ),
    Case(
        "delete_loyalty_transactions_from_ledgers",
        "POST",
        f"/v1/loyalty_programs/1/profile/{PROFILE}/delete_transactions",
        204,
    ),
    Case("join_loyalty_program", "POST", f"/v1/loyalty_programs/1/profile/{PROFILE}/join"),
    Case("get_loyalty_program_profile_points", "GET", f"/v1/loyalty_programs/1/profile/{PROFILE}/points"),
    Case(
        "get_loyalty_program_profile_transactions",
        "GET",
        f"/v1/loyalty_programs/1/profile/{PROFILE}/transactions",
    ),
    Case("create_referral", "POST", "/v1/referrals", 201),
    Case("create_referrals_for_multiple_advocates", "POST", "/v1/referrals_for_multiple_advocates", 201),
    Case("update_audience_customers_attributes", "PUT", "/v2/audience_customers/1/attributes", 204),
    Case("create_audience_v2", "POST", "/v2/audiences", 201),
    Case("update_audience_v2", "PUT", "/v2/audiences/1"),
    Case("delete_audience_v2", "DELETE", "/v2/audiences/1", 204),
    Case("delete_audience_memberships_v2", "DELETE", "/v2/audiences/1/memberships", 204),
    Case("update_customer_profile_audiences", "POST", "/v2/customer_audiences", 204),
    Case("update_customer_profiles_v2", "PUT", "/v2/customer_profiles"),
    Case("update_customer_profile_v2", "PUT", f"/v2/customer_profiles/{PROFILE}?runRuleEngine=true"),
    Case("get_customer_session", "GET", f"/v2/customer_sessions/{SESSION}"),
    Case("update_customer_session_v2", "PUT", f"/v2/customer_sessions/{SESSION}?dry=false"),
    Case("reopen_customer_session", "PUT", f"/v2/customer_sessions/{SESSION}/reopen"),
    Case("return_cart_items", "POST", f"/v2/customer_sessions/{SESSION}/returns"),
    Case("track_event_v2", "POST", "/v2/events"),
    Case("link_loyalty_card_to_profile", "POST", "/v2/loyalty_programs/1/cards/CARD-0001/link_profile"),
    Case("unlink_loyalty_card_from_profile", "POST", "/v2/loyalty_programs/1/cards/CARD-0001/unlink_profile"),
    Case("track_event_v3", "POST", "/v3/events"),
    Case("get_event_v3", "GET", f"/v3/events/{PROFILE}"),
    # Legacy: the 2020 document's operations that today's API dropped
    Case("get_reserved_coupons", "GET", f"/v1/coupon_reservations/coupons/{PROFILE}"),
    Case("update_customer_profile", "PUT", f"/v1/customer_profiles/{PROFILE}"),
    Case("update_customer_session", "PUT", f"/v1/customer_sessions/{SESSION}"),
    Case("track_event", "POST", "/v1/events"),
]


def test_every_operation_has_a_case() -> None:
    assert sorted(c.function for c in CASES) == sorted(op.function_dir for op in OPERATIONS)


def expected_signature(body: bytes) -> str:
    digest = hmac.new(bytes.fromhex(aws.APPLICATION_KEY), body, hashlib.md5).hexdigest()
    return f"signer={aws.APPLICATION_ID}; signature={digest}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.function)
def test_operation_is_forwarded_signed_and_answered_unchanged(
    case: Case, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given Talon.One answers with a body holding a field the spec does not know
    event = load_event(case.function)
    if case.success == 204:
        recorded_gateway.answer(204, b"", content_type=None)
    else:
        recorded_gateway.answer(case.success, UNKNOWN_FIELD_ANSWER, "application/json; charset=utf-8")

    # When the function is invoked with its events/ file
    response = invoke(case.function, event)

    # Then exactly one request reached Talon.One, with the method and the encoded target
    assert len(recorded_gateway.requests) == 1
    sent = recorded_gateway.requests[0]
    assert (sent.method, sent.target) == (case.method, case.target)
    # and the body bytes the caller sent, unchanged (or none)
    expected_body = event["body"].encode() if event["body"] is not None else b""
    assert sent.body == expected_body
    # and the API key, with the Content-Signature on the 2020 document's operations that took it
    assert sent.headers["authorization"] == f"ApiKey-v1 {aws.API_KEY}"
    name = next(op.name for op in OPERATIONS if op.function_dir == case.function)
    if name in SIGNED_IN_2020:
        assert sent.headers["content-signature"] == expected_signature(expected_body)
    else:
        assert "content-signature" not in sent.headers
    # and Talon.One's status, content type and body come back unchanged
    assert response["statusCode"] == case.success
    if case.success == 204:
        assert response["body"] == ""
    else:
        assert response["body"].encode() == UNKNOWN_FIELD_ANSWER
        assert header(response, "Content-Type") == "application/json; charset=utf-8"
    # with the correlation id of the API Gateway request
    assert header(response, "X-Correlation-Id") == event["requestContext"]["requestId"]


def test_signatures_match_the_contract_test_vectors(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the application id 42 and key of spec/README.md (the test deployment's credentials)
    # When the event of the contract's first vector is tracked, and a body-less request is sent
    invoke("track_event", load_event("track_event"))
    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))

    # Then the signatures are the vectors' values
    with_body, without_body = recorded_gateway.requests
    assert with_body.headers["content-signature"] == "signer=42; signature=5d4f83e6b68994861e62e82a8d31f9de"
    assert (
        without_body.headers["content-signature"] == "signer=42; signature=8cf892472b6c896c5c109546528fd2db"
    )


def test_omitted_fields_stay_omitted_and_empty_ones_stay_empty(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a cart update that omits state and profile attributes but empties couponCodes
    event = load_event("update_customer_session_v2")
    event["body"] = json.dumps({"customerSession": {"couponCodes": [], "referralCode": ""}})

    # When it is forwarded
    invoke("update_customer_session_v2", event)

    # Then Talon.One receives no default (no "state": "open") and the empty values as sent
    forwarded = json.loads(recorded_gateway.requests[0].body)
    assert forwarded == {"customerSession": {"couponCodes": [], "referralCode": ""}}


@pytest.mark.parametrize(
    ("credentials", "authorization", "signature"),
    [
        pytest.param({"applicationId": None, "applicationKey": None}, True, False, id="api-key-only"),
        pytest.param({"apiKey": None}, False, True, id="application-key-only"),
        pytest.param({"applicationId": 42}, True, True, id="numeric-application-id"),
    ],
)
def test_authentication_follows_the_configured_credentials(
    credentials: dict[str, object],
    authorization: bool,
    signature: bool,
    recorded_gateway: RecordingUpstream,
    moto_endpoint: str,
    invoke: Invoke,
) -> None:
    # Given the Talon.One secret holds only some of the credentials
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(**credentials))
    try:
        # When an event is tracked
        response = invoke("track_event", load_event("track_event"))
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())

    # Then it carries exactly the headers those credentials allow
    assert response["statusCode"] == 200
    sent = recorded_gateway.requests[0].headers
    assert ("authorization" in sent) is authorization
    assert ("content-signature" in sent) is signature
    if signature:
        assert sent["content-signature"].startswith("signer=42; ")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_todays_operations_need_the_api_key_and_legacy_ones_do_not(
    operation: Any, recorded_gateway: RecordingUpstream, moto_endpoint: str, invoke: Invoke
) -> None:
    # Given the secret holds only the legacy application id and key
    aws.set_talon_credentials(moto_endpoint, aws.talon_credentials(apiKey=None))
    try:
        # When the operation is called
        response = invoke(operation.function_dir, load_event(operation.function_dir))
    finally:
        aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())

    if operation.legacy:
        # Then a legacy operation is signed with the application key alone
        assert response["statusCode"] == 200
        assert "content-signature" in recorded_gateway.requests[0].headers
    else:
        # Then the caller learns the gateway lacks an API key, and Talon.One is not called
        assert response["statusCode"] == 500
        assert "requires a Talon.One API key" in json.loads(response["body"])["message"]
        assert aws.APPLICATION_KEY not in response["body"]
        assert recorded_gateway.requests == []


# Examples of today's document that break its own schemas (placeholders of the document's
# generator): refused by name, as any such request is. Reported in the README.
INVALID_SPEC_EXAMPLES = {
    ("syncCatalog", 0): "/actions/0/payload",  # "payload": "{}", a string where an object is due
    ("generateLoyaltyCard", 0): "/attributes",  # a property the schema does not have
    ("createReferral", 0): "/attributes",  # "attributes": null, for an object
    ("createReferralsForMultipleAdvocates", 0): "/attributes",
    ("updateCustomerProfileV2", 4): "/audiencesChanges",  # "", for an object
    ("updateCustomerSessionV2", 4): "/customerSession",  # "", for an object
    ("returnCartItems", 0): "/return",  # "", for an object
}
EXAMPLES = [
    pytest.param(entry, index, example, id=f"{entry.name}-{index}")
    for entry in entries()
    for index, example in enumerate(entry.body_examples)
]


@pytest.mark.parametrize(("entry", "index", "example"), EXAMPLES)
def test_the_specs_example_bodies_reach_talon_one_unchanged(
    entry: Any, index: int, example: Any, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the operation's event carrying one of the spec's examples of its body
    event = load_event(entry.function_dir)
    event["body"] = json.dumps(example, indent=1)

    # When it is sent
    response = invoke(entry.function_dir, event)

    refused_at = INVALID_SPEC_EXAMPLES.get((entry.name, index))
    if refused_at is None:
        # Then it passed validation and reached Talon.One byte for byte
        assert response["statusCode"] == 200, response["body"]
        assert recorded_gateway.requests[0].body == event["body"].encode()
    else:
        # Then the example the spec got wrong is refused by name, Talon.One not called
        assert response["statusCode"] == 400
        pointers = {e["source"].get("pointer") for e in body_json(response)["errors"]}
        assert any(p is not None and p.startswith(refused_at) for p in pointers), pointers
        assert recorded_gateway.requests == []


def test_base64_encoded_bodies_are_forwarded_decoded(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given API Gateway delivered the body base64-encoded
    event = load_event("track_event")
    raw = event["body"].encode()
    event["body"] = base64.b64encode(raw).decode()
    event["isBase64Encoded"] = True

    # When it is forwarded
    response = invoke("track_event", event)

    # Then Talon.One receives (and the signature covers) the decoded bytes
    assert response["statusCode"] == 200
    assert recorded_gateway.requests[0].body == raw
    assert (
        recorded_gateway.requests[0].headers["content-signature"].endswith("5d4f83e6b68994861e62e82a8d31f9de")
    )


def test_the_connection_pool_is_reused_across_warm_invocations(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a warm execution environment
    from talon_gateway.upstream import transport

    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    client = transport.get_pool()

    # When further invocations happen
    invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    invoke("track_event", load_event("track_event"))

    # Then they share the one client (keep-alive pool), built lazily once
    assert transport.get_pool() is client
    assert len(recorded_gateway.requests) == 3


# -- every query parameter of every operation reaches Talon.One --------------------------------

DATE_TIME = "2026-11-30T10:00:00Z"


def spec_parameters(operation_id: str) -> dict[str, dict[str, Any]]:
    """The operation's query parameters in the spec that defines it ($refs resolved)."""
    for document in ("spec/current/integration-api.openapi.json", "spec/talon-integration-api.openapi.json"):
        spec = json.loads((ROOT / document).read_text())
        for item in spec["paths"].values():
            for op in item.values():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    found = {}
                    for listed in op.get("parameters", []):
                        parameter = (
                            spec["components"]["parameters"][listed["$ref"].rsplit("/", 1)[1]]
                            if "$ref" in listed
                            else listed
                        )
                        if parameter["in"] == "query":
                            found[parameter["name"]] = parameter
                    return found
    raise LookupError(operation_id)


def sample(parameter: dict[str, Any]) -> list[str]:
    """Valid values of a query parameter as a caller sends them (each value of a repeated one)."""
    schema = parameter.get("schema", parameter)
    if schema.get("type") == "array":
        items = schema["items"]
        values = items.get("enum", ["ledger 1/2", "b+c"])[:2]
        # form style: explode (the default) repeats the name, explode=false joins with commas
        return values if parameter.get("explode", True) else [",".join(values)]
    if "enum" in schema:
        return [schema["enum"][0]]
    return {
        "boolean": ["true"],
        "integer": [str(max(schema.get("minimum", 1), 7))],
    }.get(schema.get("type", ""), [DATE_TIME if schema.get("format") == "date-time" else "yes"])


WITH_QUERY = [op for op in OPERATIONS if op.query_params]


@pytest.mark.parametrize("operation", WITH_QUERY, ids=lambda op: op.name)
def test_every_query_parameter_reaches_talon_one_unchanged(
    operation: Operation, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the operation's events/ file with every query parameter the spec defines for it
    parameters = spec_parameters(operation.name)
    assert set(parameters) == set(operation.query_params)
    query = {name: sample(parameter) for name, parameter in parameters.items()}
    event = load_event(operation.function_dir)
    event["queryStringParameters"] = {name: values[-1] for name, values in query.items()}
    event["multiValueQueryStringParameters"] = query
    recorded_gateway.answer(200, b"{}", "application/json")

    # When the function is invoked
    response = invoke(operation.function_dir, event)

    # Then Talon.One got each of them, every value in order, percent-encoded on the way (values
    # go as validated: a date-time's Z as +00:00, the same instant)
    assert 200 <= response["statusCode"] < 300, response["body"]
    (sent,) = recorded_gateway.requests
    path, _, sent_query = sent.target.partition("?")
    as_validated = {
        name: [value.replace(DATE_TIME, DATE_TIME.replace("Z", "+00:00")) for value in values]
        for name, values in query.items()
    }
    assert parse_qs(sent_query, keep_blank_values=True, strict_parsing=True) == as_validated
    assert " " not in sent_query
    assert path == next(c for c in CASES if c.function == operation.function_dir).target.partition("?")[0]
