"""The gateway's own credentials toward Talon.One (the secret named by TALON_SECRET_ID)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr, field_validator, model_validator

from talon_gateway.config import get_settings
from talon_gateway.secrets import load


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


def get_talon_credentials(*, force_fetch: bool = False) -> TalonCredentials:
    """Credentials toward Talon.One; ``force_fetch`` bypasses the cache after a 401/403."""
    return load(TalonCredentials, get_settings().talon_secret_id, force_fetch=force_fetch)
