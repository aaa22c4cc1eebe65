"""`make run`: the gateway on http://127.0.0.1:3000 with a Talon.One sandbox, no AWS account, no Docker.

    python -m local_gateway [--port 3000] [--workers 4] [--talon-url https://mycompany.talon.one]

With --talon-url (or TALON_BASE_URL) the gateway talks to that Talon.One instead of the sandbox,
with the credentials in TALON_API_KEY and/or TALON_APPLICATION_ID + TALON_APPLICATION_KEY.
Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from local_gateway.stack import LocalStack, RealTalon
from local_gateway.template import functions


def banner(stack: LocalStack) -> str:
    routes = "\n".join(f"  {spec.method:<6} {stack.url}{spec.path}" for spec in functions())
    talon = f"{stack.talon_url} (sandbox)" if stack.talon is None else stack.talon_url
    example = (
        f"curl -sS -X PUT {stack.url}/v2/customer_sessions/cart-1 \\\n"
        f"  -H 'Authorization: Bearer {stack.token}' -H 'Content-Type: application/json' \\\n"
        """  -d '{"customerSession": {"profileId": "customer-1", "couponCodes": ["SUMMER20"], """
        """"cartItems": [{"name": "Shoes", "sku": "SKU-1", "quantity": 1, "price": 80}]}, """
        """"responseContent": ["customerSession"]}'"""
    )
    return (
        f"Gateway: {stack.url}\n"
        f"Talon.One: {talon}\n"
        f"Bearer token: {stack.token}\n"
        f"Webhook secret: {stack.webhook_secret}\n"
        f"Routes:\n{routes}\n"
        f"Try:\n{example}\n"
        "Or: make call ARGS=\"GET '/v1/customer_profiles/customer-1/inventory?profile=true'\"\n"
        "Ready. Ctrl-C stops everything."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=3000, help="gateway port (0: any free port)")
    parser.add_argument("--sandbox-port", type=int, default=8040, help="sandbox port (0: any free port)")
    parser.add_argument("--workers", type=int, default=4, help="execution environments (concurrency)")
    parser.add_argument(
        "--talon-url", default=os.environ.get("TALON_BASE_URL"), help="a real Talon.One instead"
    )
    parser.add_argument("--metrics", action="store_true", help="print the functions' EMF metrics")
    args = parser.parse_args(argv)

    stack = LocalStack(
        port=args.port,
        sandbox_port=args.sandbox_port,
        workers=args.workers,
        talon=RealTalon.from_env(args.talon_url) if args.talon_url else None,
        metrics=args.metrics,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stack.start()
    try:
        print(banner(stack), flush=True)
        stopping.wait()
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
