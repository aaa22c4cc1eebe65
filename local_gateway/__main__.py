"""`make run`: the gateway on http://127.0.0.1:3000 with a Talon.One sandbox, no AWS account, no Docker.

    python -m local_gateway [--port 3000] [--sandbox-port 8040] [--workers 4]
                            [--talon-url https://mycompany.talon.one]

With --talon-url (or TALON_BASE_URL) the gateway talks to that Talon.One instead of the sandbox,
with the credentials in TALON_API_KEY and/or TALON_APPLICATION_ID + TALON_APPLICATION_KEY.
Swagger UI is at /docs. Every request is one access-log line on stdout. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import threading
from types import FrameType

from local_gateway import registry
from local_gateway.access_log import AccessLog
from local_gateway.client import LOCAL_URL
from local_gateway.stack import LocalStack, RealTalon
from local_gateway.template import functions, load, parameter_defaults, resolve

DEFAULT_PORT = 3000
DEFAULT_SANDBOX_PORT = 8040


def banner(stack: LocalStack) -> str:
    routes = "\n".join(f"  {spec.method:<6} {stack.url}{spec.path}" for spec in functions())
    talon = (
        f"{stack.talon_url} (sandbox; --sandbox-port moves it)" if stack.talon is None else stack.talon_url
    )
    example = (
        f"curl -sS -X PUT {stack.url}/v2/customer_sessions/cart-1 \\\n"
        f"  -H 'Authorization: Bearer {stack.token}' -H 'Content-Type: application/json' \\\n"
        """  -d '{"customerSession": {"profileId": "customer-1", "couponCodes": ["SUMMER20"], """
        """"cartItems": [{"name": "Shoes", "sku": "SKU-1", "quantity": 1, "price": 80}]}, """
        """"responseContent": ["customerSession"]}'"""
    )
    # `make call` finds this gateway's token by itself; only a URL other than its default needs saying.
    where = "" if stack.url == LOCAL_URL else f"GATEWAY_URL={stack.url} "
    return (
        f"Gateway: {stack.url}\n"
        f"Talon.One: {talon}\n"
        f"Bearer token: {stack.token}\n"
        f"Webhook secret: {stack.webhook_secret}\n"
        f"API docs: {stack.url}/docs (Swagger UI: Try it out, Execute)\n"
        f"Routes:\n{routes}\n"
        f"Try:\n{example}\n"
        f"Or: {where}make call ARGS=\"GET '/v1/customer_profiles/advocate-1/inventory?profile=true'\"\n"
        "Access log: one line per request (time, method, route, status, latency, correlation id)\n"
        "Ready. Ctrl-C stops everything."
    )


def port_in_use(port: int) -> bool:
    """Whether binding 127.0.0.1:port fails as the servers' bind would (SO_REUSEADDR like them)."""
    if port == 0:
        return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _free_after(port: int, avoid: set[int]) -> int:
    """The first port after ``port`` free now (a suggestion that works when it is made)."""
    for candidate in range(port + 1, min(port + 100, 65535)):
        if candidate not in avoid and not port_in_use(candidate):
            return candidate
    return 0


def clash(port: int, sandbox_port: int | None) -> str | None:
    """One line naming the ports already taken, by whom, and the ARGS that avoid them; or None."""
    wanted = {"--port": (port, "the gateway's")}
    if sandbox_port is not None:
        wanted["--sandbox-port"] = (sandbox_port, "the sandbox's")
    taken = {flag: (number, whose) for flag, (number, whose) in wanted.items() if port_in_use(number)}
    if not taken:
        return None
    names = " and ".join(f"{number} ({whose})" for number, whose in taken.values())
    holders = {h.pid for number, _ in taken.values() if (h := registry.holder(number)) is not None}
    by = f" by another `make run` (pid {', '.join(map(str, sorted(holders)))})" if holders else ""
    avoid = {number for number, _ in wanted.values()}
    fix = " ".join(f"{flag} {_free_after(number, avoid)}" for flag, (number, _) in taken.items())
    ports, verb, other = ("Ports", "are", "others") if len(taken) > 1 else ("Port", "is", "another")
    return f'{ports} {names} {verb} already in use{by}: stop it, or choose {other}: make run ARGS="{fix}"'


def memory_size() -> str:
    """The functions' MemorySize as template.yaml deploys it by default (Globals, its parameter)."""
    document = load()
    value = document.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    return str(resolve(value, parameter_defaults(document)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="gateway port (0: any free port)")
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=DEFAULT_SANDBOX_PORT,
        help="sandbox port (0: any free port)",
    )
    parser.add_argument("--workers", type=int, default=4, help="execution environments (concurrency)")
    parser.add_argument(
        "--talon-url", default=os.environ.get("TALON_BASE_URL"), help="a real Talon.One instead"
    )
    parser.add_argument("--metrics", action="store_true", help="print the functions' EMF metrics")
    args = parser.parse_args(argv)

    # Checked before anything starts: a clash found after moto and the sandbox are up would
    # cost seconds and a traceback.
    taken = clash(args.port, None if args.talon_url else args.sandbox_port)
    if taken is not None:
        print(taken, file=sys.stderr)
        return 1

    # Lambda's own variable for the configured memory, inherited by the execution environments.
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = memory_size()
    access_log = AccessLog()
    stack = LocalStack(
        port=args.port,
        sandbox_port=args.sandbox_port,
        workers=args.workers,
        talon=RealTalon.from_env(args.talon_url) if args.talon_url else None,
        metrics=args.metrics,
        delivery_log=access_log.write,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        stack.start()
    except OSError as error:
        stack.stop()
        if error.errno not in {errno.EADDRINUSE, errno.EACCES}:
            raise
        # Taken between the check above and the bind (another run starting at the same time).
        reason = "already in use" if error.errno == errno.EADDRINUSE else "not allowed"
        print(
            f"Port {args.port} or {args.sandbox_port}: {reason}: choose others with "
            "--port and --sandbox-port",
            file=sys.stderr,
        )
        return 1
    entry = registry.register(stack.url, stack.token, sandbox=None if stack.talon else stack.talon_url)
    try:
        print(banner(stack), flush=True)
        stopping.wait()
    finally:
        registry.unregister(entry)
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
