"""Everything `make run` starts: AWS emulation, Talon.One sandbox, execution environments, gateway.

- moto in server mode on loopback holds template.yaml's secrets and idempotency table;
- the Talon.One sandbox (or a real Talon.One, given its URL and credentials);
- a pool of worker processes standing in for Lambda execution environments;
- the HTTP gateway on 127.0.0.1 serving every Api route of template.yaml.
The functions' environment is template.yaml's, resolved for these local resources.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from local_gateway import aws_resources
from local_gateway.client import LOCAL_TOKEN
from local_gateway.runtime import Runtime
from local_gateway.server import LocalGateway
from local_gateway.template import NO_VALUE, functions, load, parameter_defaults, resolve

REGION = "eu-west-1"
# Names (not values) of the local secrets.
TALON_SECRET_NAME = "local/talon-gateway/talon"  # noqa: S105
INBOUND_SECRET_NAME = "local/talon-gateway/inbound"  # noqa: S105
IDEMPOTENCY_TABLE_NAME = "local-talon-gateway-idempotency"
STATE_TABLE_NAME = "local-talon-gateway-state"
BUCKET_NAME = "local-talon-gateway"


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
    _moto: aws_resources.SerialMotoServer | None = None
    _sandbox: Any = None
    _runtime: Runtime | None = None
    _gateway: LocalGateway | None = None
    environment: dict[str, str] = field(default_factory=dict)

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

        inbound = {"webhookSecrets": [self.webhook_secret], "bearerTokens": [self.token]}
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
        self._gateway = LocalGateway(functions(), self._runtime, port=self.port)
        self._gateway.start()
        return self

    def _function_environment(self, aws_endpoint: str) -> dict[str, str]:
        document = load()
        refs = parameter_defaults(document) | {
            "TalonBaseUrl": self.talon_url,
            "TalonSecret": TALON_SECRET_NAME,
            "InboundSecret": INBOUND_SECRET_NAME,
            "IdempotencyTable": IDEMPOTENCY_TABLE_NAME,
            "StateTable": STATE_TABLE_NAME,
            "GatewayBucket": BUCKET_NAME,
            "AWS::Region": REGION,
        }
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
