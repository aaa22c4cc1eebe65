"""Who may call the gateway, and what: Standard Webhooks signatures or bearer tokens, with scopes.

Checked on every route before the body is parsed and before Talon.One is called. Every
credential the caller presents must be valid and at least one must be presented; the request
may then call only what every presented credential allows (``authorize``).

Signatures are parsed strictly before the library verifies them, so that no laxer reading of
a header can pass: the timestamp is decimal seconds (not ``1.796e9``), every signature entry is
``v1,<base64 of 32 bytes>`` (or a well-formed ``v1a`` one, which is ignored), and the id is a
token without dots, so ``id.timestamp.body`` (what the signature covers) has one reading.
A signature covers neither the method nor the path: the guard makes each webhook id
single-use across the gateway (delivery/claims.py), which binds a signed request to one route.

Failures raise ``Unauthenticated``/``Forbidden`` with a fixed reason word: the presented value
never reaches a log line or a response.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from standardwebhooks import Webhook

from talon_gateway.errors import Forbidden, Unauthenticated
from talon_gateway.inbound.credentials import Credential, InboundSecrets, WebhookSecret
from talon_gateway.operation import Operation

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MAX_WEBHOOK_ID_LENGTH = 255
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,11}")
_SIGNATURE_ENTRY = re.compile(r"v1,[A-Za-z0-9+/]{43}=|v1a,[A-Za-z0-9+/]{86}==")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] ([!-~]+)")


@dataclass(frozen=True, slots=True)
class SignedWebhook:
    """A verified Standard Webhooks signature: its id and timestamp, and the secret that signed."""

    id: str
    timestamp: int
    credential: str  # fingerprint of the verifying secret


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: every credential it presented, and its signature if signed."""

    credentials: tuple[Credential, ...]
    webhook: SignedWebhook | None

    @property
    def scheme(self) -> Literal["webhook", "bearer"]:
        return "webhook" if self.webhook is not None else "bearer"

    def allows_application(self, application: str) -> bool:
        return all(c.applications is None or application in c.applications for c in self.credentials)

    def allows(self, operation: Operation) -> bool:
        return all(
            c.allows(operation.name, default=operation.accepts_webhooks or not isinstance(c, WebhookSecret))
            for c in self.credentials
        )


@lru_cache(maxsize=4)
def _verifiers(secrets: InboundSecrets) -> tuple[tuple[WebhookSecret, Webhook], ...]:
    """One verifier per configured webhook secret (rebuilt when the secret's content changes)."""
    return tuple((secret, Webhook(secret.key)) for secret in secrets.webhook_secrets)


def _well_formed(headers: Mapping[str, str]) -> bool:
    msg_id = headers.get("webhook-id", "")
    return (
        0 < len(msg_id) <= MAX_WEBHOOK_ID_LENGTH
        and msg_id.isascii()
        and msg_id.isprintable()
        and " " not in msg_id
        and "." not in msg_id
        and _TIMESTAMP.fullmatch(headers.get("webhook-timestamp", "")) is not None
        and all(_SIGNATURE_ENTRY.fullmatch(e) for e in headers.get("webhook-signature", "-").split(" "))
    )


def _verify_signature(secrets: InboundSecrets, headers: Mapping[str, str], body: bytes) -> SignedWebhook:
    if not _well_formed(headers):
        raise Unauthenticated("malformed_signature")
    signed = {name: headers[name] for name in WEBHOOK_HEADERS}
    for secret, verifier in _verifiers(secrets):
        try:
            verifier.verify(body, signed, json_parse=False)
        except Exception:  # noqa: BLE001, S112 - the library raises several types (bad UTF-8 included)
            continue
        return SignedWebhook(signed["webhook-id"], int(signed["webhook-timestamp"]), secret.fingerprint)
    raise Unauthenticated("bad_signature")


def _bearer(secrets: InboundSecrets, authorization: str) -> Credential:
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise Unauthenticated("bad_token")
    presented = match.group(1).encode()
    # Compare with every configured token, without stopping at a match, in constant time each.
    matches = [
        hmac.compare_digest(presented, t.token.get_secret_value().encode()) for t in secrets.bearer_tokens
    ]
    if not any(matches):
        raise Unauthenticated("bad_token")
    return secrets.bearer_tokens[matches.index(True)]


def authenticate(
    secrets: InboundSecrets,
    headers: Mapping[str, str],
    body: bytes,
    repeated: Collection[str] = (),
    verified: Callable[[SignedWebhook], None] | None = None,
) -> Principal:
    """The authenticated caller, or ``Unauthenticated``.

    ``headers`` must have lower-case names; ``body`` is the raw body exactly as received;
    ``repeated`` names the headers the request carried more than once. A repeated credential
    header is refused: only one of its values could be checked. ``verified`` is told of a
    valid signature at once, before a bearer token beside it is checked: a request refused
    for that token has used its webhook id all the same.
    """
    if any(name in repeated for name in (*WEBHOOK_HEADERS, "authorization")):
        raise Unauthenticated("repeated_header")
    presents_signature = any(name in headers for name in WEBHOOK_HEADERS)
    authorization = headers.get("authorization")
    if not presents_signature and authorization is None:
        raise Unauthenticated("missing")
    webhook = _verify_signature(secrets, headers, body) if presents_signature else None
    if webhook is not None and verified is not None:
        verified(webhook)
    credentials: list[Credential] = []
    if webhook is not None:
        credentials.append(next(s for s, _ in _verifiers(secrets) if s.fingerprint == webhook.credential))
    if authorization is not None:
        credentials.append(_bearer(secrets, authorization))
    return Principal(tuple(credentials), webhook)


def authorize(principal: Principal, operation: Operation) -> None:
    """Refuse what the caller's credentials do not allow: signatures where the operation takes
    none (401: the signature proves nothing here), operations outside their scope (403)."""
    if principal.webhook is not None and not operation.accepts_webhooks:
        raise Unauthenticated("signature_not_accepted")
    if operation.scoped and not principal.allows(operation):
        raise Forbidden(operation.name)
