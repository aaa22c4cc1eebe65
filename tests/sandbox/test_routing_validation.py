"""Routing (spec paths, percent-encoded single-segment parameters) and request validation."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox import Sandbox, Spec

from .conftest import item, v2

ENCODED = "SUMMER%2020%2F50%25"  # the coupon "SUMMER 20/50%"


# Today's 39 operations and the 4 legacy ones, written out here rather than taken from the spec.
EXPECTED_OPERATIONS = {
    "getCustomerSession": ("GET", "/v2/customer_sessions/{customerSessionId}"),
    "updateCustomerSessionV2": ("PUT", "/v2/customer_sessions/{customerSessionId}"),
    "returnCartItems": ("POST", "/v2/customer_sessions/{customerSessionId}/returns"),
    "reopenCustomerSession": ("PUT", "/v2/customer_sessions/{customerSessionId}/reopen"),
    "updateCustomerProfileV2": ("PUT", "/v2/customer_profiles/{integrationId}"),
    "updateCustomerProfilesV2": ("PUT", "/v2/customer_profiles"),
    "createAudienceV2": ("POST", "/v2/audiences"),
    "deleteAudienceV2": ("DELETE", "/v2/audiences/{audienceId}"),
    "updateAudienceV2": ("PUT", "/v2/audiences/{audienceId}"),
    "deleteAudienceMembershipsV2": ("DELETE", "/v2/audiences/{audienceId}/memberships"),
    "updateCustomerProfileAudiences": ("POST", "/v2/customer_audiences"),
    "updateAudienceCustomersAttributes": ("PUT", "/v2/audience_customers/{audienceId}/attributes"),
    "linkLoyaltyCardToProfile": (
        "POST",
        "/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/link_profile",
    ),
    "unlinkLoyaltyCardFromProfile": (
        "POST",
        "/v2/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/unlink_profile",
    ),
    "integrationGetAllCampaigns": ("GET", "/v1/integration/campaigns"),
    "trackEventV2": ("POST", "/v2/events"),
    "createReferral": ("POST", "/v1/referrals"),
    "createReferralsForMultipleAdvocates": ("POST", "/v1/referrals_for_multiple_advocates"),
    "deleteCustomerData": ("DELETE", "/v1/customer_data/{integrationId}"),
    "deleteCouponReservation": ("DELETE", "/v1/coupon_reservations/{couponValue}"),
    "createCouponReservation": ("POST", "/v1/coupon_reservations/{couponValue}"),
    "getReservedCustomers": ("GET", "/v1/coupon_reservations/customerprofiles/{couponValue}"),
    "getCustomerInventory": ("GET", "/v1/customer_profiles/{integrationId}/inventory"),
    "getCustomerAchievements": ("GET", "/v1/customer_profiles/{integrationId}/achievements"),
    "getCustomerAchievementHistory": (
        "GET",
        "/v1/customer_profiles/{integrationId}/achievements/{achievementId}",
    ),
    "getLoyaltyCardBalances": (
        "GET",
        "/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/balances",
    ),
    "getLoyaltyBalances": ("GET", "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/balances"),
    "getLoyaltyCardTransactions": (
        "GET",
        "/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/transactions",
    ),
    "getLoyaltyProgramProfileTransactions": (
        "GET",
        "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/transactions",
    ),
    "deleteLoyaltyTransactionsFromLedgers": (
        "POST",
        "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/delete_transactions",
    ),
    "joinLoyaltyProgram": ("POST", "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/join"),
    "getLoyaltyCardPoints": ("GET", "/v1/loyalty_programs/{loyaltyProgramId}/cards/{loyaltyCardId}/points"),
    "getLoyaltyProgramProfilePoints": (
        "GET",
        "/v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/points",
    ),
    "activateLoyaltyPoints": ("POST", "/v1/loyalty_programs/{loyaltyProgramId}/activate_points"),
    "generateLoyaltyCard": ("POST", "/v1/loyalty_programs/{loyaltyProgramId}/cards"),
    "bestPriorPrice": ("POST", "/v1/best_prior_price"),
    "syncCatalog": ("PUT", "/v1/catalogs/{catalogId}/sync"),
    "trackEventV3": ("POST", "/v3/events"),
    "getEventV3": ("GET", "/v3/events/{integrationId}"),
    # Legacy: dropped by today's API, served with their 2020 behaviour and schemas.
    "updateCustomerSession": ("PUT", "/v1/customer_sessions/{customerSessionId}"),
    "updateCustomerProfile": ("PUT", "/v1/customer_profiles/{integrationId}"),
    "trackEvent": ("POST", "/v1/events"),
    "getReservedCoupons": ("GET", "/v1/coupon_reservations/coupons/{integrationId}"),
}
LEGACY = {"updateCustomerSession", "updateCustomerProfile", "trackEvent", "getReservedCoupons"}


def test_operations_are_exactly_those_of_the_specs(spec: Spec) -> None:
    # Then the sandbox routes exactly the 43 operations, the legacy ones from the 2020 document
    assert {k: (op.method, op.path) for k, op in spec.operations.items()} == EXPECTED_OPERATIONS
    assert {k for k, op in spec.operations.items() if op.legacy} == LEGACY
    # And only the legacy ones keep the 2020 Content-Signature scheme
    assert {k for k, op in spec.operations.items() if "integration_auth" in op.schemes} == LEGACY
    assert all("api_key_v1" in op.schemes for op in spec.operations.values())


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        ("createCouponReservation", 201),
        ("createReferral", 201),
        ("createAudienceV2", 201),
        ("createReferralsForMultipleAdvocates", 201),
        ("deleteCustomerData", 204),
        ("deleteAudienceV2", 204),
        ("updateCustomerProfileAudiences", 204),
        ("deleteLoyaltyTransactionsFromLedgers", 204),
        ("updateCustomerSessionV2", 200),
        ("generateLoyaltyCard", 200),
        ("updateCustomerSession", 200),
    ],
)
def test_success_statuses_come_from_the_spec(spec: Spec, operation: str, status: int) -> None:
    assert spec.operations[operation].success_status == status


def test_percent_encoded_parameter_is_one_segment(client: httpx.Client, sandbox: Sandbox) -> None:
    # Given a coupon value with a space, a slash and a percent sign, encoded as one segment
    # When reserving it
    response = client.post(f"/v1/coupon_reservations/{ENCODED}", json={"integrationIDs": ["enc-1"]})
    # Then the decoded value is the coupon's, and the log keeps the raw path
    assert response.status_code == 201
    assert response.json()["value"] == "SUMMER 20/50%"
    assert sandbox.received[-1].path == f"/v1/coupon_reservations/{ENCODED}"
    assert sandbox.state.reservations["SUMMER 20/50%"] == ["enc-1"]


def test_unencoded_slash_does_not_reach_the_operation(client: httpx.Client) -> None:
    # Given the same value with its slash left raw: two segments
    response = client.get("/v1/coupon_reservations/customerprofiles/SUMMER%2020/50%25")
    # Then no operation matches
    assert response.status_code == 404


def test_encoded_session_and_profile_ids(client: httpx.Client, sandbox: Sandbox) -> None:
    # Given ids with "@" and "/" encoded
    response = client.put("/v1/customer_sessions/cart%2F1", json={"profileId": "a@b.example"})
    inventory = client.get("/v1/customer_profiles/a%40b.example/inventory?profile=true")
    # Then they are decoded per segment
    assert response.json()["session"]["integrationId"] == "cart/1"
    assert inventory.json()["profile"]["integrationId"] == "a@b.example"
    assert "cart/1" in sandbox.state.sessions


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/unknown"),
        ("GET", "/"),
        ("PUT", "/v1/customer_sessions/"),  # empty parameter
        ("PUT", "/v1/customer_sessions/s/extra"),
        ("GET", "/v3/events/a/b"),
        ("GET", "/v2/customer_sessions/s/nothing"),
    ],
)
def test_unknown_path_is_404_in_error_shape(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.json()["StatusCode"] == 404


def test_known_path_with_other_method_is_405(client: httpx.Client) -> None:
    response = client.get("/v1/events")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize("body", [b"", b"not json", b'{"customerSession":', b'{"customerSession": NaN}'])
def test_non_json_body_is_400(client: httpx.Client, body: bytes, sandbox: Sandbox) -> None:
    response = client.put("/v2/customer_sessions/s-bad", content=body)
    assert response.status_code == 400
    assert sandbox.counts("updateCustomerSessionV2") == {"received": 1, "processed": 0}


def test_validation_reports_one_error_per_field_with_pointers(client: httpx.Client) -> None:
    # Given a v2 update with a missing, a mistyped and an out-of-range field, and a bad enum
    session = {
        "state": "paid",
        "cartItems": [item(), {"name": "x", "sku": "y", "quantity": 0, "price": "1"}],
        "additionalCosts": {"shipping": {}},
        "couponCodes": "SUMMER20",
    }
    # When sending it
    response = v2(client, "s-invalid", session)
    # Then 400 with one error per invalid field, pointing at it
    assert response.status_code == 400
    pointers = sorted(e["source"]["pointer"] for e in response.json()["errors"])
    assert pointers == [
        "/customerSession/additionalCosts/shipping/price",
        "/customerSession/cartItems/1/price",
        "/customerSession/cartItems/1/quantity",
        "/customerSession/couponCodes",
        "/customerSession/state",
    ]


def test_missing_required_fields_point_at_each_field(client: httpx.Client) -> None:
    response = client.post("/v1/events", json={"profileId": "p"})
    assert response.status_code == 400
    pointers = sorted(e["source"]["pointer"] for e in response.json()["errors"])
    assert pointers == ["/attributes", "/sessionId", "/type"]


def test_missing_root_object_is_reported(client: httpx.Client) -> None:
    response = client.put("/v2/customer_sessions/s", json={"responseContent": []})
    assert [e["source"]["pointer"] for e in response.json()["errors"]] == ["/customerSession"]


def test_body_must_be_an_object(client: httpx.Client) -> None:
    response = client.put("/v1/customer_profiles/p", json=[1, 2])
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == ""


@pytest.mark.parametrize("value", ["2024-13-01T00:00:00Z", "2024-01-01", "yesterday", "2024-01-01T00:00:00"])
def test_date_time_format_is_checked(client: httpx.Client, value: str) -> None:
    body = {"campaignId": 5, "advocateProfileIntegrationId": "a", "expiryDate": value}
    response = client.post("/v1/referrals", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/expiryDate"


def test_unknown_fields_are_ignored_but_logged(
    client: httpx.Client, sandbox: Sandbox, uid: Callable[[str], str]
) -> None:
    # Given fields the spec does not know, at the root, in the session and in a cart item
    sid = uid("s")
    body = {
        "customerSession": {"profileId": "", "cartItems": [item(colour="red")], "loyaltyCard": "x"},
        "responseContent": ["customerSession"],
        "dryRun": True,
    }
    # When updating
    response = client.put(f"/v2/customer_sessions/{sid}", json=body)
    # Then they are accepted, not stored, and recorded as sent
    assert response.status_code == 200
    stored = sandbox.state.sessions[sid]
    assert "loyaltyCard" not in stored
    assert "colour" not in stored["cartItems"][0]
    assert sandbox.received[-1].json() == body


@pytest.mark.parametrize("query", ["profile=yes", "profile=1", "referrals=True", "profile="])
def test_query_flags_must_be_true_or_false(client: httpx.Client, query: str) -> None:
    client.put("/v1/customer_profiles/flags", json={})
    response = client.get(f"/v1/customer_profiles/flags/inventory?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"].startswith("/query/")


def test_chunked_request_body_is_read(client: httpx.Client) -> None:
    # Given a body sent with chunked transfer encoding (a generator has no length)
    def chunks() -> Iterator[bytes]:
        yield b'{"attributes":'
        yield b'{"a":1}}'

    response = client.put("/v1/customer_profiles/chunky", content=chunks())
    assert response.status_code == 200
    assert response.json()["profile"]["attributes"] == {"a": 1}


def test_oversized_or_invalid_content_length_is_refused(sandbox: Sandbox) -> None:
    # Given raw requests announcing too much, or nonsense
    results = []
    for length in ["20000000", "ten"]:
        conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
        conn.putrequest("PUT", "/v1/customer_profiles/big")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        response = conn.getresponse()
        results.append((response.status, json.loads(response.read())["StatusCode"]))
        conn.close()
    # Then 413 and 400 in the error shape, before any body is read
    assert results == [(413, 413), (400, 400)]


def test_unexpected_failure_is_500_in_error_shape(
    client: httpx.Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operation that fails with a bug
    def broken(*_args: object) -> tuple[int, object]:
        raise RuntimeError("boom")

    monkeypatch.setitem(sandbox.app._handlers, "getReservedCoupons", broken)
    # When calling it
    response = client.get("/v1/coupon_reservations/coupons/x")
    # Then 500 in the error shape, without internals
    assert response.status_code == 500
    assert "boom" not in response.text


def test_requests_for_filters_the_log(client: httpx.Client, sandbox: Sandbox) -> None:
    client.put("/v1/customer_profiles/one", json={})
    client.get("/v1/nowhere")
    assert [r.path for r in sandbox.requests_for("updateCustomerProfile")] == ["/v1/customer_profiles/one"]
    assert sandbox.received[-1].operation is None
    assert sandbox.received[0].header("authorization") == "ApiKey-v1 sandbox-integration-api-key"


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        ("/v1/customer_profiles/loyal-1/inventory?coupons=1", "/query/coupons"),
        ("/v1/customer_profiles/loyal-1/inventory?achievements=TRUE", "/query/achievements"),
        ("/v1/loyalty_programs/1/profile/loyal-1/balances?includeTiers=yes", "/query/includeTiers"),
        ("/v1/integration/campaigns?pageSize=0", "/query/pageSize"),
        ("/v1/integration/campaigns?pageSize=1001", "/query/pageSize"),
        ("/v1/integration/campaigns?pageSize=ten", "/query/pageSize"),
        ("/v1/integration/campaigns?skip=1.5", "/query/skip"),
        ("/v1/integration/campaigns?storeId=99999999999999999999", "/query/storeId"),
        ("/v1/integration/campaigns?startAfter=2024-13-01", "/query/startAfter"),
        (
            "/v1/customer_profiles/loyal-1/achievements?achievementStatus=active,archived",
            "/query/achievementStatus",
        ),
        ("/v1/customer_profiles/loyal-1/achievements/2?progressStatus=done", "/query/progressStatus"),
        ("/v1/loyalty_programs/1/profile/loyal-1/points?status=used", "/query/status"),
        (
            "/v1/loyalty_programs/2/cards/CARD-0001/transactions?awaitsActivation=maybe",
            "/query/awaitsActivation",
        ),
        ("/v1/loyalty_programs/one/profile/loyal-1/points", "/path/loyaltyProgramId"),
        ("/v1/customer_profiles/loyal-1/achievements/1.0", "/path/achievementId"),
    ],
)
def test_query_and_path_parameters_are_validated_by_their_schemas(
    client: httpx.Client, path: str, pointer: str
) -> None:
    response = client.get(path)
    assert response.status_code == 400
    source = response.json()["errors"][0]["source"]
    assert source["pointer"] == pointer
    assert source["parameter"] == pointer.rsplit("/", 1)[1]


def test_exploded_arrays_repeat_and_others_are_comma_separated(client: httpx.Client) -> None:
    # subledgerId (getLoyaltyCardBalances) is explode: true, campaignIds (campaigns list) explode: false
    repeated = client.get(
        "/v1/loyalty_programs/1/profile/loyal-1/points",
        params=[("subledgerId", "beauty"), ("subledgerId", "")],
    )
    assert sorted(p["amount"] for p in repeated.json()["data"]) == [15, 100]
    one_value = client.get("/v1/integration/campaigns", params={"campaignIds": "1,2"})
    assert [c["id"] for c in one_value.json()["data"]] == [1, 2]
    # Repeating an explode: false array keeps the last value, as for any scalar
    last = client.get("/v1/integration/campaigns", params=[("campaignIds", "1"), ("campaignIds", "5")])
    assert [c["id"] for c in last.json()["data"]] == [5]


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    assert client.get("/v1/customer_profiles/loyal-1/inventory?colour=red").json() == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v3/events"),
        ("PUT", "/v2/customer_profiles/p"),
        ("POST", "/v1/loyalty_programs/1/activate_points"),
        ("PUT", "/v2/audience_customers/1/attributes"),
    ],
)
def test_required_bodies_are_required(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path, content=b"")
    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == "Invalid JSON"


def test_read_only_fields_are_accepted_and_ignored(client: httpx.Client, sandbox: Sandbox) -> None:
    # Given cart items sent back with the read-only fields of an answer
    sent = {
        **item(),
        "position": 7,
        "returnedQuantity": 1,
        "remainingQuantity": 0,
        "catalogItemID": 5,
        "selectedPriceType": "x",
    }
    response = client.put("/v2/customer_sessions/s-ro", json={"customerSession": {"cartItems": [sent]}})
    # Then they are accepted, and the sandbox's own values stand
    assert response.status_code == 200
    stored = sandbox.state.sessions["s-ro"]["cartItems"][0]
    assert (stored["position"], stored["returnedQuantity"], stored["remainingQuantity"]) == (0, 0, 1)
    assert "catalogItemID" not in stored
    assert "selectedPriceType" not in stored


def test_cart_limits(client: httpx.Client) -> None:
    too_many = [item(f"sku-{n}") for n in range(1001)]
    too_much = [item(quantity=5001), item("b", quantity=5000)]
    assert (
        client.put(
            "/v2/customer_sessions/s-big", json={"customerSession": {"cartItems": too_many}}
        ).status_code
        == 400
    )
    assert (
        client.put(
            "/v2/customer_sessions/s-big", json={"customerSession": {"cartItems": too_much}}
        ).status_code
        == 400
    )
    fine = [item(quantity=5000), item("b", quantity=5000)]
    assert (
        client.put("/v2/customer_sessions/s-big", json={"customerSession": {"cartItems": fine}}).status_code
        == 200
    )


def test_integers_beyond_int64_are_refused(client: httpx.Client) -> None:
    body = {"campaignId": 2**63, "advocateProfileIntegrationId": "a"}
    response = client.post("/v1/referrals", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/campaignId"
