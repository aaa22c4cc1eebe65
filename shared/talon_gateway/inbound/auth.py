"""Who may call the gateway: Standard Webhooks signatures, or bearer tokens for backends.

Checked on every route before the body is parsed and before Talon.One is called. Every
credential the caller presents must be valid and at least one must be presented; a request
with a webhook signature is judged by the signature alone when it carries no bearer token.
Failures raise ``Unauthenticated`` with a fixed reason word: the presented value never
reaches a log line or a response.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from functools import lru_cache

from standardwebhooks import Webhook

from talon_gateway.errors import ConfigurationError, Unauthenticated
from talon_gateway.inbound.credentials import InboundSecrets

_WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@lru_cache(maxsize=4)
def _verifiers(secrets: InboundSecrets) -> tuple[Webhook, ...]:
    """One verifier per configured webhook secret (rebuilt when the secret's content changes)."""
    try:
        return tuple(Webhook(secret.get_secret_value()) for secret in secrets.webhook_secrets)
    except Exception:  # noqa: BLE001 - any malformed secret is a configuration error, never a 500 leak
        raise ConfigurationError("INBOUND_SECRET_ID holds a malformed webhook secret") from None


def _signature_valid(secrets: InboundSecrets, headers: Mapping[str, str], body: bytes) -> bool:
    signed = {name: headers[name] for name in _WEBHOOK_HEADERS if name in headers}
    for verifier in _verifiers(secrets):
        try:
            verifier.verify(body, signed, json_parse=False)
        except Exception:  # noqa: BLE001, S112 - the library raises several types on malformed headers
            continue
        return True
    return False


def _bearer_valid(secrets: InboundSecrets, authorization: str) -> bool:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        presented = token.strip().encode()
    except UnicodeEncodeError:  # a lone surrogate, only possible in a crafted event
        return False
    # Compare with every configured token, without stopping at a match, in constant time each.
    matches = [hmac.compare_digest(presented, t.get_secret_value().encode()) for t in secrets.bearer_tokens]
    return any(matches)


def authenticate(
    secrets: InboundSecrets, headers: Mapping[str, str], body: bytes, repeated: Collection[str] = ()
) -> str:
    """Return the scheme that authenticated the request, or raise ``Unauthenticated``.

    ``headers`` must have lower-case names; ``body`` is the raw body exactly as received;
    ``repeated`` names the headers the request carried more than once. A repeated credential
    header is refused: only one of its values could be checked.
    """
    if any(name in repeated for name in (*_WEBHOOK_HEADERS, "authorization")):
        raise Unauthenticated("repeated_header")
    presents_signature = any(name in headers for name in _WEBHOOK_HEADERS)
    authorization = headers.get("authorization")
    if not presents_signature and authorization is None:
        raise Unauthenticated("missing")
    if presents_signature and not _signature_valid(secrets, headers, body):
        raise Unauthenticated("bad_signature")
    if authorization is not None and not _bearer_valid(secrets, authorization):
        raise Unauthenticated("bad_token")
    return "webhook" if presents_signature else "bearer"
