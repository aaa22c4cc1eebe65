"""``python -m sandbox``: run the sandbox in the foreground until Ctrl-C (or SIGTERM).

Credentials come from the TALON_SANDBOX_* environment variables, overridden by the flags.
The first line on stdout is the URL, so scripts can read it (handy with ``--port 0``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.credentials import (
    ENV_API_KEYS,
    ENV_APPLICATION_ID,
    ENV_APPLICATION_KEY,
    SandboxCredentials,
)
from sandbox.seed import DEFAULT_SEED, SeedError
from sandbox.server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Stateful local Talon.One Integration API sandbox (loopback HTTP).",
        epilog=f"Environment: {ENV_API_KEYS} (comma-separated), {ENV_APPLICATION_ID}, {ENV_APPLICATION_KEY}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8040, help="port, 0 for a free one (default: 8040)")
    parser.add_argument("--seed", default=str(DEFAULT_SEED), help="seed JSON file (default: bundled)")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="accepted integration API key (repeatable)"
    )
    parser.add_argument("--application-id", help="signer of the legacy Content-Signature")
    parser.add_argument("--application-key", help="hex application key of the legacy signature")
    parser.add_argument(
        "--processing-delay-ms",
        type=int,
        default=0,
        help="time every request takes, holding its session or profile (parallel writes get 409)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(message)s")
    try:
        base = SandboxCredentials.from_env()
        credentials = SandboxCredentials(
            api_keys=args.api_keys or base.api_keys,
            application_id=args.application_id or base.application_id,
            application_key_hex=args.application_key or base.application_key_hex,
        )
        sandbox = Sandbox(
            credentials=credentials,
            seed=args.seed,
            host=args.host,
            port=args.port,
            processing_delay_ms=args.processing_delay_ms,
        )
        sandbox.start()
    except (ValueError, SeedError, OSError) as exc:
        sys.stderr.write(f"sandbox: {exc}\n")
        return 2
    stop = threading.Event()

    def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.stdout.write(f"{sandbox.url}\n")
    sys.stdout.write(f"Talon.One sandbox on {sandbox.url} (application {credentials.application_id}); ")
    sys.stdout.write("Ctrl-C stops it.\n")
    sys.stdout.flush()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    sys.stdout.write("sandbox stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
