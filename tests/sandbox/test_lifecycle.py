"""Starting and stopping the sandbox, the command line, and seed files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from sandbox import DEFAULT_SEED, Sandbox, SandboxCredentials, Seed, SeedError

ROOT = Path(__file__).resolve().parents[2]


def test_url_needs_a_started_sandbox() -> None:
    sb = Sandbox()
    with pytest.raises(RuntimeError):
        _ = sb.url
    sb.stop()  # stopping a sandbox that never started is harmless


def test_start_stop_and_restart() -> None:
    # Given a sandbox with its own credentials
    sb = Sandbox(credentials=SandboxCredentials(api_keys=["own-key"]))
    sb.start()
    with pytest.raises(RuntimeError):
        sb.start()
    url = sb.url
    # When used then stopped
    ok = httpx.get(f"{url}/v1/coupon_reservations/coupons/x", headers={"Authorization": "ApiKey-v1 own-key"})
    sb.stop()
    sb.stop()
    # Then it answered while running and refuses connections after
    assert ok.status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/coupon_reservations/coupons/x")
    # And it can start again
    with sb:
        assert sb.running


def test_stop_interrupts_injected_latency() -> None:
    # Given a request sleeping in a long latency fault
    sb = Sandbox().start()
    sb.add_fault("*", "latency", latency_ms=30_000)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(f"{sb.url}/v1/coupon_reservations/coupons/x", timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 10
    while sb.counts("getReservedCoupons")["received"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sb.counts("getReservedCoupons")["received"] == 1  # it is sleeping in the fault
    # When stopping
    started = time.monotonic()
    sb.stop()
    caller.join(timeout=5)
    # Then stop does not wait for the latency to elapse
    assert time.monotonic() - started < 3
    assert not caller.is_alive()


def test_custom_seed_file(tmp_path: Path) -> None:
    # Given a minimal seed with one fixed-amount campaign
    seed = {
        "campaigns": [
            {
                "id": 9,
                "name": "Tiny",
                "rule": {"name": "3 off", "trigger": "coupon", "discount": {"type": "fixed", "value": 3}},
                "coupons": [{"value": "TINY3"}, {"value": "TINY4"}],
            }
        ]
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    # When a sandbox starts with it
    with Sandbox(seed=path) as sb:
        state = sb.state
    # Then only its data exists, with generated coupon ids
    assert set(state.coupons) == {"TINY3", "TINY4"}
    assert [c["id"] for c in state.coupons.values()] == [1, 2]
    assert state.profiles == {}


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({}, "'campaigns' is a required property"),
        ({"campaigns": [{"id": 1, "name": "x"}]}, "'rule' is a required property"),
        (
            {
                "campaigns": [
                    {"id": 1, "name": "x", "rule": {"name": "r", "trigger": "coupon"}, "endTime": "soon"}
                ]
            },
            "is not a 'date-time'",
        ),
        (
            {
                "campaigns": [
                    {
                        "id": 1,
                        "name": "a",
                        "rule": {"name": "r", "trigger": "coupon"},
                        "coupons": [{"value": "SAME"}],
                    },
                    {
                        "id": 2,
                        "name": "b",
                        "rule": {"name": "r", "trigger": "coupon"},
                        "coupons": [{"value": "SAME"}],
                    },
                ]
            },
            "duplicate code 'SAME'",
        ),
        (
            {
                "campaigns": [
                    {
                        "id": 1,
                        "name": "a",
                        "rule": {"name": "r", "trigger": "referral"},
                        "coupons": [{"value": "ABCD"}],
                    }
                ]
            },
            "coupons need a rule with trigger 'coupon'",
        ),
        (
            {"campaigns": [{"id": 1, "name": "a", "rule": {"name": "r", "trigger": "event"}}]},
            "needs eventType",
        ),
    ],
)
def test_invalid_seed_is_refused_with_a_clear_message(seed: dict[str, object], message: str) -> None:
    with pytest.raises(SeedError, match=message.replace("(", r"\(")):
        Seed(seed)


def test_bundled_seed_has_the_documented_data() -> None:
    entities = Seed.load(DEFAULT_SEED).entities(42)
    coupons = {c.value for c in entities.coupons}
    assert {"SUMMER20", "SUMMER 20/50%", "EXPIRED2020", "USEDUP1", "WELCOME10", "MEMBERS-ONLY"} <= coupons
    kinds = {(c.rule.trigger, c.rule.discount.kind if c.rule.discount else None) for c in entities.campaigns}
    assert {("coupon", "percent"), ("coupon", "fixed"), ("referral", "fixed"), ("session", None)} <= kinds
    assert any(c.referral_settings for c in entities.campaigns)
    # The README's table: programs, cards, audiences, catalog, achievements
    assert {(p.id, p.kind) for p in entities.programs} == {(1, "profile"), (2, "card")}
    assert [c.identifier for c in entities.cards] == ["CARD-0001", "CARD-0002", "CARD-BLOCKED"]
    assert [a.id for a in entities.audiences] == [1, 2]
    assert [(c.id, sorted(c.items)) for c in entities.catalogs] == [(1, ["SKU-CAP", "SKU-MUG", "SKU-TSHIRT"])]
    assert entities.catalogs[0].subscribed_application_ids == [42]
    assert [a.id for a in entities.achievements] == [1, 2, 3]
    assert [p.integration_id for p in entities.profiles] == [
        "advocate-1",
        "vip-customer",
        "loyal-1",
        "loyal-2",
    ]


LOYALTY_CAMPAIGN = {
    "id": 1,
    "name": "l",
    "rule": {"name": "r", "trigger": "session", "addLoyaltyPoints": {"programId": 1, "perUnit": 1}},
}


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"campaigns": [LOYALTY_CAMPAIGN]}, "no loyalty program 1"),
        (
            {"campaigns": [{"id": 1, "name": "x", "rule": {"name": "r", "trigger": "session"}}]},
            "trigger 'session' goes with addLoyaltyPoints",
        ),
        (
            {
                "campaigns": [],
                "loyaltyPrograms": [
                    {"id": 1, "name": "p", "title": "P", "type": "profile", "members": ["ghost"]}
                ],
            },
            "'ghost' is not a seeded profile",
        ),
        (
            {
                "campaigns": [],
                "loyaltyPrograms": [
                    {
                        "id": 1,
                        "name": "p",
                        "title": "P",
                        "type": "profile",
                        "cards": [{"identifier": "CARD-1"}],
                    }
                ],
            },
            "only card-based programs have cards",
        ),
        (
            {
                "campaigns": [],
                "loyaltyPrograms": [
                    {
                        "id": 1,
                        "name": "p",
                        "title": "P",
                        "type": "card",
                        "transactions": [{"amount": 1, "name": "n"}],
                    }
                ],
            },
            "a transaction needs a seeded cardIdentifier",
        ),
        (
            {"campaigns": [], "audiences": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]},
            "duplicate audience id 1",
        ),
        (
            {"campaigns": [], "catalogs": [{"id": 1, "name": "c", "items": [{"sku": "A"}, {"sku": "A"}]}]},
            "duplicate sku",
        ),
        (
            {
                "campaigns": [
                    {"id": 1, "name": "x", "features": ["magic"], "rule": {"name": "r", "trigger": "coupon"}}
                ]
            },
            "is not one of",
        ),
    ],
)
def test_invalid_extended_seed_is_refused(seed: dict[str, object], message: str) -> None:
    with pytest.raises(SeedError, match=message):
        Seed(seed)


def test_command_line_runs_until_interrupted() -> None:
    # Given the CLI on a free port with credentials from flags and the environment
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TALON_SANDBOX_API_KEYS": "env-key",
        "TALON_SANDBOX_APPLICATION_ID": "7",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            "0",
            "--api-key",
            "flag-key",
            "--log-level",
            "WARNING",
            "--processing-delay-ms",
            "3",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # When it prints its URL
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        # Then the flag's key works (it overrides the environment's) and the env's application id is used
        path = "/v1/customer_profiles/cli/inventory"
        put = httpx.put(
            f"{url}/v1/customer_profiles/cli", json={}, headers={"Authorization": "ApiKey-v1 flag-key"}
        )
        refused = httpx.get(f"{url}{path}", headers={"Authorization": "ApiKey-v1 env-key"})
        assert (put.status_code, refused.status_code) == (200, 401)
        assert put.json()["event"]["applicationId"] == 7
        assert httpx.get(f"{url}/_sandbox/config").json() == {"processing_delay_ms": 3}
        # And Ctrl-C stops it cleanly
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
        assert process.returncode == 0, err
        assert "sandbox stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_command_line_reports_a_bad_seed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", "0", "--seed", str(bad)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
