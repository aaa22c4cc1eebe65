"""Secrets from AWS Secrets Manager, through Powertools parameters (cached, max age configurable).

Values are parsed into models whose secret fields are ``SecretStr``/``SecretBytes``, so a repr
or a log line can never show them. When Secrets Manager is unreachable, the last value read
in this execution environment is used; with none, callers get ``SecretsUnavailable`` (503).
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
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

from talon_gateway.config import AWS_CLIENT_CONFIG, get_settings
from talon_gateway.errors import ConfigurationError, SecretsUnavailable
from talon_gateway.observability import logger

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


@cache
def _provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider, built on first use, with timeouts that fit API
    Gateway's 29 s (botocore's defaults are 60 s per connect and per read)."""
    return SecretsProvider(boto_config=AWS_CLIENT_CONFIG)


def _load[M: BaseModel](model: type[M], secret_id: str, *, force_fetch: bool) -> M:
    known = _known.get(secret_id)
    try:
        raw = _provider().get(secret_id, transform="json", force_fetch=force_fetch)
    except TransformParameterError:
        raise ConfigurationError(f"secret {secret_id} is not a JSON object") from None
    except GetParameterError as exc:
        if known is None:
            logger.error("secret unavailable", extra={"secret_id": secret_id, "error": type(exc).__name__})
            raise SecretsUnavailable(secret_id) from None
        logger.warning("secrets manager failed, using the last value read", extra={"secret_id": secret_id})
        return cast("M", known[1])
    # Powertools hands back the same dict while its cache is fresh: parse it once.
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
    """Forget every cached secret and the client (tests, and SnapStart restores)."""
    _known.clear()
    _provider.cache_clear()
