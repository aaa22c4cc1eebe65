"""Secrets through the AWS Parameters and Secrets Lambda Extension (HTTP on localhost)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Invoke, load_event
from tests.support import aws
from tests.support.upstream import RecordingUpstream


def secret_answer(value: dict[str, object]) -> bytes:
    return json.dumps({"Name": "n", "SecretString": json.dumps(value)}).encode()


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingUpstream]:
    """A stand-in for the extension on 127.0.0.1, selected the way template.yaml selects it."""
    with RecordingUpstream() as server:
        monkeypatch.setenv("SECRETS_EXTENSION_PORT", server.url.rsplit(":", 1)[1])
        monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-of-the-function")
        monkeypatch.setenv("POWERTOOLS_PARAMETERS_MAX_AGE", "300")
        yield server


def test_secrets_are_read_through_the_extension_and_cached(
    extension: RecordingUpstream, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the extension holds both secrets (read in this order: inbound, then Talon.One's)
    extension.answer(200, secret_answer(aws.inbound_secrets()))
    extension.answer(200, secret_answer(aws.talon_credentials(apiKey="key-from-the-extension")))

    # When two requests are served
    first = invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    second = invoke("get_reserved_coupons", load_event("get_reserved_coupons"))

    # Then the extension was asked once per secret, with the function's session token
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    asked = [parse_qs(urlsplit(r.target).query)["secretId"][0] for r in extension.requests]
    assert asked == [aws.INBOUND_SECRET_ID, aws.TALON_SECRET_ID]
    assert {r.headers["x-aws-parameters-secrets-token"] for r in extension.requests} == {
        "session-token-of-the-function"
    }
    # and Talon.One got the key the extension gave
    assert recorded_gateway.requests[0].headers["authorization"] == "ApiKey-v1 key-from-the-extension"


def test_a_refused_key_is_refetched_through_the_sdk(
    extension: RecordingUpstream, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given the extension still serves an old key (its own cache), while Secrets Manager has the new one
    extension.answer(200, secret_answer(aws.inbound_secrets()))
    extension.answer(200, secret_answer(aws.talon_credentials(apiKey="rotated-away")))
    recorded_gateway.answer(401, b'{"message":"unauthorized"}')

    # When Talon.One refuses the old key
    response = invoke("get_reserved_coupons", load_event("get_reserved_coupons"))

    # Then the refetch bypassed the extension, and the retry carried Secrets Manager's key
    assert response["statusCode"] == 200
    assert len(extension.requests) == 2
    assert [r.headers["authorization"] for r in recorded_gateway.requests] == [
        "ApiKey-v1 rotated-away",
        f"ApiKey-v1 {aws.API_KEY}",
    ]


def test_an_unreachable_extension_on_a_cold_start_is_a_503(
    extension: RecordingUpstream, recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    extension.default.status = 500
    response = invoke("get_reserved_coupons", load_event("get_reserved_coupons"))
    assert response["statusCode"] == 503
    assert recorded_gateway.requests == []
