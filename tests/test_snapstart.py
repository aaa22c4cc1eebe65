"""SnapStart hooks: restored environments renew what they must not share."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable

import pytest

from talon_gateway import secrets
from talon_gateway.api import snapstart
from talon_gateway.upstream import transport
from tests.conftest import Invoke, load_event
from tests.support.upstream import RecordingUpstream


def test_after_restore_renews_pool_clients_secrets_and_randomness(
    recorded_gateway: RecordingUpstream, invoke: Invoke
) -> None:
    # Given a warm environment: a pool, cached secrets, a random state
    invoke("track_event", load_event("track_event"))
    pool = transport.get_pool()
    assert secrets._known
    random.seed(1234)
    snapshotted = random.random()

    # When it is restored from a snapshot
    random.seed(1234)
    snapstart.after_restore()

    # Then the pool is new, the secrets will be read again, and jitter differs from the snapshot's
    assert transport.get_pool() is not pool
    assert not secrets._known
    assert random.random() != snapshotted
    # and the next request works
    assert invoke("track_event", load_event("track_event"))["statusCode"] == 200


def test_hooks_are_registered_where_the_runtime_offers_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the Lambda runtime's module, nothing is registered
    assert snapstart.register() is False

    # With it, both hooks are
    registered: dict[str, Callable[[], None]] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.setdefault("before", hook)  # type: ignore[attr-defined]
    runtime.register_after_restore = lambda hook: registered.setdefault("after", hook)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert snapstart.register() is True
    assert registered == {"before": snapstart.before_snapshot, "after": snapstart.after_restore}

    # and the snapshot holds the modules keyed writes load lazily
    monkeypatch.delitem(sys.modules, "talon_gateway.delivery.idempotency", raising=False)
    snapstart.before_snapshot()
    assert "talon_gateway.delivery.idempotency" in sys.modules
