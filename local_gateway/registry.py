"""Where each running `make run` says where it is, so that `make call` finds its token.

A running local gateway writes ``.local/gateways/<port>.json`` ({"url", "token", "pid",
"sandbox"}) and removes it when it stops. The client sends the local token only to a URL some running local
gateway registered: never to a deployed stack, whatever port it is on. Standard library only
(``make deploy`` runs this from the SAM CLI's environment too).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Overridable for tests, which must not touch the entries of a gateway a developer is running.
DIRECTORY = Path(os.environ.get("LOCAL_GATEWAY_REGISTRY", ROOT / ".local" / "gateways"))
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Entry:
    url: str
    token: str
    pid: int
    sandbox: str | None = None  # the sandbox's URL, when it runs one

    @property
    def ports(self) -> set[int]:
        return {urlsplit(url).port or 80 for url in (self.url, self.sandbox) if url}

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process: alive
            return True
        return True


def _local_port(url: str) -> int | None:
    """The port of a local gateway's URL (http, loopback, no path), else None."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or parts.path.strip("/"):
        return None
    return port or 80


def register(url: str, token: str, *, sandbox: str | None = None, directory: Path | None = None) -> Path:
    directory = directory or DIRECTORY
    port = _local_port(url)
    if port is None:
        raise ValueError(f"not a local gateway URL: {url}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{port}.json"
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    # Owner-only, written whole then renamed: a reader never sees half a file.
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump({"url": url, "token": token, "pid": os.getpid(), "sandbox": sandbox}, stream)
    staging.replace(path)
    return path


def unregister(path: Path) -> None:
    """Remove our own entry (not one a newer gateway on the same port wrote since)."""
    entry = _read(path)
    if entry is not None and entry.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> Entry | None:
    try:
        data = json.loads(path.read_text())
        sandbox = data.get("sandbox")
        return Entry(str(data["url"]), str(data["token"]), int(data["pid"]), sandbox and str(sandbox))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find(url: str, directory: Path | None = None) -> Entry | None:
    """The running local gateway serving ``url``, if any (left-over entries of a killed one are not)."""
    port = _local_port(url)
    if port is None:
        return None
    entry = _read((directory or DIRECTORY) / f"{port}.json")
    if entry is None or not entry.alive:
        return None
    return entry


def running(directory: Path | None = None) -> list[Entry]:
    """Every local gateway running now, by port."""
    entries = (_read(path) for path in sorted((directory or DIRECTORY).glob("*.json")))
    return [entry for entry in entries if entry is not None and entry.alive]


def holder(port: int, directory: Path | None = None) -> Entry | None:
    """The running local gateway listening on ``port`` (its own or its sandbox's), if any."""
    return next((entry for entry in running(directory) if port in entry.ports), None)
