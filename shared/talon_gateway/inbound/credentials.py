"""What callers of the gateway may present (the secret named by INBOUND_SECRET_ID)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from talon_gateway.config import get_settings
from talon_gateway.errors import ConfigurationError
from talon_gateway.secrets import load


class InboundSecrets(BaseModel):
    """The secret named by INBOUND_SECRET_ID: what callers of the gateway may present."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    webhook_secrets: tuple[SecretStr, ...] = Field(default=(), alias="webhookSecrets")
    bearer_tokens: tuple[SecretStr, ...] = Field(default=(), alias="bearerTokens")


def get_inbound_secrets() -> InboundSecrets:
    secret_id = get_settings().inbound_secret_id
    if secret_id is None:
        raise ConfigurationError("INBOUND_SECRET_ID is not set")
    return load(InboundSecrets, secret_id, force_fetch=False)
