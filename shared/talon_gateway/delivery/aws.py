"""The gateway's own AWS clients (DynamoDB, SQS, S3), built once per execution environment.

boto3 is imported on first use only: read-only functions never pay for it. Every client gets
the gateway's short timeouts (config.aws_client_config), so a failing AWS answers in time for
a clear 503 instead of outliving API Gateway's 29 seconds.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from talon_gateway.config import aws_client_config


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=aws_client_config())


def reset() -> None:
    """Forget the clients (tests, SnapStart restores: their connections belong to the snapshot)."""
    client.cache_clear()
