"""Send a correctly authenticated request to the gateway, local or deployed.

    python -m local_gateway.client PUT /v2/customer_sessions/cart-1 --data '{"customerSession": {}}'
    python -m local_gateway.client GET '/v1/customer_profiles/jane%40example.com/inventory?profile=true'
    python -m local_gateway.client POST /v2/events --data @examples/trackEventV2.json \
        --webhook-secret whsec_... --idempotency-key k1

Authentication: a bearer token (--token, or GATEWAY_TOKEN), or a Standard Webhooks signature
(--webhook-secret, or GATEWAY_WEBHOOK_SECRET); without either, a local gateway that `make run`
started at that URL (any port) lends its own token. The gateway's URL is --url or GATEWAY_URL
(default http://127.0.0.1:3000; for a deployed stack: the ApiUrl output, stage included). Path
parameters go in encoded (``SUMMER 20/50%`` is ``SUMMER%2020%2F50%25``). Ready bodies:
``--data @examples/<operationId>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from standardwebhooks import Webhook

from local_gateway import registry

LOCAL_URL = "http://127.0.0.1:3000"
LOCAL_TOKEN = "local-dev-token-not-a-secret-0001"  # noqa: S105 - the local runner's own token, not a real credential


def build_headers(
    body: bytes, *, token: str | None, webhook_secret: str | None, idempotency_key: str | None
) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    if webhook_secret:
        msg_id = idempotency_key or f"msg_{uuid.uuid4().hex}"
        now = datetime.now(tz=UTC)
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(webhook_secret).sign(msg_id, now, body.decode()),
        }
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def local_token(url: str) -> str | None:
    """The token of the local gateway `make run` started at ``url``, if one runs there."""
    entry = registry.find(url)
    if entry is not None:
        return entry.token
    # A gateway started before gateways registered themselves, on the default URL.
    return LOCAL_TOKEN if url.rstrip("/") == LOCAL_URL else None


def fail(message: str) -> int:
    """One line on stderr, the fix included: no traceback for what the caller can fix."""
    print(message, file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("method", type=str.upper, choices=["GET", "POST", "PUT", "DELETE"])
    parser.add_argument("path", help="path after the base URL, encoded, with its query string")
    parser.add_argument("--data", help="JSON body, or @file to read it from a file")
    parser.add_argument("--url", default=os.environ.get("GATEWAY_URL", LOCAL_URL))
    parser.add_argument("--token", default=os.environ.get("GATEWAY_TOKEN"))
    parser.add_argument("--webhook-secret", default=os.environ.get("GATEWAY_WEBHOOK_SECRET"))
    parser.add_argument("--idempotency-key")
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="an extra request header (repeatable), e.g. -H 'Prefer: respond-async'",
    )
    parser.add_argument("--timeout", type=float, default=35.0)
    args = parser.parse_args(argv)

    body = b""
    if args.data:
        try:
            body = Path(args.data[1:]).read_bytes() if args.data.startswith("@") else args.data.encode()
        except OSError as error:
            return fail(f"Cannot read the body file {args.data[1:]}: {error.strerror} (--data @<file>)")
    token = args.token or (None if args.webhook_secret else local_token(args.url))
    headers = build_headers(
        body, token=token, webhook_secret=args.webhook_secret, idempotency_key=args.idempotency_key
    )
    for extra in args.header:
        name, colon, value = extra.partition(":")
        if not colon or not name.strip():
            return fail(f"Not a header: {extra!r} (--header 'Name: value')")
        headers[name.strip()] = value.strip()
    url = args.url.rstrip("/") + "/" + args.path.lstrip("/")
    try:
        response = httpx.request(
            args.method, url, headers=headers, content=body or None, timeout=args.timeout
        )
    except httpx.ConnectError:
        elsewhere = [entry.url for entry in registry.running()]
        hint = f" (one runs at {elsewhere[0]}: GATEWAY_URL={elsewhere[0]} make call ...)" if elsewhere else ""
        return fail(
            f"Cannot connect to {args.url}: nothing answers there. Start the local gateway with "
            f"`make run` (in another terminal), or set GATEWAY_URL to a running gateway{hint}."
        )
    except httpx.TimeoutException:
        return fail(f"No answer from {args.url} within {args.timeout:g} s (--timeout).")
    except httpx.HTTPError as error:  # a malformed URL, a protocol error: one line all the same
        return fail(f"Request to {url} failed: {error} (check --url / GATEWAY_URL).")

    print(f"HTTP {response.status_code}")
    for name in (
        "content-type",
        "x-correlation-id",
        "idempotent-replayed",
        "retry-after",
        "location",
        "preference-applied",
        "www-authenticate",
    ):
        if name in response.headers:
            print(f"{name}: {response.headers[name]}")
    try:
        print(json.dumps(response.json(), indent=2))
    except ValueError:
        print(response.text)
    if response.status_code == 401 and not (token or args.webhook_secret):
        print(
            f"No credential was sent: no local gateway of `make run` runs at {args.url}; "
            "give GATEWAY_TOKEN (or --token) or GATEWAY_WEBHOOK_SECRET.",
            file=sys.stderr,
        )
    return 0 if response.is_success else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # Output piped into `head`: what was read is all that was wanted. Python's recipe: no
        # traceback, and stdout pointed at /dev/null so that its final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
