"""Building the upstream request: pure functions, no I/O (kept apart from sending).

Authentication per Talon.One's contract (spec/README.md, spec/current/README.md):
- ``Authorization: ApiKey-v1 <key>`` when an API key is configured; today's operations accept
  nothing else, so without one they answer a clear configuration error (500);
- ``Content-Signature: signer=<applicationId>; signature=<hex HMAC-MD5>`` over the exact body
  bytes sent (the empty byte string without a body), keyed with the hex-decoded application
  key, when the application id and key are configured, on the 2020 document's operations that
  accepted it (as the first release did);
- both when both are configured.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from talon_gateway.errors import ConfigurationError
from talon_gateway.operation import Operation

if TYPE_CHECKING:
    from talon_gateway.upstream.credentials import TalonCredentials

USER_AGENT = "talon-gateway/0.1"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    base_url: str  # the application's Talon.One deployment
    target: str  # percent-encoded path, with its query string when there is one
    headers: dict[str, str]
    body: bytes | None


def encode_segment(value: str) -> str:
    """Percent-encode a merchant-chosen value as exactly one path segment (``/`` → ``%2F``).

    ``.`` and ``..`` are encoded too: as literal segments, URL normalisation would remove them
    and send the request to another path.
    """
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def content_signature(application_id: str, application_key: bytes, body: bytes) -> str:
    digest = hmac.new(application_key, body, hashlib.md5).hexdigest()
    return f"signer={application_id}; signature={digest}"


def build_request(
    operation: Operation,
    credentials: TalonCredentials,
    *,
    path_values: Mapping[str, str],
    query: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    idempotency_key: str | None = None,
) -> UpstreamRequest:
    target = operation.path
    for name in operation.path_params:
        target = target.replace(f"{{{name}}}", encode_segment(path_values[name]))
    if query:
        target = f"{target}?{urlencode(query)}"

    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if credentials.api_key is not None:
        headers["Authorization"] = f"ApiKey-v1 {credentials.api_key.get_secret_value()}"
    elif operation.requires_api_key:
        raise ConfigurationError(
            f"{operation.name} needs an API key: add apiKey to the Talon.One secret (TALON_SECRET_ID)",
            public_detail=f"The gateway is misconfigured: {operation.name} requires a Talon.One API key",
        )
    if (
        operation.content_signature
        and credentials.application_id is not None
        and credentials.application_key is not None
    ):
        headers["Content-Signature"] = content_signature(
            credentials.application_id, credentials.application_key.get_secret_value(), body or b""
        )
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return UpstreamRequest(operation.method, credentials.target_base_url, target, headers, body)
