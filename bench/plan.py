"""What a probe is given: Lambda's environment for a function, and its events.

``template_environment`` mirrors template.yaml's Globals (its defaults: the secrets extension
attached, tracing on); tests/test_bench.py checks that it names every variable the template
sets, so the bench cannot drift from what is deployed.
"""

from __future__ import annotations

import copy
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-bearer-token-0123456789abcdef"  # noqa: S105 - a benchmark's own credential
SECRETS: dict[str, dict[str, object]] = {
    "bench/talon": {"apiKey": "bench-api-key", "applicationId": "42", "applicationKey": "a1b2c3d4" * 8},
    "bench/inbound": {"webhookSecrets": [], "bearerTokens": [TOKEN]},
}
REGION = "eu-west-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/123456789012/bench-deliveries.fifo"


def template_environment() -> dict[str, str]:
    """template.yaml's Globals.Function.Environment with its parameters' defaults."""
    return {
        "TALON_BASE_URL": "https://mycompany.europe-west1.talon.one",
        "TALON_SECRET_ID": "bench/talon",
        "TALON_CONNECT_TIMEOUT": "2",
        "TALON_READ_TIMEOUT": "8",
        "INBOUND_SECRET_ID": "bench/inbound",
        "IDEMPOTENCY_TABLE": "bench-idempotency",
        "IDEMPOTENCY_TTL_SECONDS": "86400",
        "UNKNOWN_REQUEST_FIELDS": "refuse",
        "STATE_TABLE": "bench-state",
        "GATEWAY_BUCKET": "bench-bucket",
        "DELIVERY_QUEUE_URL": QUEUE_URL,
        "DEAD_LETTER_QUEUE_URL": QUEUE_URL.replace("deliveries", "dead-letters"),
        "MAX_RECEIVE_COUNT": "8",
        "MAX_BACKOFF_SECONDS": "300",
        "POWERTOOLS_SERVICE_NAME": "talon-gateway",
        "POWERTOOLS_METRICS_NAMESPACE": "TalonGateway",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_PARAMETERS_MAX_AGE": "300",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "SECRETS_EXTENSION_PORT": "2773",
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773",
        "SECRETS_MANAGER_TTL": "300",
        "SHOPIFY_CONFIG": "{}",
        "SHOPIFY_RECORD_TTL_SECONDS": "15552000",
    }


# Variables template.yaml sets only when a parameter asks (its default leaves them out).
UNSET_BY_DEFAULT = frozenset({"EXPORTS_KMS_KEY_ARN"})


def lambda_environment(
    function: str, task_root: Path, *, xray_port: int | None, snapstart: bool = False
) -> dict[str, str]:
    """What the Lambda service adds for a function (python3.13, 1024 MB, Active tracing)."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start" if snapstart else "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": "app.lambda_handler",
    }
    if xray_port is not None:
        # Active tracing: the SDK's UDP emitter, here toward a loopback socket nobody reads.
        address = f"127.0.0.1:{xray_port}"
        environment |= {
            "AWS_XRAY_DAEMON_ADDRESS": address,
            "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
            "_AWS_XRAY_DAEMON_PORT": str(xray_port),
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        }
    return environment


def api_event(
    function: str, cart_items: int, *, key: str | None = None, respond_async: bool = False
) -> dict[str, Any]:
    """The function's API Gateway event (events/), authenticated with the bench's token."""
    loaded: dict[str, Any] = json.loads((ROOT / "events" / f"{function}.json").read_text())
    headers = dict(loaded["headers"], Authorization=f"Bearer {TOKEN}")
    if key is not None:
        headers["Idempotency-Key"] = key
    if respond_async:
        headers["Prefer"] = "respond-async"
    loaded["headers"] = headers
    loaded["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    if function == "update_customer_session_v2":
        items = [
            {
                "name": f"Item {i}",
                "sku": f"SKU-{i:05d}",
                "quantity": 1 + i % 3,
                "price": 9.99 + i,
                "category": "apparel",
                "attributes": {"color": "black", "size": "M"},
            }
            for i in range(cart_items)
        ]
        session = {"profileId": "customer-1001", "couponCodes": ["SUMMER20"], "cartItems": items}
        loaded["body"] = json.dumps({"customerSession": session, "responseContent": ["customerSession"]})
    return loaded


def sqs_record() -> dict[str, Any]:
    """One message of the delivery queue as the SQS event source hands it to the worker."""
    return {
        "messageId": "-",
        "receiptHandle": "bench-receipt",
        "body": "-",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764403200000",
            "SequenceNumber": "18849496460467696128",
            "MessageGroupId": "0" * 64,
            "SenderId": "AIDABENCH",
            "MessageDeduplicationId": "0" * 64,
            "ApproximateFirstReceiveTimestamp": "1764403200000",
        },
        "messageAttributes": {"operation": {"stringValue": "updateCustomerSessionV2", "dataType": "String"}},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:bench-deliveries.fifo",
        "awsRegion": REGION,
    }


def queued_record(cart_items: int) -> dict[str, Any]:
    """A queued delivery's DynamoDB item (delivery/deliveries.py's ``create``), for the worker."""
    body = api_event("update_customer_session_v2", cart_items)["body"]
    return {
        "pk": {"S": "delivery#-"},
        "sk": {"S": "-"},
        "state": {"S": "queued"},
        "attempts": {"N": "0"},
        "operation": {"S": "updateCustomerSessionV2"},
        "pathValues": {"M": {"customerSessionId": {"S": "cart-1"}}},
        "query": {"S": "[]"},
        "group": {"S": "0" * 64},
        "acceptedAt": {"N": "1764403200"},
        "expiration": {"N": str(2**40)},
        "body": {"S": body},
    }


def secrets() -> dict[str, dict[str, object]]:
    return copy.deepcopy(SECRETS)


def build_layer(artifacts: Path) -> None:
    """The layer by its own recipe (shared/Makefile, as sam build runs it) into ``artifacts``,
    with this machine's wheels (the deployed arm64 ones differ only in their binaries)."""
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-C",
            str(ROOT / "shared"),
            "build-SharedLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PLATFORM=manylinux2014_{platform.machine()}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,  # pip's notices about this machine's extra indexes
    )
