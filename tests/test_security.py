"""The security guarantees of the README, each attacked: replays, scopes, keys, JSON, crafted events.

Every test goes through a function's handler with its events/ file; AWS is moto over HTTP and
Talon.One a recording server on loopback, so "Talon.One was not called" is counted, not assumed.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from talon_gateway.operation import Operation
from talon_gateway.operations import OPERATIONS
from tests.conftest import Invoke, body_json, header, load_event
from tests.support import aws, log_tap, webhooks
from tests.support.upstream import Answer, RecordingUpstream

SetInbound = Callable[[dict[str, Any]], None]
SIGNED = [op for op in OPERATIONS if op.accepts_webhooks]
UNSIGNED = [op for op in OPERATIONS if not op.accepts_webhooks]
TOKEN_A = "scoped-token-a-0123456789abcdef0123"
TOKEN_B = "scoped-token-b-0123456789abcdef0123"
SECRET_A = "whsec_" + base64.b64encode(b"scoped-webhook-secret-a-32bytes!").decode()
log_tap.register(TOKEN_A, TOKEN_B, SECRET_A, SECRET_A.removeprefix("whsec_"))


@pytest.fixture
def set_inbound(moto_endpoint: str) -> Iterator[SetInbound]:
    changed = False

    def put(value: dict[str, Any]) -> None:
        nonlocal changed
        changed = True
        aws.set_inbound_secrets(moto_endpoint, value)

    try:
        yield put
    finally:
        if changed:
            aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())


def signed(
    operation: Operation, msg_id: str | None = None, secret: str = aws.WEBHOOK_SECRET
) -> dict[str, Any]:
    return webhooks.sign(load_event(operation.function_dir), secret, msg_id or f"msg_{uuid.uuid4().hex}")


def replayed_to(source: dict[str, Any], target: Operation) -> dict[str, Any]:
    """The target route's event, carrying the source's signature headers and body byte for byte."""
    event = load_event(target.function_dir)
    signature = {k: v for k, v in source["headers"].items() if k.startswith("webhook-")}
    headers = {k: v for k, v in event["headers"].items() if k.lower() != "authorization"} | signature
    return event | {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "body": source["body"],
        "isBase64Encoded": source.get("isBase64Encoded", False),
    }


def with_header(event: dict[str, Any], name: str, *values: str) -> dict[str, Any]:
    headers = dict(event["headers"]) | {name: values[-1]}
    multi = dict(event["multiValueHeaders"]) | {name: list(values)}
    return event | {"headers": headers, "multiValueHeaders": multi}


# -- 1. a signed request is good for one route only, once -------------------------------------


@pytest.mark.parametrize("source", OPERATIONS, ids=lambda op: op.name)
def test_a_signed_request_replayed_to_any_other_route_is_refused(
    source: Operation, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a request signed for the source route, delivered there once (where signatures count)
    event = signed(source)
    first = invoke(source.function_dir, event)
    delivered = len(recorded_gateway.requests)
    if source.accepts_webhooks:
        assert first["statusCode"] == 200, first["body"]
        assert delivered == 1
    else:
        assert first["statusCode"] == 401  # reads and erasure take bearer tokens only
        assert delivered == 0

    # When the same signature headers and body are replayed to every other route
    statuses = {
        target.name: invoke(target.function_dir, replayed_to(event, target))["statusCode"]
        for target in OPERATIONS
        if target is not source
    }

    # Then every replay is refused with 401, and Talon.One was not called again
    assert statuses == dict.fromkeys(statuses, 401)
    assert len(recorded_gateway.requests) == delivered


def _wrong_bearer(event: dict[str, Any]) -> dict[str, Any]:
    return with_header(event, "Authorization", "Bearer not-a-configured-token-0123456789")


def _unknown_query(event: dict[str, Any]) -> dict[str, Any]:
    return event | {
        "queryStringParameters": {"profileId": "x"},
        "multiValueQueryStringParameters": {"profileId": ["x"]},
    }


@pytest.mark.parametrize(
    ("spoil", "status", "clean"),
    [
        # the same route, body and query as signed: the sender's retry, delivered once
        pytest.param(_wrong_bearer, 401, 200, id="a-wrong-bearer-token-beside-it"),
        # another query than the one refused: another request, refused
        pytest.param(_unknown_query, 400, 401, id="an-unknown-query-parameter"),
    ],
)
def test_a_signed_request_refused_on_its_route_has_used_its_webhook_id(
    spoil: Callable[[dict[str, Any]], dict[str, Any]],
    status: int,
    clean: int,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
) -> None:
    # Given a validly signed request refused for something beside its signature
    source = next(op for op in SIGNED if op.name == "trackEventV2")
    event = signed(source)
    assert invoke(source.function_dir, spoil(event))["statusCode"] == status

    # When its signature headers and body are replayed, clean, to another route, then its own
    target = next(op for op in SIGNED if op.name == "updateCustomerSessionV2")
    elsewhere = invoke(target.function_dir, replayed_to(event, target))
    again = invoke(source.function_dir, event)

    # Then the id was claimed by the refused request: another route refuses it, and Talon.One
    # got at most the one request the signature is for
    assert (again["statusCode"], elsewhere["statusCode"]) == (clean, 401)
    assert len(recorded_gateway.requests) == (1 if clean == 200 else 0)


@pytest.mark.parametrize("operation", SIGNED, ids=lambda op: op.name)
def test_a_signed_request_replayed_to_its_route_is_answered_from_the_record(
    operation: Operation, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a signed request delivered once
    event = signed(operation)
    first = invoke(operation.function_dir, event)

    # When it is replayed to the same route, as is or with an Idempotency-Key an attacker picked
    again = invoke(operation.function_dir, event)
    with_key = invoke(operation.function_dir, with_header(event, "Idempotency-Key", "attacker-1"))

    # Then the replay is the stored answer, the attacker's key is refused, Talon.One called once
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert header(again, "Idempotent-Replayed") == "true"
    assert again["body"] == first["body"]
    assert with_key["statusCode"] == 400
    assert body_json(with_key)["errors"][0]["source"] == {"parameter": "idempotency-key"}
    assert len(recorded_gateway.requests) == 1


def test_a_signed_request_with_another_query_is_refused(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a signed request delivered once
    operation = next(op for op in SIGNED if op.name == "trackEvent")
    event = signed(operation)
    assert invoke(operation.function_dir, event)["statusCode"] == 200

    # When it is replayed with a query string added (one the route would refuse anyway)
    replay = event | {"queryStringParameters": {"x": "1"}, "multiValueQueryStringParameters": {"x": ["1"]}}
    response = invoke(operation.function_dir, replay)

    # Then it is refused before anything else is looked at, and Talon.One was not called again
    assert response["statusCode"] in (400, 401)
    assert len(recorded_gateway.requests) == 1


def test_a_failed_signed_request_stays_bound_to_its_route(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a signed request that Talon.One refused (nothing stored for it)
    source = next(op for op in SIGNED if op.name == "updateCustomerSession")
    target = next(op for op in SIGNED if op.name == "updateCustomerSessionV2")
    recorded_gateway.answer(400, b'{"message":"refused"}')
    event = signed(source)
    assert invoke(source.function_dir, event)["statusCode"] == 400

    # When it is replayed to another route
    response = invoke(target.function_dir, replayed_to(event, target))

    # Then the webhook id is still bound to the first route: refused, not delivered
    assert response["statusCode"] == 401
    assert len(recorded_gateway.requests) == 1
    # while the sender's own retry to the first route goes through
    recorded_gateway.answer(200, b'{"ok":true}')
    assert invoke(source.function_dir, event)["statusCode"] == 200
    assert len(recorded_gateway.requests) == 2


def test_two_senders_may_use_the_same_webhook_id(
    recorded_gateway: RecordingUpstream, set_inbound: SetInbound, invoke: Invoke
) -> None:
    # Given two webhook senders with their own secrets, using the same message id on two routes
    set_inbound(aws.inbound_secrets(webhookSecrets=[aws.WEBHOOK_SECRET, SECRET_A]))
    one = next(op for op in SIGNED if op.name == "trackEvent")
    other = next(op for op in SIGNED if op.name == "createReferral")

    # When each delivers
    first = invoke(one.function_dir, signed(one, "msg_shared", aws.WEBHOOK_SECRET))
    second = invoke(other.function_dir, signed(other, "msg_shared", SECRET_A))

    # Then both are delivered: single use is per signing secret
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert len(recorded_gateway.requests) == 2


def test_a_repeated_idempotency_key_header_is_refused(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    event = with_header(load_event("track_event"), "Idempotency-Key", "key-1", "key-2")
    response = invoke("track_event", event)
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["source"] == {"parameter": "idempotency-key"}
    assert recorded_gateway.requests == []


def test_a_signed_request_with_its_own_webhook_id_as_key_is_accepted(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    event = signed(SIGNED[0], "msg_same_as_key")
    response = invoke(SIGNED[0].function_dir, with_header(event, "Idempotency-Key", "msg_same_as_key"))
    assert response["statusCode"] == 200
    assert recorded_gateway.requests[0].headers["idempotency-key"] == "msg_same_as_key"


# -- 2. credentials carry scopes ---------------------------------------------------------------


SCOPED = {
    "webhookSecrets": [{"secret": SECRET_A, "operations": ["trackEvent"]}],
    "bearerTokens": [
        {"token": TOKEN_A, "operations": ["trackEvent", "updateCustomerSessionV2"]},
        {"token": TOKEN_B, "operations": ["getCustomerInventory", "deleteCustomerData"]},
        aws.BEARER_TOKEN,  # the first release's shape: unscoped
    ],
}


def bearer(event: dict[str, Any], token: str) -> dict[str, Any]:
    return with_header(
        {**event, "headers": {k: v for k, v in event["headers"].items() if k != "Authorization"}},
        "Authorization",
        f"Bearer {token}",
    )


@pytest.mark.parametrize(
    ("token", "function", "status"),
    [
        pytest.param(TOKEN_A, "track_event", 200, id="writer-writes"),
        pytest.param(TOKEN_A, "update_customer_session_v2", 200, id="writer-updates-sessions"),
        pytest.param(TOKEN_A, "get_customer_inventory", 403, id="writer-cannot-read"),
        pytest.param(TOKEN_A, "delete_customer_data", 403, id="writer-cannot-erase"),
        pytest.param(TOKEN_B, "get_customer_inventory", 200, id="reader-reads"),
        pytest.param(TOKEN_B, "delete_customer_data", 204, id="privacy-erases"),
        pytest.param(TOKEN_B, "track_event", 403, id="reader-cannot-write"),
        pytest.param(aws.BEARER_TOKEN, "delete_customer_data", 204, id="unscoped-token-erases"),
        pytest.param(aws.BEARER_TOKEN, "get_customer_inventory", 200, id="unscoped-token-reads"),
    ],
)
def test_a_bearer_token_calls_only_what_it_names(
    token: str,
    function: str,
    status: int,
    recorded_gateway: RecordingUpstream,
    set_inbound: SetInbound,
    invoke: Invoke,
) -> None:
    set_inbound(SCOPED)
    if status == 204:
        recorded_gateway.answer(204, b"", content_type=None)
    response = invoke(function, bearer(load_event(function), token))
    assert response["statusCode"] == status, response["body"]
    if status == 403:
        assert body_json(response)["StatusCode"] == 403
        assert header(response, "X-Correlation-Id") is not None
        assert recorded_gateway.requests == []


def test_a_scoped_webhook_secret_signs_only_what_it_names(
    recorded_gateway: RecordingUpstream, set_inbound: SetInbound, invoke: Invoke
) -> None:
    set_inbound(SCOPED)
    allowed = invoke(
        "track_event",
        signed(SIGNED[0] if SIGNED[0].name == "trackEvent" else _op("trackEvent"), secret=SECRET_A),
    )
    refused = invoke("create_referral", signed(_op("createReferral"), secret=SECRET_A))
    assert (allowed["statusCode"], refused["statusCode"]) == (200, 403)
    assert len(recorded_gateway.requests) == 1


def test_both_credentials_must_allow_the_operation(
    recorded_gateway: RecordingUpstream, set_inbound: SetInbound, invoke: Invoke
) -> None:
    # Given a valid signature for trackEvent next to a token that may only read
    set_inbound(SCOPED)
    event = with_header(signed(_op("trackEvent"), secret=SECRET_A), "Authorization", f"Bearer {TOKEN_B}")
    assert invoke("track_event", event)["statusCode"] == 403
    assert recorded_gateway.requests == []


def _op(name: str) -> Operation:
    return next(op for op in OPERATIONS if op.name == name)


# -- 4. one JSON document, one meaning ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        pytest.param('{"type":"a","type":"b","attributes":{},"sessionId":"s"}', "/type", id="top-level"),
        pytest.param('{"type":"a","attributes":{"x":1,"x":2},"sessionId":"s"}', "/attributes/x", id="nested"),
        pytest.param(
            '{"type":"a","attributes":{"l":[0,{"k":1,"k":1}]},"sessionId":"s"}',
            "/attributes/l/1/k",
            id="in-a-list",
        ),
        pytest.param(
            '{"type":"a","attributes":{"a~/b":1,"a~/b":1},"sessionId":"s"}',
            "/attributes/a~0~1b",
            id="escaped",
        ),
    ],
)
def test_a_duplicate_key_anywhere_is_refused_by_pointer(
    body: str, pointer: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    event = load_event("track_event") | {"body": body}
    response = invoke("track_event", event)
    assert response["statusCode"] == 400
    problem = body_json(response)["errors"][0]
    assert (problem["title"], problem["source"]) == ("Duplicate key", {"pointer": pointer})
    assert recorded_gateway.requests == []


def test_a_body_on_an_operation_without_one_is_refused(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    event = load_event("delete_customer_data") | {"body": '{"integrationId":"someone-else"}'}
    response = invoke("delete_customer_data", event)
    assert response["statusCode"] == 400
    assert recorded_gateway.requests == []


# -- 8. configuration that cannot work is refused clearly --------------------------------------


@pytest.mark.parametrize(
    ("inbound", "field"),
    [
        pytest.param({"bearerTokens": aws.BEARER_TOKEN}, "bearerTokens", id="tokens-as-a-string"),
        pytest.param({"bearerTokens": ["short-token"]}, "bearerTokens.0.token", id="token-too-short"),
        pytest.param(
            {"bearerTokens": [f" {aws.BEARER_TOKEN}"]}, "bearerTokens.0.token", id="token-with-space"
        ),
        pytest.param({"bearerTokens": [f"{aws.BEARER_TOKEN}\n"]}, "bearerTokens.0.token", id="token-newline"),
        pytest.param(
            {"webhookSecrets": ["whsec_" + base64.b64encode(b"16-bytes-secret!").decode()]},
            "webhookSecrets.0.secret",
            id="webhook-secret-too-weak",
        ),
        pytest.param(
            {"webhookSecrets": ["whsec_not base64!"]}, "webhookSecrets.0.secret", id="secret-not-base64"
        ),
        pytest.param(
            {"bearerTokens": [{"token": aws.BEARER_TOKEN, "operations": ["trackEvnt"]}]},
            "bearerTokens.0.operations",
            id="unknown-operation",
        ),
        pytest.param(
            {"webhookSecrets": [{"secret": aws.WEBHOOK_SECRET, "operations": ["deleteCustomerData"]}]},
            "webhookSecrets.0",
            id="signature-for-erasure",
        ),
        pytest.param({"bearerToken": [aws.BEARER_TOKEN]}, "bearerToken", id="misspelt-key"),
        pytest.param({"webhookSecrets": [], "bearerTokens": []}, "(root)", id="nothing-configured"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_naming_the_field(
    inbound: dict[str, Any],
    field: str,
    recorded_gateway: RecordingUpstream,
    set_inbound: SetInbound,
    invoke: Invoke,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an inbound secret that cannot work
    set_inbound(inbound)
    capsys.readouterr()

    # When a request arrives
    response = invoke("track_event", load_event("track_event"))

    # Then the caller gets a clear 500, Talon.One is not called, and the log names the field
    assert response["statusCode"] == 500
    assert body_json(response)["message"] == "The gateway is misconfigured"
    assert recorded_gateway.requests == []
    logged = log_tap.records(capsys.readouterr().out)
    problems = [line["problem"] for line in logged if line.get("message") == "gateway misconfigured"]
    assert len(problems) == 1
    assert f" {field} " in f" {problems[0]} ".replace(":", " ")
    assert "Traceback" not in json.dumps(logged)


# -- 9. crafted events are handled like real ones ----------------------------------------------


def crafted(
    change: Callable[[dict[str, Any]], None], function: str = "update_customer_session_v2"
) -> dict[str, Any]:
    event = load_event(function)
    change(event)
    return event


def _headers_disagree(event: dict[str, Any]) -> None:
    event["multiValueHeaders"]["Authorization"] = ["Bearer attacker-guess-0123456789abcdef012"]


def _extra_multi_header(event: dict[str, Any]) -> None:
    event["multiValueHeaders"]["Idempotency-Key"] = ["hidden-key"]


def _path_disagrees(event: dict[str, Any]) -> None:
    event["pathParameters"] = {"customerSessionId": "someone-elses-cart"}


def _path_parameters_empty(event: dict[str, Any]) -> None:
    event["pathParameters"] = {}


def _path_parameters_null(event: dict[str, Any]) -> None:
    event["pathParameters"] = None


def _path_parameter_extra(event: dict[str, Any]) -> None:
    event["pathParameters"] = {**event["pathParameters"], "integrationId": "x"}


def _path_missing(event: dict[str, Any]) -> None:
    del event["path"]


def _query_disagrees(event: dict[str, Any]) -> None:
    event["queryStringParameters"] = {"profile": "true"}
    event["multiValueQueryStringParameters"] = {"profile": ["false"]}


def _headers_not_a_map(event: dict[str, Any]) -> None:
    event["headers"] = ["Authorization", "Bearer x"]


def _body_an_object(event: dict[str, Any]) -> None:
    event["body"] = json.loads(event["body"])  # API Gateway sends the body as text


def _body_a_number(event: dict[str, Any]) -> None:
    event["body"] = 5


def _body_a_list(event: dict[str, Any]) -> None:
    event["body"] = [event["body"]]


@pytest.mark.parametrize(
    ("change", "function"),
    [
        pytest.param(_headers_disagree, "update_customer_session_v2", id="headers-and-multi-disagree"),
        pytest.param(_extra_multi_header, "update_customer_session_v2", id="header-only-in-multi"),
        pytest.param(_path_disagrees, "update_customer_session_v2", id="path-parameters-disagree-with-path"),
        pytest.param(_path_parameters_empty, "update_customer_session_v2", id="path-parameters-empty"),
        pytest.param(_path_parameters_null, "update_customer_session_v2", id="path-parameters-null"),
        pytest.param(_path_parameter_extra, "update_customer_session_v2", id="path-parameter-extra"),
        pytest.param(_path_missing, "update_customer_session_v2", id="path-missing"),
        pytest.param(_query_disagrees, "get_customer_inventory", id="query-maps-disagree"),
        pytest.param(_headers_not_a_map, "update_customer_session_v2", id="headers-not-a-map"),
        pytest.param(_body_an_object, "update_customer_session_v2", id="body-an-object"),
        pytest.param(_body_a_number, "update_customer_session_v2", id="body-a-number"),
        pytest.param(_body_a_list, "update_customer_session_v2", id="body-a-list"),
    ],
)
def test_a_crafted_event_is_refused_never_read_the_laxer_way(
    change: Callable[[dict[str, Any]], None],
    function: str,
    recorded_gateway: RecordingUpstream,
    invoke: Invoke,
) -> None:
    response = invoke(function, crafted(change, function))
    assert response["statusCode"] in (400, 401), response["body"]
    assert body_json(response)["StatusCode"] == response["statusCode"]
    assert recorded_gateway.requests == []


def test_a_path_behind_a_base_path_mapping_is_accepted(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the event of a custom domain whose base path precedes the resource
    event = load_event("update_customer_session_v2")
    event["path"] = "/talon" + event["path"]
    # Then it is served like the plain one
    assert invoke("update_customer_session_v2", event)["statusCode"] == 200
    assert len(recorded_gateway.requests) == 1


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("cart\u200b1", id="zero-width-space"),
        pytest.param("cart\u202e1", id="bidi-override"),
        pytest.param("cart\u00a01", id="no-break-space"),
        pytest.param("cart\u20281", id="line-separator"),
        pytest.param("cart\x001", id="nul"),
        pytest.param("..", id="dot-dot"),
    ],
)
def test_refused_path_characters_are_refused(
    value: str, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    from urllib.parse import quote

    event = load_event("update_customer_session_v2")
    event["pathParameters"] = {"customerSessionId": value}
    event["path"] = "/v2/customer_sessions/" + quote(value, safe="")
    response = invoke("update_customer_session_v2", event)
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["source"] == {"parameter": "customerSessionId"}
    assert recorded_gateway.requests == []


def test_a_space_in_a_path_parameter_is_a_valid_identifier(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    event = load_event("update_customer_session_v2")
    event["pathParameters"] = {"customerSessionId": "cart 1"}
    event["path"] = "/v2/customer_sessions/cart%201"
    assert invoke("update_customer_session_v2", event)["statusCode"] == 200
    assert recorded_gateway.requests[0].target.split("?")[0] == "/v2/customer_sessions/cart%201"


def test_answers_are_not_changed_by_the_guard(recorded_gateway: RecordingUpstream, invoke: Invoke) -> None:
    recorded_gateway.default = Answer(200, b'{"effects":[],"x":1}')
    response = invoke("track_event", load_event("track_event"))
    assert response["body"] == '{"effects":[],"x":1}'
