"""Schemathesis against docs/openapi.json, through the local gateway, in front of the Talon.One sandbox.

Every operation of the gateway's own OpenAPI document is fuzzed over real HTTP on loopback
(moto, the sandbox and the gateway's execution environments, as `make run` starts them, all
inside this process). For every generated request, valid or not, two properties must hold:

- no 5xx, ever (schemathesis' ``not_a_server_error`` check);
- the status is one the document lists for that operation (``status_code_conformance``).

The sandbox is stateful (reset to its seed before each operation, then shared by that
operation's examples), so a generated request may legitimately get Talon.One's own 4xx (an
unknown coupon or profile: 404; a session cancelled by an earlier example, or belonging to
another profile: 400), passed through unchanged: that is fine, since the document lists those
statuses for every operation. "valid/invalid" in the table counts schemathesis' positive and
negative generation modes (requests meant to conform to the document, or not to).

The run is bounded and reproducible: a fixed seed, derandomized generation, no example
database, at most ``MAX_EXAMPLES`` fuzzed examples per operation (plus the coverage phase's
deterministic boundary cases), no stateful phase. pytest's terminal summary ends with a table
of the examples sent and the statuses seen per operation (with or without ``-s``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import settings
from schemathesis import Case

from local_gateway.stack import LocalStack
from local_gateway.template import ROOT
from tests.conftest import reset_sandbox

OPENAPI = ROOT / "docs" / "openapi.json"
SEED = 20260101
MAX_EXAMPLES = 25
REQUEST_TIMEOUT = 35.0  # above the local gateway's own 29-second limit (its 504)

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",  # schema-valid and schema-invalid requests
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The credential is the stack's real bearer token, sent on every request.
            "with-security-parameters": False,
        },
        "phases": {
            "stateful": {"enabled": False},
            # A method no route has is answered by API Gateway itself. The local runner's
            # http.server answers 501 to TRACE, OPTIONS and HEAD (reported separately), so the
            # coverage phase probes only the methods the runner routes (unknown ones get 404).
            "coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "PATCH"]},
        },
    }
)
schema = schemathesis.openapi.from_path(OPENAPI, config=CONFIG)


def documented_operations() -> dict[str, str]:
    """operationId → "METHOD /path" of every operation of the OpenAPI document."""
    document = json.loads(OPENAPI.read_text())
    return {
        operation["operationId"]: f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


@dataclass
class Tally:
    """Examples sent and statuses seen, per operation (label "METHOD /path")."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    modes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def record(self, case: Case[Any], status: int) -> None:
        label = case.operation.label
        self.statuses[label][status] += 1
        mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
        self.modes[label][mode] += 1

    def table(self) -> str:
        labels = documented_operations()
        header = ("operation", "route", "examples", "valid/invalid", "statuses seen (status x count)")
        rows: list[tuple[str, ...]] = []
        for name, label in sorted(labels.items()):
            seen = self.statuses.get(label, Counter())
            modes = self.modes.get(label, Counter())
            rows.append(
                (
                    name,
                    label,
                    str(seen.total()),
                    f"{modes['positive']}/{modes['negative']}",
                    " ".join(f"{status}x{count}" for status, count in sorted(seen.items())),
                )
            )
        everything: Counter[int] = sum(self.statuses.values(), Counter())
        positive = sum(m["positive"] for m in self.modes.values())
        negative = sum(m["negative"] for m in self.modes.values())
        footer = (
            "total",
            f"{len(labels)} operations",
            str(everything.total()),
            f"{positive}/{negative}",
            " ".join(f"{status}x{count}" for status, count in sorted(everything.items())),
        )
        widths = [max(len(row[i]) for row in (header, *rows, footer)) for i in range(len(header))]
        rule = "-+-".join("-" * width for width in widths)

        def line(row: tuple[str, ...]) -> str:
            return " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()

        return "\n".join([line(header), rule, *map(line, rows), rule, line(footer)])


TALLY = Tally()


class SummaryPlugin:
    """Prints the tally in pytest's terminal summary (after every test and every log line)."""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not TALLY.statuses:
            return
        terminalreporter.section("schemathesis through the local gateway")
        terminalreporter.write_line(
            f"seed {SEED}, derandomized, at most {MAX_EXAMPLES} fuzzed examples per operation "
            "(plus the coverage phase's boundary cases)"
        )
        for line in TALLY.table().splitlines():
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, local_stack: LocalStack) -> LocalStack:
    """The local gateway; the fuzzing summary is printed at the end of the session."""
    if not request.config.pluginmanager.has_plugin("talon-fuzz-summary"):
        request.config.pluginmanager.register(SummaryPlugin(), "talon-fuzz-summary")
    return local_stack


@pytest.fixture
def fresh_sandbox(stack: LocalStack) -> None:
    """Each operation starts from the sandbox's seed, whatever ran before it (``-k`` included)."""
    reset_sandbox(stack)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:  # keep-alive across examples
        yield session


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None)
@pytest.mark.usefixtures("fresh_sandbox")
def test_no_server_error_and_only_documented_statuses(
    case: Case[Any], stack: LocalStack, http: requests.Session
) -> None:
    # Given a request generated from the operation's part of the OpenAPI document (valid or not)
    # When it is sent through the local gateway with the stack's bearer token
    authorization = {"Authorization": f"Bearer {stack.token}"}
    response = case.call(base_url=stack.url, session=http, headers=authorization, timeout=REQUEST_TIMEOUT)
    TALLY.record(case, response.status_code)

    # Then the answer is not a 5xx, and its status is documented for the operation
    case.validate_response(
        response,
        checks=[schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance],
        headers=authorization,
    )


def test_every_operation_of_the_document_was_fuzzed() -> None:
    # Given the 45 operations of docs/openapi.json: Talon.One's 43 and the gateway's own two
    operations = documented_operations()
    assert len(operations) == 45

    # Then each one was sent examples in this run (the parametrized test above ran first)
    missing = sorted(name for name, label in operations.items() if not TALLY.statuses.get(label))
    assert missing == [], TALLY.table()
