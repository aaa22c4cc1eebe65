"""Everything `make run` starts: AWS emulation, Talon.One sandbox, execution environments, gateway.

- moto in server mode on loopback holds template.yaml's secrets and idempotency table;
- the Talon.One sandbox (or a real Talon.One, given its URL and credentials);
- a pool of worker processes standing in for Lambda execution environments;
- the HTTP gateway on 127.0.0.1 serving every Api route of template.yaml;
- the SQS event sources of template.yaml (the delivery worker on its FIFO queue), polled as
  Lambda's event source would (local_gateway/event_source.py).
The functions' environment is template.yaml's, resolved for these local resources.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_gateway import aws_resources
from local_gateway.client import LOCAL_TOKEN
from local_gateway.event_source import EventSource
from local_gateway.runtime import Runtime
from local_gateway.server import LocalGateway
from local_gateway.shopify import LOCAL_SHOPIFY_SECRET
from local_gateway.template import (
    NO_VALUE,
    ROOT,
    functions,
    load,
    parameter_defaults,
    queue_consumers,
    resolve,
)

REGION = "eu-west-1"
# Names (not values) of the local secrets.
TALON_SECRET_NAME = "local/talon-gateway/talon"  # noqa: S105
INBOUND_SECRET_NAME = "local/talon-gateway/inbound"  # noqa: S105
IDEMPOTENCY_TABLE_NAME = "local-talon-gateway-idempotency"
STATE_TABLE_NAME = "local-talon-gateway-state"
BUCKET_NAME = "local-talon-gateway"
LOCAL_STATE = ROOT / ".local" / "aws.json"
QUEUE_NAMES = {
    "DeliveryQueue": "local-talon-gateway-deliveries.fifo",
    "DeadLetterQueue": "local-talon-gateway-dead-letters.fifo",
}


@dataclass
class RealTalon:
    """A real Talon.One deployment instead of the sandbox."""

    base_url: str
    credentials: dict[str, str]  # the secret's JSON: apiKey and/or applicationId + applicationKey

    @classmethod
    def from_env(cls, base_url: str) -> RealTalon:
        names = {
            "apiKey": "TALON_API_KEY",
            "applicationId": "TALON_APPLICATION_ID",
            "applicationKey": "TALON_APPLICATION_KEY",
        }
        credentials = {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}
        if not credentials:
            raise SystemExit(
                "a real Talon.One needs TALON_API_KEY and/or TALON_APPLICATION_ID + TALON_APPLICATION_KEY"
            )
        return cls(base_url, credentials)


@dataclass
class LocalStack:
    port: int = 3000
    sandbox_port: int = 0
    workers: int = 4
    talon: RealTalon | None = None
    metrics: bool = False
    webhook_secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    token: str = LOCAL_TOKEN
    shopify_secret: str = LOCAL_SHOPIFY_SECRET
    # Template parameters overridden, as `sam deploy --parameter-overrides` would
    parameters: dict[str, str] = field(default_factory=dict)
    _moto: aws_resources.SerialMotoServer | None = None
    _sandbox: Any = None
    _runtime: Runtime | None = None
    _gateway: LocalGateway | None = None
    environment: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    # Where the lines of the asynchronous deliveries go (make run: stdout)
    delivery_log: Callable[[str], None] = field(default=lambda line: None)
    _sources: list[EventSource] = field(default_factory=list)
    _state: Any = None

    @property
    def url(self) -> str:
        assert self._gateway is not None
        return self._gateway.url

    @property
    def talon_url(self) -> str:
        if self.talon is not None:
            return self.talon.base_url
        return str(self._sandbox.url)

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self._moto = aws_resources.SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, moto_port = self._moto.get_host_and_port()
        aws_endpoint = f"http://{host}:{moto_port}"

        if self.talon is None:
            from sandbox import DEFAULT_API_KEY, DEFAULT_APPLICATION_ID, DEFAULT_APPLICATION_KEY_HEX, Sandbox

            self._sandbox = Sandbox(host="127.0.0.1", port=self.sandbox_port).start()
            credentials = {
                "apiKey": DEFAULT_API_KEY,
                "applicationId": DEFAULT_APPLICATION_ID,
                "applicationKey": DEFAULT_APPLICATION_KEY_HEX,
            }
        else:
            credentials = self.talon.credentials

        inbound = {
            "webhookSecrets": [self.webhook_secret],
            "bearerTokens": [self.token],
            "shopifyWebhookSecrets": [self.shopify_secret],
        }
        aws_resources.put_secrets(
            aws_endpoint,
            REGION,
            {
                "TalonSecret": (TALON_SECRET_NAME, credentials),
                "InboundSecret": (INBOUND_SECRET_NAME, inbound),
            },
        )
        aws_resources.create_tables(
            aws_endpoint,
            REGION,
            {"IdempotencyTable": IDEMPOTENCY_TABLE_NAME, "StateTable": STATE_TABLE_NAME},
        )
        aws_resources.create_buckets(aws_endpoint, REGION, {"GatewayBucket": BUCKET_NAME})
        names = QUEUE_NAMES
        if self.port == 0:
            # A test's stack: moto's backends are one per process, shared by every stack a test
            # session starts, and a queue cannot be created again with other attributes (another
            # MaxReceiveCount): each test stack gets queues of its own.
            suffix = secrets.token_hex(4)
            names = {logical_id: f"{suffix}-{name}" for logical_id, name in QUEUE_NAMES.items()}
        self.queue_urls = aws_resources.create_queues(aws_endpoint, REGION, names, self.parameters)

        self.environment = self._function_environment(aws_endpoint)
        # Powertools reads its variables when the layer is imported, in the forkserver, which
        # inherits this process's environment when it starts: start it (with a first worker)
        # under the functions' environment, then put this process's own back.
        saved = dict(os.environ)
        os.environ.update(self.environment)
        try:
            self._runtime = Runtime(self.environment, workers=self.workers)
            self._runtime.call(os.getpid)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self._gateway = LocalGateway(functions(), self._runtime, port=self.port, token=self.token)
        self._gateway.start()
        sqs = aws_resources.client("sqs", aws_endpoint, REGION)
        self._sources = [
            EventSource(
                consumer, self.queue_urls[consumer.queue], self._runtime, sqs, self._report_deliveries
            ).start()
            for consumer in queue_consumers()
        ]
        self._state = aws_resources.client("dynamodb", aws_endpoint, REGION)
        self._write_local_state(aws_endpoint)
        return self

    def _write_local_state(self, aws_endpoint: str) -> None:
        """Where this run's AWS emulation is, for `make dlq` / `make replay` (tools/dlq.py --local)."""
        if self.port == 0:
            return  # a test's stack: never the developer's `make run`
        state = {
            "endpoint": aws_endpoint,
            "region": REGION,
            "StateTable": STATE_TABLE_NAME,
            **self.queue_urls,
        }
        LOCAL_STATE.parent.mkdir(exist_ok=True)
        LOCAL_STATE.write_text(json.dumps(state, indent=2) + "\n")

    def _report_deliveries(self, messages: list[dict[str, Any]], result: dict[str, Any]) -> None:
        """One line per delivery of a batch, as the worker left its record (never its data)."""
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for message in messages:
            delivery_id = json.loads(message["Body"]).get("deliveryId", "?")
            item = self._state.get_item(
                TableName=STATE_TABLE_NAME, Key={"pk": {"S": f"delivery#{delivery_id}"}, "sk": {"S": "-"}}
            ).get("Item", {})
            state = item.get("state", {}).get("S", "gone")
            if message["MessageId"] in failed and state == "delivered":
                state = "skipped"  # held back behind a failed message of its entity
            status = item.get("talonStatus", {}).get("N", "-")
            operation = message.get("MessageAttributes", {}).get("operation", {}).get("StringValue", "?")
            attempt = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            self.delivery_log(
                f"{time.strftime('%H:%M:%S')} delivery {delivery_id} {operation} -> {state} "
                f"(Talon.One {status}, attempt {attempt})"
            )

    def _function_environment(self, aws_endpoint: str) -> dict[str, str]:
        document = load()
        refs = (
            parameter_defaults(document)
            # No Lambda extension runs here: secrets are read with the SDK (from moto).
            | {"SecretsExtensionLayerArn": "none"}
            | self.parameters
            | {
                "TalonBaseUrl": self.talon_url,
                "TalonSecret": TALON_SECRET_NAME,
                "InboundSecret": INBOUND_SECRET_NAME,
                "IdempotencyTable": IDEMPOTENCY_TABLE_NAME,
                "StateTable": STATE_TABLE_NAME,
                "GatewayBucket": BUCKET_NAME,
                "AWS::Region": REGION,
            }
            | self.queue_urls
        )
        variables = document["Globals"]["Function"]["Environment"]["Variables"]
        conditions = document.get("Conditions", {})
        resolved = {name: resolve(value, refs, conditions) for name, value in variables.items()}
        environment = {name: str(value) for name, value in resolved.items() if value is not NO_VALUE}
        return environment | {
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            "POWERTOOLS_METRICS_DISABLED": "false" if self.metrics else "true",
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }

    def stop(self) -> None:
        for source in self._sources:
            source.stop()
        if self._gateway is not None:
            self._gateway.stop()
        if self._runtime is not None:
            self._runtime.close()
        if self._sandbox is not None:
            self._sandbox.stop()
        if self._moto is not None:
            self._moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
