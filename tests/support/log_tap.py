"""Everything logged while the suite runs, for the session-wide check that nothing sensitive is.

The Powertools logger's handler gets a stream that writes to the current sys.stdout (so capsys
still sees it) and keeps a copy; a root handler keeps every other logging record; the local
gateway's processes hand their output over through ``record``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from local_gateway.template import ROOT

_lines: list[str] = []
_lock = threading.Lock()
# Sensitive values of individual test modules (their customers' data, their tokens).
_registered: set[str] = set()


def register(*values: str) -> None:
    """Values a test module uses that must never be logged (checked with all the others)."""
    _registered.update(values)


def record(text: str) -> None:
    with _lock:
        _lines.extend(line for line in text.splitlines() if line.strip())


def keeping(lines: list[str]) -> Callable[[str], None]:
    """An output callback for a child process: each line tapped, and kept in ``lines``."""

    def keep(line: str) -> None:
        record(line)
        lines.append(line.rstrip("\n"))

    return keep


class _Tap:
    """A stream for the Powertools handler: the current sys.stdout, plus a copy."""

    def write(self, text: str) -> int:
        record(text)
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _RecordingHandler(logging.Handler):
    def emit(self, entry: logging.LogRecord) -> None:
        try:
            record(self.format(entry))
        except Exception:
            self.handleError(entry)


def install() -> None:
    from talon_gateway.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(_Tap())
    logging.getLogger().addHandler(_RecordingHandler())


def records(text: str) -> list[dict[str, Any]]:
    """Every JSON object written in ``text``: one per line, or pretty-printed over several
    (Powertools indents its lines when POWERTOOLS_DEV is on)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def lines() -> list[str]:
    with _lock:
        return list(_lines)


def _attribute_values(node: Any, inside: bool = False) -> set[str]:
    """String values found under an "attributes" key, at any depth."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            found |= _attribute_values(value, inside or key == "attributes")
    elif isinstance(node, list):
        for value in node:
            found |= _attribute_values(value, inside)
    elif inside and isinstance(node, str) and len(node) >= 4:
        found.add(node)
    return found


def sensitive_values() -> set[str]:
    """The test deployment's secrets and every customer attribute value of the test data."""
    from sandbox import DEFAULT_API_KEY, DEFAULT_APPLICATION_KEY_HEX
    from tests.support import aws

    values = {
        aws.API_KEY,
        aws.APPLICATION_KEY,
        aws.BEARER_TOKEN,
        aws.WEBHOOK_SECRET,
        aws.WEBHOOK_SECRET.removeprefix("whsec_"),
        DEFAULT_API_KEY,
        DEFAULT_APPLICATION_KEY_HEX,
    }
    for path in ROOT.glob("events/*.json"):
        event = json.loads(path.read_text())
        try:
            body = json.loads(event.get("body") or "null")
        except ValueError:
            continue
        values |= _attribute_values(body)
    values |= _attribute_values(json.loads((ROOT / "sandbox" / "seed.json").read_text()))
    values |= {"Eve Example", "Porto"}  # tests/test_e2e.py's customer
    return values | _registered


def leaks(among: list[str] | None = None) -> list[tuple[str, str]]:
    """(value, line) for every line holding a sensitive value; all lines recorded by default."""
    needles = sensitive_values()
    return [
        (needle, line)
        for line in (lines() if among is None else among)
        for needle in needles
        if needle in line
    ]
