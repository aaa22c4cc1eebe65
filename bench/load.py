"""Load test of the local gateway on loopback (`make load`): N clients for T seconds.

    python -m bench.load [--clients 8] [--seconds 15] [--workers 4]

Starts `python -m local_gateway` (moto, the Talon.One sandbox, the execution environments)
in its own process group, drives it with concurrent httpx clients, each client its own
storefront session (a cart update, an inventory read, a tracked event with an idempotency
key, in turn), then stops it. Reports throughput, p50/p99 latency and errors (non-2xx or
transport failures), which must be 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from local_gateway.process import GatewayProcess


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: str) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1


def client_loop(number: int, url: str, token: str, until: float, measure_from: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    session = f"load-cart-{number}"
    profile = f"load-customer-{number}"
    cart = {
        "customerSession": {
            "profileId": profile,
            "couponCodes": ["SUMMER20"],
            "cartItems": [
                {"name": f"Item {i}", "sku": f"SKU-{i}", "quantity": 1, "price": 10.0 + i} for i in range(10)
            ],
        },
        "responseContent": ["customerSession"],
    }
    sent = 0
    with httpx.Client(base_url=url, headers=headers, timeout=35) as client:
        while time.monotonic() < until:
            kind = sent % 3
            started = time.monotonic()
            try:
                if kind == 0:
                    response = client.put(f"/v2/customer_sessions/{session}", json=cart)
                elif kind == 1:
                    response = client.get(f"/v1/customer_profiles/{profile}/inventory?profile=true")
                else:
                    event = {
                        "profileId": profile,
                        "type": "viewed_promo",
                        "attributes": {},
                        "sessionId": session,
                    }
                    response = client.post(
                        "/v1/events", json=event, headers={"Idempotency-Key": f"{session}-{sent}"}
                    )
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if started >= measure_from:
                tally.add(time.monotonic() - started, status)
            sent += 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warm-up", type=float, default=3.0, help="seconds not measured, first")
    parser.add_argument("--workers", type=int, default=4, help="the gateway's execution environments")
    args = parser.parse_args()

    running = GatewayProcess.start(workers=args.workers)
    url, token = running.url, running.values["Bearer token"]
    tally = Tally()
    try:
        measure_from = time.monotonic() + args.warm_up
        until = measure_from + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(n, url, token, until, measure_from, tally))
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        running.stop()

    latencies = sorted(tally.latencies)
    errors = sum(count for status, count in tally.statuses.items() if not status.startswith("2"))
    command = "make load" if os.environ.get("MAKELEVEL") else "python -m bench.load " + " ".join(sys.argv[1:])
    print(
        f"Load test: `{command}`, {args.clients} clients, {args.seconds:.0f} s measured after {args.warm_up:.0f} s "
        f"of warm-up, {args.workers} execution environments, {os.cpu_count()} cores, loopback only"
    )
    print("| requests | throughput req/s | p50 ms | p99 ms | errors | statuses |")
    print("| --- | --- | --- | --- | --- | --- |")
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    print(
        f"| {len(latencies)} | {len(latencies) / args.seconds:.1f} | "
        f"{statistics.median(latencies) * 1000 if latencies else float('nan'):.1f} | {p99:.1f} | {errors} | "
        f"{dict(sorted(tally.statuses.items()))} |"
    )
    return 1 if errors or not latencies else 0


if __name__ == "__main__":
    raise SystemExit(main())
