"""A user's first hour on a fresh clone: `make run`, `make call`, their errors, the Makefile.

The commands run as a user runs them (subprocesses: make, python -m ...), against a local
gateway started the way `make run` starts it. Errors a user can fix are one line on stderr
naming the fix; `make` adds its own `make: *** [...] Error N` line after a failed recipe, which
no recipe can avoid, so for commands run through make the test allows exactly that line more.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from unittest.mock import ANY

import httpx
import pytest

from local_gateway import __main__ as run_command
from local_gateway import client, registry
from local_gateway.access_log import format_line
from local_gateway.process import GatewayProcess
from local_gateway.stack import LocalStack
from local_gateway.template import load, parameter_defaults
from tests.support import log_tap
from tests.support.upstream import RecordingUpstream

ROOT = Path(__file__).resolve().parent.parent
MAKE_TRAILER = re.compile(r"^make: \*\*\* \[Makefile:\d+: [a-z]+\] Error \d+$")
ACCESS_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) (\S+) (\d{3}) "
    r"(\d+)ms id=(\S+)( replayed)?( queued)?$"
)


# The Talon.One URL samconfig.toml ships with (a deploy with it is guided: the Makefile)
TALON_URL_EXAMPLE = "https://mycompany.europe-west1.talon.one"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what an outer `make test` or a developer's shell adds."""
    drop: tuple[str, ...] = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ARGS", "GATEWAY_")
    drop += ("CONFIG_ENV", "SAMCONFIG")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return environment | extra


def run(*command: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, env=clean_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )


def make(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return run("make", "--no-print-directory", *args, timeout=timeout, **env)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def own_lines(stderr: str) -> list[str]:
    """stderr without make's own trailer line (one at most, last)."""
    lines = stderr.strip().splitlines()
    if lines and MAKE_TRAILER.match(lines[-1]):
        lines = lines[:-1]
    return lines


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[GatewayProcess, list[str]]]:
    """`python -m local_gateway` (what `make run` starts) on a port other than 3000."""
    lines: list[str] = []
    keep = log_tap.keeping(lines)

    running = GatewayProcess.start(workers=2, on_output=keep)
    yield running, lines
    assert running.stop() == 0


def access_lines(lines: list[str], since: int = 0) -> list[re.Match[str]]:
    return [m for line in lines[since:] if (m := ACCESS_LINE.match(line))]


