"""The gateway's own credentials toward Talon.One (the secret named by TALON_SECRET_ID).

One application (the first release's shape, unchanged):

    {"apiKey": "ak-...", "applicationId": "42", "applicationKey": "<hex>"}

Several applications (several shops, regions or brands), each with its own credentials and,
optionally, its own deployment's base URL (else TALON_BASE_URL):

    {"applications": {
        "eu": {"apiKey": "...", "baseUrl": "https://eu.talon.one",
               "shopifyShops": ["eu-store.myshopify.com"]},
        "us": {"apiKey": "...", "shopifyShops": ["us-store.myshopify.com"]}},
     "defaultApplication": "eu"}

The default application serves requests that select none (the SDKs' requests, unchanged): the
only one when one is configured, else ``defaultApplication`` (when absent, a request must
select one). API callers select with the ``X-Talon-Application`` header; a Shopify webhook by
its shop's domain: the application whose ``shopifyShops`` lists it, else — only when no
application lists any shop — the default one.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    field_validator,
    model_validator,
)

from talon_gateway.config import check_base_url, get_settings
from talon_gateway.secrets import load

# The name of the first release's single application, and of the only one in that shape.
DEFAULT_NAME = "default"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_SHOP = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError("application names are 1-63 lower-case letters, digits, '-' or '_'")
    return name


def check_shops(shops: tuple[str, ...]) -> tuple[str, ...]:
    for shop in shops:
        if shop != shop.lower() or len(shop) > 255 or not _SHOP.fullmatch(shop):
            raise ValueError("shopifyShops must hold lower-case shop domains such as x.myshopify.com")
    return shops


ApplicationName = Annotated[str, AfterValidator(_check_name)]


class TalonCredentials(BaseModel):
    """One Talon.One application: the API key, or the application id and key, or all."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    api_key: SecretStr | None = Field(default=None, alias="apiKey", min_length=1)
    application_id: str | None = Field(default=None, alias="applicationId", min_length=1)
    application_key: SecretBytes | None = Field(default=None, alias="applicationKey")
    # None: TALON_BASE_URL. An application of another Talon.One deployment names its own.
    base_url: Annotated[str, AfterValidator(check_base_url)] | None = Field(default=None, alias="baseUrl")
    shopify_shops: Annotated[tuple[str, ...], AfterValidator(check_shops)] = Field(
        default=(), alias="shopifyShops"
    )

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

    @property
    def target_base_url(self) -> str:
        return self.base_url or get_settings().talon_base_url


class TalonSecret(BaseModel):
    """The secret named by TALON_SECRET_ID, in either shape, as named applications."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    applications: dict[ApplicationName, TalonCredentials] = Field(min_length=1)
    default_application: ApplicationName | None = Field(default=None, alias="defaultApplication")

    @model_validator(mode="before")
    @classmethod
    def _single_application(cls, value: Any) -> Any:
        if isinstance(value, dict) and "applications" not in value and "defaultApplication" not in value:
            return {"applications": {DEFAULT_NAME: value}}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TalonSecret:
        if self.default_application is not None and self.default_application not in self.applications:
            raise ValueError("defaultApplication names no configured application")
        shops = [shop for app in self.applications.values() for shop in app.shopify_shops]
        if len(shops) != len(set(shops)):
            raise ValueError("a shop is listed under two applications")
        return self

    @property
    def default(self) -> str | None:
        """The application of requests that select none, if there is one."""
        if self.default_application is not None:
            return self.default_application
        return next(iter(self.applications)) if len(self.applications) == 1 else None

    def for_shop(self, shop_domain: str) -> str | None:
        """The application serving a Shopify shop, or None (the shop is not configured)."""
        for name, app in self.applications.items():
            if shop_domain in app.shopify_shops:
                return name
        if any(app.shopify_shops for app in self.applications.values()):
            return None  # once shops are listed, only listed shops are served
        return self.default


def get_talon_secret(*, force_fetch: bool = False) -> TalonSecret:
    """Every configured application; ``force_fetch`` bypasses the cache after a 401/403."""
    return load(TalonSecret, get_settings().talon_secret_id, force_fetch=force_fetch)


def get_talon_credentials(application: str | None = None, *, force_fetch: bool = False) -> TalonCredentials:
    """The credentials of ``application`` (None: the default one).

    Callers resolve names first (``get_talon_secret``): an unknown name here is a configuration
    change between two reads (a rotated secret without that application).
    """
    from talon_gateway.errors import ConfigurationError

    secret = get_talon_secret(force_fetch=force_fetch)
    name = application or secret.default
    if name is None or name not in secret.applications:
        raise ConfigurationError(
            "the Talon.One secret has no default application"
            if name is None
            else "the Talon.One secret no longer has the selected application",
            public_detail="The gateway is misconfigured: no Talon.One application for this request",
        )
    return secret.applications[name]
