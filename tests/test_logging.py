"""Nothing sensitive in logs: the redaction filter, and the suite-wide log capture it is checked with."""

from __future__ import annotations

import json

import pytest

from talon_gateway.observability import REDACTED, logger, redact
from tests.conftest import Invoke, load_event
from tests.support import aws, log_tap
from tests.support.upstream import RecordingUpstream


def test_redact_masks_credentials_and_customer_attributes_at_any_depth() -> None:
    record = {
        "headers": {
            "Authorization": "Bearer x",
            "Content-Signature": "signer=42; signature=y",
            "Accept": "*/*",
        },
        "body": {"customerSession": {"attributes": {"Email": "jane@example.com"}, "profileId": "c1"}},
        "items": [{"webhook-signature": "v1,abc"}],
    }
    assert redact(record) == {
        "headers": {"Authorization": REDACTED, "Content-Signature": REDACTED, "Accept": "*/*"},
        "body": {"customerSession": {"attributes": REDACTED, "profileId": "c1"}},
        "items": [{"webhook-signature": REDACTED}],
    }


def test_the_logger_redacts_structured_fields(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a careless log call with a header map and customer attributes
    capsys.readouterr()
    logger.warning(
        "debugging a request",
        extra={"headers": {"authorization": "Bearer tok-123456"}, "attributes": {"Name": "Zed Zimmer"}},
    )

    # Then the line is written without the values
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["headers"] == {"authorization": REDACTED}
    assert line["attributes"] == REDACTED


def test_the_suite_wide_log_capture_sees_the_functions_logs(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a request that logs (an inbound authentication failure logs a warning)
    event = load_event("update_customer_profile")
    event["headers"]["Authorization"] = "Bearer not-the-token"
    event["multiValueHeaders"]["Authorization"] = ["Bearer not-the-token"]
    before = len(log_tap.lines())

    # When it is served
    invoke("update_customer_profile", event)

    # Then its log line reached the capture checked at the end of the session
    new = log_tap.lines()[before:]
    assert any("inbound authentication failed" in line for line in new)
    # and the check would notice a secret or a customer attribute value in a line
    planted = [f"oops {aws.API_KEY}", 'oops {"Name": "Jane Doe"}', "harmless"]
    assert [needle for needle, _ in log_tap.leaks(planted)] == [aws.API_KEY, "Jane Doe"]
