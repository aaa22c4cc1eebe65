"""Lambda SnapStart: what a restored execution environment must not share with its siblings.

With SnapStart, Lambda snapshots an environment after initialisation and restores copies of
it, so every copy would start with the same sockets, cached clients and random state.
After a restore: the HTTP pool and the AWS clients are dropped (their connections belong to
the snapshotted environment), cached secrets are forgotten (they may have been rotated since
the snapshot), and the random generator is reseeded (retry jitter must differ between
environments, or they retry in lockstep). Before the snapshot, modules that later requests
would load lazily are loaded, so restores do not pay for them.
"""

from __future__ import annotations

import importlib
import random
import sys

from talon_gateway import secrets
from talon_gateway.delivery import aws
from talon_gateway.observability import logger
from talon_gateway.upstream import transport

# Loaded before the snapshot: the idempotency adapter (boto3, DynamoDB) of keyed writes.
PRELOAD = ("talon_gateway.delivery.idempotency",)


def before_snapshot() -> None:
    for module in PRELOAD:
        importlib.import_module(module)


def after_restore() -> None:
    transport.reset_client()
    secrets.clear_caches()
    aws.reset()
    idempotency = sys.modules.get("talon_gateway.delivery.idempotency")
    if idempotency is not None:
        idempotency.reset()
    random.seed()
    logger.info("restored from a SnapStart snapshot: clients and caches renewed")


def register() -> bool:
    """Register the runtime hooks; False where the runtime offers none (not Lambda)."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
