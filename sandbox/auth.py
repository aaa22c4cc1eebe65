"""Talon.One's two authentication schemes: ``ApiKey-v1`` and the legacy HMAC-MD5 Content-Signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence

from sandbox.credentials import SandboxCredentials
from sandbox.errors import ApiError, FieldError

API_KEY_SCHEME = "api_key_v1"
SIGNATURE_SCHEME = "integration_auth"


def sign(body: bytes, application_key_hex: str) -> str:
    """Lowercase hex HMAC-MD5 of the exact body bytes, keyed with the hex-decoded application key."""
    return hmac.new(bytes.fromhex(application_key_hex), body, hashlib.md5).hexdigest()


def content_signature(application_id: str, application_key_hex: str, body: bytes) -> str:
    """The value of the ``Content-Signature`` header for ``body`` (b"" when there is none)."""
    return f"signer={application_id}; signature={sign(body, application_key_hex)}"


def api_key_authorization(api_key: str) -> str:
    """The value of the ``Authorization`` header for an integration API key."""
    return f"ApiKey-v1 {api_key}"


def _header_values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in headers if key.lower() == wanted]


def _api_key_valid(value: str, credentials: SandboxCredentials) -> bool:
    scheme, _, key = value.strip().partition(" ")
    # Auth schemes are case-insensitive (RFC 9110); the key itself is not.
    if scheme.lower() != "apikey-v1" or not key.strip():
        return False
    presented = key.strip().encode()
    # Compare against every key without short-circuiting, so timing says nothing about which matched.
    matches = [hmac.compare_digest(presented, k.encode()) for k in credentials.api_keys]
    return any(matches)


def _signature_valid(value: str, body: bytes, credentials: SandboxCredentials) -> bool:
    parts: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            parts[key.strip().lower()] = val.strip()
    signer, signature = parts.get("signer"), parts.get("signature")
    if signer is None or signature is None:
        return False
    expected = sign(body, credentials.application_key_hex)
    signer_ok = hmac.compare_digest(signer.encode(), credentials.application_id.encode())
    signature_ok = hmac.compare_digest(signature.lower().encode(), expected.encode())
    return signer_ok and signature_ok


def unauthorized(details: str, pointer: str = "") -> ApiError:
    return ApiError(401, "Unauthorized", [FieldError("Unauthorized", details, pointer)])


def authenticate(
    headers: Sequence[tuple[str, str]],
    body: bytes,
    credentials: SandboxCredentials,
    schemes: Collection[str],
) -> None:
    """Raise a 401 ApiError unless the request carries a valid credential of an accepted scheme.

    Every header of an accepted scheme that is present must be valid (a wrong key next to a
    right signature is refused); headers of schemes the operation does not accept are ignored,
    so ``PUT /v2/customer_sessions`` needs the API key whatever else is sent.
    """
    valid = 0
    if API_KEY_SCHEME in schemes:
        values = _header_values(headers, "Authorization")
        if any(not _api_key_valid(v, credentials) for v in values):
            raise unauthorized("Invalid Authorization header: expected 'ApiKey-v1 <valid key>'")
        valid += bool(values)
    if SIGNATURE_SCHEME in schemes:
        values = _header_values(headers, "Content-Signature")
        if any(not _signature_valid(v, body, credentials) for v in values):
            raise unauthorized("Invalid Content-Signature: wrong signer or signature for this body")
        valid += bool(values)
    if not valid:
        accepted = " or ".join(
            h
            for s, h in ((API_KEY_SCHEME, "Authorization"), (SIGNATURE_SCHEME, "Content-Signature"))
            if s in schemes
        )
        raise unauthorized(f"Missing credentials: this operation needs {accepted}")
