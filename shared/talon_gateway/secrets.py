"""Secrets from AWS Secrets Manager, cached for POWERTOOLS_PARAMETERS_MAX_AGE seconds.

Two ways to read them:
- Powertools parameters' SecretsProvider (boto3), the default;
- the AWS Parameters and Secrets Lambda Extension over HTTP on localhost, when the template
  adds its layer (``SECRETS_EXTENSION_PORT``): no SDK client is created, which takes about
  170 ms off a cold start (bench/). Refetches that must bypass every cache (a 401 from
  Talon.One after a key rotation) still go through the SDK.

Values are parsed into models whose secret fields are ``SecretStr``/``SecretBytes``, so a repr
or a log line can never show them. When Secrets Manager is unreachable, the last value read
in this execution environment is used; with none, callers get ``SecretsUnavailable`` (503).
"""

from __future__ import annotations

import json
import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from talon_gateway.config import aws_client_config, get_settings
from talon_gateway.errors import ConfigurationError, SecretsUnavailable
from talon_gateway.observability import logger
from talon_gateway.upstream import transport

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# Set by template.yaml when the AWS Parameters and Secrets Lambda Extension layer is attached.
EXTENSION_PORT_ENV = "SECRETS_EXTENSION_PORT"

# Per secret, the last value read that parsed, with its model: reused while Powertools hands
# back the same cached dict, and the fallback when Secrets Manager cannot be reached.
_known: dict[str, tuple[dict[str, Any], BaseModel]] = {}


class TalonCredentials(BaseModel):
    """The secret named by TALON_SECRET_ID: the API key, or the application id and key, or all."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    api_key: SecretStr | None = Field(default=None, alias="apiKey", min_length=1)
    application_id: str | None = Field(default=None, alias="applicationId", min_length=1)
    application_key: SecretBytes | None = Field(default=None, alias="applicationKey")

    @field_validator("application_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        # Talon.One shows application ids as numbers; accept 42 as well as "42".
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("application_key", mode="before")
    @classmethod
    def _key_from_hex(cls, value: object) -> object:
        if not isinstance(value, str) or not value:
            raise ValueError("must be a non-empty hex string")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ValueError("must be a hex string") from None

    @model_validator(mode="after")
    def _one_scheme_at_least(self) -> TalonCredentials:
        if self.api_key is None and (self.application_id is None or self.application_key is None):
            raise ValueError("needs apiKey, or applicationId and applicationKey, or all three")
        return self


class InboundSecrets(BaseModel):
    """The secret named by INBOUND_SECRET_ID: what callers of the gateway may present."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    webhook_secrets: tuple[SecretStr, ...] = Field(default=(), alias="webhookSecrets")
    bearer_tokens: tuple[SecretStr, ...] = Field(default=(), alias="bearerTokens")


class _Unreadable(Exception):
    """The secret could not be read (service or extension unreachable, or refused)."""


class _NotJson(Exception):
    """The secret's value is not JSON."""


@cache
def _provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider, built (and boto3 imported) on first use."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto_config=aws_client_config())


def _read_with_sdk(secret_id: str, *, force_fetch: bool) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        return _provider().get(secret_id, transform="json", force_fetch=force_fetch)
    except TransformParameterError:
        raise _NotJson from None
    except GetParameterError as exc:
        raise _Unreadable(type(exc).__name__) from None


def _max_age() -> float:
    return float(os.environ.get("POWERTOOLS_PARAMETERS_MAX_AGE", "5"))


class _Extension:
    """The AWS Parameters and Secrets Lambda Extension, cached here too for the same max age."""

    def __init__(self, port: int) -> None:
        self._client = transport.new_client(
            base_url=f"http://127.0.0.1:{port}", timeout=httpx.Timeout(2.0, connect=0.5)
        )
        self._cache: dict[str, tuple[float, Any]] = {}

    def read(self, secret_id: str) -> Any:
        hit = self._cache.get(secret_id)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        token = os.environ.get("AWS_SESSION_TOKEN", "")
        try:
            response = self._client.get(
                "/secretsmanager/get",
                params={"secretId": secret_id},
                headers={"X-Aws-Parameters-Secrets-Token": token},
            )
        except httpx.HTTPError as exc:
            raise _Unreadable(type(exc).__name__) from None
        if response.status_code != 200:
            raise _Unreadable(f"extension answered {response.status_code}")
        try:
            value = json.loads(response.json()["SecretString"])
        except (ValueError, KeyError, TypeError):
            raise _NotJson from None
        self._cache[secret_id] = (time.monotonic() + _max_age(), value)
        return value


@cache
def _extension(port: int) -> _Extension:
    return _Extension(port)


def _read(secret_id: str, *, force_fetch: bool) -> Any:
    port = os.environ.get(EXTENSION_PORT_ENV)
    if port and not force_fetch:
        return _extension(int(port)).read(secret_id)
    return _read_with_sdk(secret_id, force_fetch=force_fetch)


def _load[M: BaseModel](model: type[M], secret_id: str, *, force_fetch: bool) -> M:
    known = _known.get(secret_id)
    try:
        raw = _read(secret_id, force_fetch=force_fetch)
    except _NotJson:
        raise ConfigurationError(f"secret {secret_id} is not a JSON object") from None
    except _Unreadable as exc:
        if known is None:
            logger.error("secret unavailable", extra={"secret_id": secret_id, "error": str(exc)})
            raise SecretsUnavailable(secret_id) from None
        logger.warning("secrets manager failed, using the last value read", extra={"secret_id": secret_id})
        return cast("M", known[1])
    # The caches hand back the same dict while it is fresh: parse it once.
    if known is not None and known[0] is raw and isinstance(known[1], model):
        return known[1]
    if not isinstance(raw, dict):
        raise ConfigurationError(f"secret {secret_id} is not a JSON object")
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) or "(root)" for e in exc.errors())
        raise ConfigurationError(f"secret {secret_id} is malformed at: {fields}") from None
    _known[secret_id] = (raw, parsed)
    return parsed


def get_talon_credentials(*, force_fetch: bool = False) -> TalonCredentials:
    """Credentials toward Talon.One; ``force_fetch`` bypasses the cache after a 401/403."""
    return _load(TalonCredentials, get_settings().talon_secret_id, force_fetch=force_fetch)


def get_inbound_secrets() -> InboundSecrets:
    secret_id = get_settings().inbound_secret_id
    if secret_id is None:
        raise ConfigurationError("INBOUND_SECRET_ID is not set")
    return _load(InboundSecrets, secret_id, force_fetch=False)


def clear_caches() -> None:
    """Forget every cached secret and the clients (tests, and SnapStart restores)."""
    _known.clear()
    _provider.cache_clear()
    _extension.cache_clear()
