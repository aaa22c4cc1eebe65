"""Deliveries per second through the local runner: accept, queue, worker, sandbox, all on loopback.

    python -m bench.deliveries [--deliveries 200] [--sessions 20] [--workers 2]

Starts `local_gateway`'s LocalStack (moto, the Talon.One sandbox, the execution environments,
the delivery worker polling its FIFO queue as Lambda's event source does), accepts
``--deliveries`` cart updates with ``Prefer: respond-async`` spread over ``--sessions`` sessions
(one message group each: a session's writes go one at a time), then reads every delivery until
none is queued. Reports the accept rate and the delivery rate, from the first accept to the
last delivery. Everything shares this machine's cores: moto and the sandbox included, so the
figure is the local stack's, an order below what SQS and Lambda's concurrency give.
"""

from __future__ import annotations

import argparse
import time

import httpx

from local_gateway.stack import LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds before giving up")
    args = parser.parse_args()

    with (
        LocalStack(port=0, sandbox_port=0, workers=args.workers) as stack,
        httpx.Client(
            base_url=stack.url, timeout=30, headers={"Authorization": f"Bearer {stack.token}"}
        ) as http,
    ):
        started = time.monotonic()
        locations = []
        for number in range(args.deliveries):
            session = f"bench-deliveries-{number % args.sessions}"
            body = {
                "customerSession": {
                    "profileId": f"shopper-{number % args.sessions}",
                    "cartItems": [
                        {"name": "Socks", "sku": "SKU-SOCKS", "quantity": 1 + number, "price": 4.5}
                    ],
                }
            }
            answer = http.put(
                f"/v2/customer_sessions/{session}", json=body, headers={"Prefer": "respond-async"}
            )
            if answer.status_code != 202:
                raise SystemExit(f"accept refused: {answer.status_code} {answer.text}")
            locations.append(answer.headers["location"])
        accepted = time.monotonic()
        pending, states = list(locations), {}
        while pending and time.monotonic() < started + args.timeout:
            still = []
            for location in pending:
                state = http.get(location).json()["state"]
                states[location] = state
                if state in ("queued", "failed"):
                    still.append(location)
            pending = still
            if pending:
                time.sleep(0.2)
        finished = time.monotonic()
    delivered = sum(state == "delivered" for state in states.values())
    print(
        f"{args.deliveries} asynchronous writes over {args.sessions} sessions, {args.workers} execution "
        f"environments: accepted at {args.deliveries / (accepted - started):.1f}/s, {delivered} delivered "
        f"at {delivered / (finished - started):.1f}/s (first accept to last delivery, {finished - started:.1f} s)"
        + (f"; {len(pending)} still pending" if pending else "")
    )
    return 0 if not pending else 1


if __name__ == "__main__":
    raise SystemExit(main())
