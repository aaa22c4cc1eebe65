"""What callers of the gateway may present: the secret named by INBOUND_SECRET_ID.

    {"webhookSecrets": ["whsec_...", {"secret": "whsec_...", "operations": ["trackEventV2"]}],
     "bearerTokens": ["...", {"token": "...", "operations": ["getCustomerInventory"]}]}

A plain string is an unscoped credential (the shape of the first release, which keeps its
meaning): a bearer token may call every operation, a webhook secret every operation that
accepts webhook signatures. An object names the operations (Talon.One operationIds) the
credential may call, and nothing else; reads and erasure are then only for credentials that
name them. ``"applications": ["eu"]`` also limits it to those Talon.One applications
(upstream/credentials.py), for a gateway serving several.

    "shopifyWebhookSecrets": ["<client secret>", {"secret": "...", "shops": ["x.myshopify.com"]}]

are the Shopify apps' client secrets, for POST /webhooks/shopify only (sources/shopify); one
bound to ``shops`` verifies only their webhooks. Shopify signs the body, not the shop header: a
merchant holding a webhook signed with a shared secret could send it as another shop's, so give
each merchant's app its own secret, bound to its shops, when shops do not trust each other.

Every value is checked when the secret is read, so a configuration that cannot work is
refused with the field named (500 "misconfigured" to the caller, the field in the log) rather
than locking callers out silently: webhook secrets must decode to at least 24 bytes, tokens
and Shopify client secrets must be at least 32 characters, no value may start or end with a
space or line break, and every operation named must exist and accept the credential's scheme.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from talon_gateway.config import get_settings
from talon_gateway.errors import ConfigurationError
from talon_gateway.operations import BY_NAME
from talon_gateway.secrets import load
from talon_gateway.upstream.credentials import ApplicationName, check_shops

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
MIN_WEBHOOK_SECRET_BYTES = 24
MIN_TOKEN_LENGTH = 32


def _no_surrounding_whitespace(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if text != text.strip():
        raise ValueError("starts or ends with a space or a line break")
    return value


def _webhook_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64), or ValueError."""
    try:
        return base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 (after the whsec_ prefix)") from None


def _strong_webhook_secret(value: SecretStr) -> SecretStr:
    if len(_webhook_key(value.get_secret_value())) < MIN_WEBHOOK_SECRET_BYTES:
        raise ValueError(f"decodes to fewer than {MIN_WEBHOOK_SECRET_BYTES} bytes")
    return value


def _strong_token(value: SecretStr) -> SecretStr:
    text = value.get_secret_value()
    if len(text) < MIN_TOKEN_LENGTH:
        raise ValueError(f"is shorter than {MIN_TOKEN_LENGTH} characters")
    if not (text.isascii() and text.isprintable()) or " " in text:
        raise ValueError("must be printable ASCII without spaces")
    return value


def _known_operations(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(names) - BY_NAME.keys())
    if unknown:
        # Operation names are not secret: naming them helps the operator fix the typo.
        raise ValueError(f"names unknown operations: {', '.join(unknown)}")
    if not names:
        raise ValueError("is empty (omit it for an unscoped credential)")
    return names


def _from_plain_string(key: str) -> Any:
    def convert(value: object) -> object:
        return {key: value} if isinstance(value, str) else value

    return BeforeValidator(convert)


Operations = Annotated[tuple[str, ...], AfterValidator(_known_operations)]


class Credential(BaseModel):
    """One configured credential, with the operations it may call (None: unscoped)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    operations: Operations | None = None
    # The Talon.One applications it may reach (None: every one); names as in TALON_SECRET_ID.
    applications: Annotated[tuple[ApplicationName, ...], Field(min_length=1)] | None = None

    @property
    def value(self) -> SecretStr:
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        """A short, stable, non-secret name of the credential: single-use webhook ids are
        scoped by their signing secret, so two senders' ids can never meet."""
        return hashlib.sha256(self.value.get_secret_value().encode()).hexdigest()[:16]

    def allows(self, operation: str, *, default: bool) -> bool:
        return default if self.operations is None else operation in self.operations


class WebhookSecret(Credential):
    secret: Annotated[
        SecretStr, AfterValidator(_no_surrounding_whitespace), AfterValidator(_strong_webhook_secret)
    ]

    @property
    def value(self) -> SecretStr:
        return self.secret

    @property
    def key(self) -> bytes:
        return _webhook_key(self.secret.get_secret_value())

    @model_validator(mode="after")
    def _operations_accept_signatures(self) -> WebhookSecret:
        refusing = sorted(n for n in self.operations or () if not BY_NAME[n].accepts_webhooks)
        if refusing:
            raise ValueError(f"names operations that refuse webhook signatures: {', '.join(refusing)}")
        return self


class BearerToken(Credential):
    token: Annotated[SecretStr, AfterValidator(_no_surrounding_whitespace), AfterValidator(_strong_token)]

    @property
    def value(self) -> SecretStr:
        return self.token


class ShopifySecret(BaseModel):
    """A Shopify app's client secret; ``shops`` (lower-case domains) limits it to the shops that
    app is installed on (None: any shop)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    secret: Annotated[SecretStr, AfterValidator(_no_surrounding_whitespace), AfterValidator(_strong_token)]
    shops: Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(check_shops)] | None = None

    def serves(self, shop_domain: str) -> bool:
        return self.shops is None or shop_domain in self.shops


class InboundSecrets(BaseModel):
    """The secret named by INBOUND_SECRET_ID: what callers of the gateway may present."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    webhook_secrets: tuple[Annotated[WebhookSecret, _from_plain_string("secret")], ...] = Field(
        default=(), alias="webhookSecrets"
    )
    bearer_tokens: tuple[Annotated[BearerToken, _from_plain_string("token")], ...] = Field(
        default=(), alias="bearerTokens"
    )
    # The Shopify apps' client secrets (rotation: the new one and the previous one), each
    # optionally bound to the shops its app serves.
    shopify_webhook_secrets: tuple[Annotated[ShopifySecret, _from_plain_string("secret")], ...] = Field(
        default=(), alias="shopifyWebhookSecrets"
    )

    @model_validator(mode="after")
    def _something_configured(self) -> InboundSecrets:
        if not (self.webhook_secrets or self.bearer_tokens or self.shopify_webhook_secrets):
            raise ValueError(
                "has no webhookSecrets, bearerTokens or shopifyWebhookSecrets: every caller would be refused"
            )
        return self


def get_inbound_secrets() -> InboundSecrets:
    secret_id = get_settings().inbound_secret_id
    if secret_id is None:
        raise ConfigurationError("INBOUND_SECRET_ID is not set")
    return load(InboundSecrets, secret_id, force_fetch=False)
