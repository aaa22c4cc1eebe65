"""A stateful local Talon.One Integration API sandbox served over real HTTP on loopback.

Today's 39 operations (spec/current) plus the 4 legacy ones of the 2020 document.

    from sandbox import Sandbox
    with Sandbox() as sb:
        httpx.put(f"{sb.url}/v2/customer_sessions/s1", headers={"Authorization": ...}, json=...)

See sandbox/README.md for the seed format and ids, the admin endpoints and the choices it makes.
"""

from sandbox.app import OperationCounts, RecordedRequest
from sandbox.auth import api_key_authorization, content_signature, sign
from sandbox.credentials import (
    DEFAULT_API_KEY,
    DEFAULT_APPLICATION_ID,
    DEFAULT_APPLICATION_KEY_HEX,
    ENV_API_KEYS,
    ENV_APPLICATION_ID,
    ENV_APPLICATION_KEY,
    SandboxCredentials,
)
from sandbox.faults import Fault, FaultAction
from sandbox.seed import DEFAULT_SEED, Seed, SeedError
from sandbox.server import Sandbox, SandboxState
from sandbox.spec import LEGACY_OPERATIONS, Spec, load_spec

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_APPLICATION_KEY_HEX",
    "DEFAULT_SEED",
    "ENV_API_KEYS",
    "ENV_APPLICATION_ID",
    "ENV_APPLICATION_KEY",
    "LEGACY_OPERATIONS",
    "Fault",
    "FaultAction",
    "OperationCounts",
    "RecordedRequest",
    "Sandbox",
    "SandboxCredentials",
    "SandboxState",
    "Seed",
    "SeedError",
    "Spec",
    "api_key_authorization",
    "content_signature",
    "load_spec",
    "sign",
]
