"""Several Talon.One applications behind one gateway: X-Talon-Application on the API routes.

Two recording servers stand for two Talon.One applications (each its own base URL and API
key); the Talon.One secret names both. The Shopify side (shop domain → application):
tests/test_shopify.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Invoke, body_json, load_event
from tests.support import aws
from tests.support.queues import Worker
from tests.support.upstream import RecordingUpstream
from tests.support.webhooks import sign

SESSION = "update_customer_session_v2"


def with_headers(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return event | {
        "headers": event["headers"] | names,
        "multiValueHeaders": event["multiValueHeaders"] | {k: [v] for k, v in names.items()},
    }


def for_app(name: str | None, event: dict[str, Any] | None = None, /, **headers: str) -> dict[str, Any]:
    event = event or load_event(SESSION)
    if name is not None:
        headers["X_Talon_Application"] = name
    return with_headers(event, **headers)


@pytest.fixture
def apps(gateway_env: Any, moto_endpoint: str) -> Iterator[tuple[RecordingUpstream, RecordingUpstream]]:
    with RecordingUpstream() as eu, RecordingUpstream() as us:
        gateway_env(eu.url)
        aws.set_talon_credentials(
            moto_endpoint,
            {
                "applications": {
                    "eu": {"apiKey": "eu-key", "baseUrl": eu.url},
                    "us": {"apiKey": "us-key", "baseUrl": us.url},
                },
                "defaultApplication": "eu",
            },
        )
        try:
            yield eu, us
        finally:
            aws.set_talon_credentials(moto_endpoint, aws.talon_credentials())


def keys(server: RecordingUpstream) -> list[str]:
    return [r.headers["authorization"] for r in server.requests]


def test_the_header_selects_the_application_and_its_absence_the_default(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke
) -> None:
    eu, us = apps
    assert invoke(SESSION, for_app(None))["statusCode"] == 200
    assert invoke(SESSION, for_app("us"))["statusCode"] == 200
    assert invoke(SESSION, for_app("eu"))["statusCode"] == 200
    assert keys(eu) == ["ApiKey-v1 eu-key", "ApiKey-v1 eu-key"]
    assert keys(us) == ["ApiKey-v1 us-key"]


@pytest.mark.parametrize(
    ("event", "title"),
    [
        pytest.param(lambda: for_app("asia"), "Unknown application", id="unknown"),
        pytest.param(lambda: for_app("Not A Name"), "Unknown application", id="malformed"),
        pytest.param(
            lambda: (
                for_app("eu")
                | {
                    "multiValueHeaders": load_event(SESSION)["multiValueHeaders"]
                    | {"X-Talon-Application": ["eu", "us"]},
                    "headers": load_event(SESSION)["headers"] | {"X-Talon-Application": "us"},
                }
            ),
            "Repeated header",
            id="repeated",
        ),
    ],
)
def test_a_bad_selection_is_a_400_naming_the_header(
    event: Any, title: str, apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke
) -> None:
    eu, us = apps
    response = invoke(SESSION, event())
    assert response["statusCode"] == 400
    error = body_json(response)["errors"][0]
    assert (error["title"], error["source"]) == (title, {"parameter": "X-Talon-Application"})
    assert eu.requests == us.requests == []


def test_without_a_default_a_request_must_select(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke, moto_endpoint: str
) -> None:
    eu, us = apps
    aws.set_talon_credentials(
        moto_endpoint,
        {
            "applications": {
                "eu": {"apiKey": "eu-key", "baseUrl": eu.url},
                "us": {"apiKey": "us-key", "baseUrl": us.url},
            }
        },
    )
    response = invoke(SESSION, for_app(None))
    assert response["statusCode"] == 400
    assert body_json(response)["errors"][0]["title"] == "Missing header"
    assert invoke(SESSION, for_app("us"))["statusCode"] == 200


def test_a_credential_limited_to_an_application_reaches_no_other(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke, moto_endpoint: str
) -> None:
    _, us = apps
    token = "eu-backend-token-0123456789abcdef01234"
    aws.set_inbound_secrets(
        moto_endpoint,
        aws.inbound_secrets(bearerTokens=[aws.BEARER_TOKEN, {"token": token, "applications": ["eu"]}]),
    )
    try:
        as_eu = {"Authorization": f"Bearer {token}"}
        allowed = invoke(SESSION, for_app("eu", **as_eu))
        refused = invoke(SESSION, for_app("us", **as_eu))
        default = invoke(SESSION, for_app(None, **as_eu))
    finally:
        aws.set_inbound_secrets(moto_endpoint, aws.inbound_secrets())
    assert (allowed["statusCode"], refused["statusCode"], default["statusCode"]) == (200, 403, 200)
    assert body_json(refused)["message"] == "These credentials may not call the Talon.One application us"
    assert us.requests == []


def test_one_idempotency_key_on_two_applications_is_two_requests(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke
) -> None:
    eu, us = apps
    key = {"Idempotency_Key": "order-1001"}
    first_eu = invoke(SESSION, for_app("eu", **key))
    first_us = invoke(SESSION, for_app("us", **key))
    again_us = invoke(SESSION, for_app("us", **key))
    assert (first_eu["statusCode"], first_us["statusCode"], again_us["statusCode"]) == (200, 200, 200)
    assert (len(eu.requests), len(us.requests)) == (1, 1)
    assert again_us["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]


def test_a_signed_request_replayed_to_another_application_is_refused(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke
) -> None:
    _, us = apps
    signed = sign(load_event(SESSION), aws.WEBHOOK_SECRET, "msg-app-1")
    assert invoke(SESSION, for_app("eu", signed))["statusCode"] == 200
    # The header is not signed: the same signature for another application is a replay
    replayed = invoke(SESSION, for_app("us", signed))
    assert replayed["statusCode"] == 401
    assert us.requests == []


def test_an_asynchronous_write_is_delivered_to_its_application(
    apps: tuple[RecordingUpstream, RecordingUpstream], invoke: Invoke, worker: Worker
) -> None:
    eu, us = apps
    accepted = invoke(SESSION, for_app("us", Prefer="respond-async"))
    assert accepted["statusCode"] == 202
    worker()
    assert keys(us) == ["ApiKey-v1 us-key"]
    assert eu.requests == []


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ({"applications": {"eu": {"apiKey": "k"}}, "defaultApplication": "us"}, "defaultApplication"),
        (
            {
                "applications": {
                    "eu": {"apiKey": "k", "shopifyShops": ["a.myshopify.com"]},
                    "us": {"apiKey": "k", "shopifyShops": ["a.myshopify.com"]},
                }
            },
            "two applications",
        ),
        ({"applications": {"eu": {"apiKey": "k", "baseUrl": "http://talon.example.com"}}}, "https"),
        ({"applications": {"EU": {"apiKey": "k"}}}, "application names"),
        ({"applications": {}}, "applications"),
    ],
)
def test_a_secret_that_cannot_work_is_refused_with_the_field_named(
    secret: dict[str, Any],
    problem: str,
    apps: tuple[RecordingUpstream, RecordingUpstream],
    invoke: Invoke,
    moto_endpoint: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    aws.set_talon_credentials(moto_endpoint, secret)
    response = invoke(SESSION, for_app(None))
    assert response["statusCode"] == 500
    logged = capfd.readouterr().out
    assert problem in logged
    assert '"k"' not in json.dumps(body_json(response))
