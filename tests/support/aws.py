"""AWS through moto's server mode on loopback: boto3 talks real HTTP to it (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
# Credentials of the test deployment. The application key and id are the test vectors of
# Talon.One's contract (spec/README.md), so signatures can be checked against known values.
API_KEY = "test-api-key-0001"
APPLICATION_ID = "42"
APPLICATION_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
BEARER_TOKEN = "local-dev-token"  # the token of events/*.json
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TALON_SECRET_ID = "talon-gateway/talon-credentials"
INBOUND_SECRET_ID = "talon-gateway/inbound"
IDEMPOTENCY_TABLE = "talon-gateway-idempotency"


class MotoServer:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def put_secret(endpoint: str, secret_id: str, value: dict[str, Any]) -> None:
    secrets = client("secretsmanager", endpoint)
    try:
        secrets.create_secret(Name=secret_id, SecretString=json.dumps(value))
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(value))


def talon_credentials(**override: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "apiKey": API_KEY,
        "applicationId": APPLICATION_ID,
        "applicationKey": APPLICATION_KEY,
    }
    value.update(override)
    return {k: v for k, v in value.items() if v is not None}


def inbound_secrets(**override: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"webhookSecrets": [WEBHOOK_SECRET], "bearerTokens": [BEARER_TOKEN]}
    value.update(override)
    return value