def wait_for(predicate: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    return predicate()


# -- 1. make call finds the local gateway's token, on any port ---------------------------------


def test_make_call_works_against_a_gateway_on_another_port(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, lines = gateway
    assert running.url != client.LOCAL_URL
    # Given a local gateway on another port, and only its URL given to make call
    since = len(lines)
    result = make(
        "call",
        "ARGS=GET '/v1/customer_profiles/advocate-1/inventory?profile=true'",
        GATEWAY_URL=running.url,
    )
    # Then the request is authenticated with the gateway's own token and answered
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("HTTP 200\n"), result.stdout
    assert '"integrationId": "advocate-1"' in result.stdout
    # And its access-log line names the route and the answer's correlation id
    correlation = re.search(r"^x-correlation-id: (\S+)$", result.stdout, re.MULTILINE)
    assert correlation is not None
    logged = wait_for(lambda: access_lines(lines, since))
    assert [m.group(2, 3, 5) for m in logged] == [
        ("/v1/customer_profiles/{integrationId}/inventory", "200", correlation.group(1))
    ]


def test_the_readme_example_body_works(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    # When the README's call with a ready body from examples/ is made
    result = make(
        "call",
        "ARGS=PUT /v2/customer_sessions/cart-1 --data @examples/updateCustomerSessionV2.json",
        GATEWAY_URL=running.url,
    )
    # Then Talon.One's (the sandbox's) answer comes back
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("HTTP 200\n"), result.stdout
    assert '"effects"' in result.stdout


def test_the_banner_says_how_to_call_this_gateway(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    banner = running.banner
    # Then the make call line carries the URL (it is not the default one), and the banner
    # names the docs and the sandbox's port flag
    assert f'Or: GATEWAY_URL={running.url} make call ARGS="GET ' in banner
    assert f"API docs: {running.url}/docs" in banner
    assert "--sandbox-port" in banner


def test_the_banner_leaves_the_default_url_out() -> None:
    stack = SimpleNamespace(
        url=client.LOCAL_URL,
        talon=None,
        talon_url="http://127.0.0.1:8040",
        token=client.LOCAL_TOKEN,
        webhook_secret="whsec_x",
    )
    text = run_command.banner(cast("LocalStack", stack))
    assert "\nOr: make call ARGS=" in text
    assert "GATEWAY_URL" not in text


def test_the_token_goes_only_to_a_url_a_running_local_gateway_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "DIRECTORY", tmp_path)
    with RecordingUpstream() as upstream:
        # Given a server on loopback that no local gateway registered
        assert client.main(["GET", "/v1/x", "--url", upstream.url]) == 0
        # Then no credential is sent to it
        assert "authorization" not in upstream.requests[-1].headers

        # When a running local gateway registers that URL
        entry = registry.register(upstream.url, "token-of-that-gateway")
        assert entry.stat().st_mode & 0o777 == 0o600
        assert client.main(["GET", "/v1/x", "--url", upstream.url + "/"]) == 0
        # Then its token is sent
        assert upstream.requests[-1].headers["authorization"] == "Bearer token-of-that-gateway"
        # Unless the caller gave their own
        assert client.main(["GET", "/v1/x", "--url", upstream.url, "--token", "mine"]) == 0
        assert upstream.requests[-1].headers["authorization"] == "Bearer mine"

        # When it stops, its entry goes
        registry.unregister(entry)
        assert not entry.exists()


def test_a_left_over_entry_or_a_remote_url_gets_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "DIRECTORY", tmp_path)
    # Given the entry of a gateway that was killed (its process is gone)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    path = registry.register("http://127.0.0.1:3107", "stale")
    path.write_text(path.read_text().replace(str(os.getpid()), dead.stdout.strip()))
    # Then it lends no token, and the client sends none
    assert registry.find("http://127.0.0.1:3107") is None
    assert client.local_token("http://127.0.0.1:3107") is None
    # And a deployed stack on the same port, or a URL with a path, never gets a local token
    registry.register("http://127.0.0.1:3108", "live")
    assert client.local_token("http://127.0.0.1:3108") == "live"
    assert client.local_token("https://127.0.0.1:3108") is None
    assert client.local_token("http://127.0.0.1:3108/v1") is None
    assert client.local_token("https://abc.execute-api.eu-west-1.amazonaws.com:3108") is None
    # And localhost is the same machine
    assert client.local_token("http://localhost:3108") == "live"


# -- 2. one-line errors with the fix ------------------------------------------------------------


def test_connection_refused_is_one_line_naming_the_url_and_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    # When nothing listens at the URL
    direct = run(sys.executable, "-m", "local_gateway.client", "GET", "/v1/x", GATEWAY_URL=url)
    through_make = make("call", "ARGS=GET /v1/x", GATEWAY_URL=url)
    # Then one line says so, with what to do
    for result in (direct, through_make):
        assert result.returncode != 0
        (line,) = own_lines(result.stderr)
        assert url in line
        assert "make run" in line
        assert "GATEWAY_URL" in line
    assert len(direct.stderr.strip().splitlines()) == 1


def test_a_missing_body_file_is_one_line() -> None:
    result = run(
        sys.executable, "-m", "local_gateway.client", "PUT", "/v1/x", "--data", "@examples/nothing.json"
    )
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "examples/nothing.json" in line


def test_a_taken_gateway_port_is_one_line_naming_it_and_the_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        # When make run is asked for a port something else listens on
        direct = run(sys.executable, "-m", "local_gateway", "--port", str(port), "--sandbox-port", "0")
        through_make = make("run", f"ARGS=--port {port} --sandbox-port 0")
    # Then one line names the port and --port, at once (nothing was started)
    assert time.monotonic() - started < 30
    assert len(direct.stderr.strip().splitlines()) == 1, direct.stderr
    for result in (direct, through_make):
        assert result.returncode != 0
        (line,) = own_lines(result.stderr)
        assert f"Port {port} (the gateway's) is already in use" in line
        assert 'make run ARGS="--port ' in line


def test_a_taken_sandbox_port_names_the_sandbox_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(sys.executable, "-m", "local_gateway", "--port", "0", "--sandbox-port", str(port))
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert f"Port {port} (the sandbox's)" in line
    assert "--sandbox-port" in line


def test_a_port_of_another_make_run_says_whose(gateway: tuple[GatewayProcess, list[str]]) -> None:
    running, _ = gateway
    port = running.url.rsplit(":", 1)[1]
    result = run(sys.executable, "-m", "local_gateway", "--port", port, "--sandbox-port", "0")
    (line,) = result.stderr.strip().splitlines()
    assert f"by another `make run` (pid {running.process.pid})" in line


@pytest.fixture
def bare_path(tmp_path: Path) -> str:
    """A PATH without any Python 3.13 (nor pyenv): only the few tools the scripts call first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname",):
        (bin_dir / tool).symlink_to(Path("/usr/bin") / tool)
    return str(bin_dir)


def test_make_without_python_313_is_one_line_with_the_fix(tmp_path: Path, bare_path: str) -> None:
    # Given no Python 3.13 to be found, and no development environment yet
    result = subprocess.run(
        ["/usr/bin/make", "--no-print-directory", f"VENV={tmp_path}/.venv", "venv"],
        cwd=ROOT,
        env={"PATH": bare_path, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Then one line (make's own `*** ... Stop.` one) says what to install
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "Python 3.13 is needed" in line
    assert "pyenv install 3.13.0" in line
    assert not (tmp_path / ".venv").exists()


def test_ci_without_python_313_is_one_line_with_the_fix(tmp_path: Path, bare_path: str) -> None:
    result = subprocess.run(
        ["/bin/bash", str(ROOT / ".ci" / "run")],
        cwd=ROOT,
        env={"PATH": bare_path, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "Python 3.13 not found" in line
    assert "pyenv install 3.13.0" in line
    assert result.stdout == ""


# -- 3. the first install says what it is doing -------------------------------------------------


def test_first_installs_say_what_is_happening(tmp_path: Path) -> None:
    # Given environments that do not exist yet (-n: what make would run, nothing run)
    venv = make("-n", f"VENV={tmp_path}/.venv", "venv")
    sam = make("-n", f"SAM_VENV={tmp_path}/.venv-sam", "validate")
    # Then each announces itself before the long pip install
    assert "Installing the development environment" in venv.stdout
    assert "about 2 minutes" in venv.stdout
    assert venv.stdout.index("Installing the development") < venv.stdout.index("pip install")
    assert "Installing the SAM CLI" in sam.stdout
    assert sam.stdout.index("Installing the SAM CLI") < sam.stdout.index("pip install")


# -- 4. the access log, and the functions' memory -----------------------------------------------


def test_access_log_marks_replays_and_queued_writes_and_holds_no_values(
    gateway: tuple[GatewayProcess, list[str]],
) -> None:
    running, lines = gateway
    body = (ROOT / "examples" / "updateCustomerSessionV2.json").read_bytes()
    headers = {
        "Authorization": f"Bearer {client.LOCAL_TOKEN}",
        "Content-Type": "application/json",
        "Idempotency-Key": "first-hour-replay-1",
    }
    since = len(lines)
    with httpx.Client(base_url=running.url, timeout=30) as http:
        # When a write is sent twice with one key, then one is queued, then a path has no route
        first = http.put("/v2/customer_sessions/cart-hour-1?dry=false", content=body, headers=headers)
        again = http.put("/v2/customer_sessions/cart-hour-1?dry=false", content=body, headers=headers)
        queued = http.put(
            "/v2/customer_sessions/cart-hour-2",
            content=body,
            headers=headers | {"Idempotency-Key": "first-hour-queued-1", "Prefer": "respond-async"},
        )
        missing = http.get("/v9/customer-hour-secret-id", headers=headers)
    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert queued.status_code == 202, queued.text
    assert missing.status_code == 404

    # Then there is one line each, in order, with the answer's correlation id
    logged = wait_for(lambda: len(found := access_lines(lines, since)) >= 4 and found)
    assert [(m.group(1), m.group(2), m.group(3)) for m in logged] == [
        ("PUT", "/v2/customer_sessions/{customerSessionId}", "200"),
        ("PUT", "/v2/customer_sessions/{customerSessionId}", "200"),
        ("PUT", "/v2/customer_sessions/{customerSessionId}", "202"),
        ("GET", "-", "404"),
    ]
    assert [m.group(5) for m in logged] == [
        r.headers["X-Correlation-Id"] for r in (first, again, queued, missing)
    ]
    assert [bool(m.group(6)) for m in logged] == [False, True, False, False]
    assert [bool(m.group(7)) for m in logged] == [False, False, True, False]
    # And no path value, query value, body or credential is in them
    text = "\n".join(m.group(0) for m in logged)
    for value in ("cart-hour", "dry", "customer-hour-secret-id", client.LOCAL_TOKEN, "Idempotency", '"'):
        assert value not in text


def test_an_access_line_is_fixed_fields() -> None:
    from datetime import UTC, datetime

    line = format_line(
        when=datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
        method="PUT",
        route="/v2/customer_sessions/{customerSessionId}",
        status=200,
        latency_ms=41.4,
        correlation_id="abc",
        replayed=True,
    )
    assert (
        line
        == "2026-12-01T10:00:00.123Z PUT /v2/customer_sessions/{customerSessionId} 200 41ms id=abc replayed"
    )


def test_the_functions_get_the_templates_memory_size() -> None:
    document = load()
    assert document["Globals"]["Function"]["MemorySize"].value == "MemorySize"
    assert run_command.memory_size() == parameter_defaults(document)["MemorySize"] == "1024"


# -- 5. make sandbox, deploy and logs ------------------------------------------------------------


def test_make_sandbox_takes_args() -> None:
    # When the sandbox is run on a port of its choosing
    process = subprocess.Popen(
        ["make", "--no-print-directory", "sandbox", "ARGS=--port 0"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    # Then it listens there, not on 8040 (its first line is its URL)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", first), first
    assert not first.endswith(":8040")


def configured_samconfig(tmp_path: Path) -> Path:
    """samconfig.toml as a user's first guided deploy leaves it: their Talon.One URL saved."""
    saved = tmp_path / "samconfig.toml"
    text = (ROOT / "samconfig.toml").read_text()
    saved.write_text(text.replace(TALON_URL_EXAMPLE, "https://acme.europe-west1.talon.one"))
    return saved


def test_make_deploy_builds_then_deploys_with_the_projects_sam_cli(tmp_path: Path) -> None:
    # Given a samconfig.toml whose default environment has the user's own deploy parameters
    saved = configured_samconfig(tmp_path)
    result = make("-n", "deploy", f"SAMCONFIG={saved}")
    commands = result.stdout.splitlines()
    # Then sam build, then sam deploy with that environment, both the project's SAM CLI
    build = next(i for i, c in enumerate(commands) if ".venv-sam/bin/sam build" in c)
    deploy = next(i for i, c in enumerate(commands) if ".venv-sam/bin/sam deploy" in c)
    assert build < deploy
    assert commands[deploy].split() == [
        ".venv-sam/bin/sam",
        "deploy",
        "--config-env",
        "default",
        "--config-file",
        str(saved),
    ]


def test_make_deploy_is_guided_the_first_time_or_when_asked(tmp_path: Path) -> None:
    # A fresh clone (samconfig.toml still names the example Talon.One URL), an environment
    # samconfig.toml has no deploy section for, or asked for: sam asks, and saves the answers
    assert TALON_URL_EXAMPLE in (ROOT / "samconfig.toml").read_text()
    fresh = make("-n", "deploy")
    first = make("-n", "deploy", "CONFIG_ENV=first-hour-nowhere")
    asked = make(
        "-n", "deploy", "ARGS=--guided --no-confirm-changeset", f"SAMCONFIG={configured_samconfig(tmp_path)}"
    )
    (line,) = [c for c in fresh.stdout.splitlines() if "sam deploy" in c]
    assert line.split() == [".venv-sam/bin/sam", "deploy", "--config-env", "default", "--guided"]
    (line,) = [c for c in first.stdout.splitlines() if "sam deploy" in c]
    assert line.split() == [".venv-sam/bin/sam", "deploy", "--config-env", "first-hour-nowhere", "--guided"]
    (line,) = [c for c in asked.stdout.splitlines() if "sam deploy" in c]
    assert line.split()[:6] == [
        ".venv-sam/bin/sam",
        "deploy",
        "--config-env",
        "default",
        "--config-file",
        ANY,
    ]
    assert line.split()[6:] == ["--guided", "--no-confirm-changeset"]


def test_make_logs_tails_the_stack_of_the_environment() -> None:
    result = make("-n", "logs", "CONFIG_ENV=production")
    command = " ".join(result.stdout.replace("\\\n", " ").split())
    assert (
        ".venv-sam/bin/sam logs --config-env production --stack-name talon-gateway --region eu-west-1 --tail"
        in command
    )


# -- 6. nothing outside the repository ----------------------------------------------------------

CONFIGS = ["pyproject.toml", "Makefile", "samconfig.toml", "template.yaml", ".ci/run", "shared/Makefile"]
SKIPPED_DIRS = {"__pycache__", "node_modules"}


def repository_files() -> set[str]:
    found: set[str] = set()
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS] + (
            [".ci"] if Path(folder) == ROOT else []
        )
        found.update(str(Path(folder, n).relative_to(ROOT)) for n in names)
    return found


def test_no_test_or_config_reaches_outside_the_repository() -> None:
    """A test that looked for ../shared was skipped wherever the repository stood alone."""
    climbs = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?(?:((?:\.parent\b)+)|\.parents\[(\d+)\])")
    upward = re.compile(r"""(?:Path\(\s*|/\s*)["']\.\.(?:/|["'])|["']\.\./shared|\bROOT\.parent\b""")
    offenders = []
    for config in CONFIGS:
        for number, line in enumerate((ROOT / config).read_text().splitlines(), 1):
            if "../" in line:
                offenders.append(f"{config}:{number}: {line.strip()}")
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for parents, index in climbs.findall(line):
                level = parents.count(".parent") - 1 if parents else int(index)
                if not path.resolve().parents[level].is_relative_to(ROOT):
                    offenders.append(where)
            if upward.search(line) and path.name != Path(__file__).name:
                offenders.append(where)
    assert offenders == []


# Cited before the file exists, reported to its owners: each goes when the file lands or the
# comment changes (the test then fails until it is removed here, so the list cannot go stale).
PENDING: set[tuple[str, str]] = set()


def test_config_comments_cite_only_files_the_repository_has() -> None:
    cited = re.compile(r"[\w.-]+(?:/[\w.-]+)*\.(?:md|py|json|toml|ya?ml|txt|lock|cfg|ini|sh)\b")
    files = repository_files()
    missing = set()
    for config in CONFIGS:
        for line in (ROOT / config).read_text().splitlines():
            comment = re.search(r"(?:^|\s)#(?!!)(.*)$", line)
            for name in cited.findall(comment.group(1) if comment else ""):
                if name.startswith("."):
                    continue  # a suffix (.json), not a file
                if not any(f == name or f.endswith("/" + name) for f in files):
                    missing.add((config, name))
    assert missing - PENDING == set()
    assert missing >= PENDING, f"now in the repository, remove from PENDING: {PENDING - missing}"
