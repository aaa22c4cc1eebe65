"""Nothing sensitive in logs, whatever the switches: a slice of the suite under each of them.

Each switch runs the slice in a child pytest (``-s``: nothing captured, every line the
functions, Powertools, botocore or the resolver write reaches the child's stdout and stderr),
and every byte the child wrote is searched for a secret, a presented credential or a customer's
data (tests/support/log_tap.py, which the child also checks line by line at its end).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_gateway.template import ROOT
from tests.support import log_tap

# Traffic with credentials, signatures, customers' attributes and erasure: what must not leak.
# Every operation once with its customer data, every refusal kind, the stores and erasure, the
# signature matrix; not the suite's repetitions of the same traffic (the cross-route replay
# matrix, every operation without its API key, the spec's examples), which four children on two
# cores would pay for four times.
SLICE = [
    "tests/test_operations.py",
    "tests/test_security.py",
    "tests/test_storage.py",
    "tests/test_inbound_auth.py::test_signature_matrix",
    "-k",
    "not replayed_to_any_other_route and not need_the_api_key and not specs_example_bodies",
]
# The children share two cores: their setup is this module's fixture, longer than one test's.
pytestmark = pytest.mark.timeout(900)
SWITCHES = {
    # (POWERTOOLS_DEV also turns metrics off: kept on, so their lines are searched too)
    "POWERTOOLS_DEV": {"POWERTOOLS_DEV": "true", "POWERTOOLS_METRICS_DISABLED": "false"},
    "POWERTOOLS_LOGGER_LOG_EVENT": {"POWERTOOLS_LOGGER_LOG_EVENT": "true"},
    "POWERTOOLS_DEBUG": {"POWERTOOLS_DEBUG": "true"},
    # Lambda's ApplicationLogLevel=DEBUG: the root logger (botocore included) at DEBUG
    "ApplicationLogLevel=DEBUG": {"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "POWERTOOLS_LOG_LEVEL": "DEBUG"},
}


@pytest.fixture(scope="module")
def outputs() -> dict[str, tuple[int, str]]:
    """The slice under every switch, the children run side by side: (exit code, all they wrote)."""
    # (and not under the parent's coverage: what is searched is the logs, not covered lines)
    prefixes = ("AWS_", "POWERTOOLS_", "COV_CORE_", "COVERAGE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    children = {
        switch: subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *SLICE],
            cwd=ROOT,
            env=base | variables,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for switch, variables in SWITCHES.items()
    }
    # Read every child's output while they all run: a full pipe would stall a child.
    with ThreadPoolExecutor(max_workers=len(children)) as pool:
        written = {s: pool.submit(c.communicate, timeout=900) for s, c in children.items()}
        return {s: (children[s].wait(), future.result()[0]) for s, future in written.items()}


@pytest.mark.parametrize("switch", SWITCHES)
def test_nothing_sensitive_is_logged_under(switch: str, outputs: dict[str, tuple[int, str]]) -> None:
    # Given the slice run with the switch on
    code, output = outputs[switch]

    # Then the slice passed (its own end-of-session check included) and logged a lot...
    assert code == 0, output[-4000:]
    assert len(output.splitlines()) > 200
    # ...but no line holds a sensitive value
    leaks = log_tap.leaks(output.splitlines())
    assert leaks == [], "\n".join(f"[{needle[:4]}...] {line[:300]}" for needle, line in leaks[:10])


LEAKING_TEST = """
import logging

from tests.support import log_tap


def test_logs_a_registered_secret() -> None:
    log_tap.register("harness-probe-secret-0123456789")
    logging.getLogger("probe").warning("here: harness-probe-secret-0123456789")


def test_logs_nothing() -> None:
    pass
"""


@pytest.mark.parametrize("workers", [None, "2"], ids=["one-process", "xdist-workers"])
def test_a_leak_fails_the_run_however_make_test_runs_it(workers: str | None, tmp_path: Path) -> None:
    # Given a test that passes but logs a secret, run under the suite's conftest, in one process
    # and on pytest-xdist's workers (make test), whose own exit status does not reach the run's
    (tmp_path / "test_leak.py").write_text(LEAKING_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull]
    command += ["--rootdir", str(tmp_path), "-p", "tests.conftest", str(tmp_path / "test_leak.py")]
    if workers:
        command += ["-n", workers]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "shared")])
    result = subprocess.run(
        command, check=False, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )

    # Then the run fails, and its summary shows the line that leaked
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "2 passed" in output, output
    assert "log line(s) hold a secret" in output, output
    assert "[harn...] here:" in output
