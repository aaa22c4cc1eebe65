"""Credentials the sandbox accepts; the defaults are those of the spec's signature test vectors."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

DEFAULT_API_KEY = "sandbox-integration-api-key"
DEFAULT_APPLICATION_ID = "42"
DEFAULT_APPLICATION_KEY_HEX = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

# Environment variables read by SandboxCredentials.from_env (and so by ``python -m sandbox``).
ENV_API_KEYS = "TALON_SANDBOX_API_KEYS"  # comma-separated: several keys are valid at once
ENV_APPLICATION_ID = "TALON_SANDBOX_APPLICATION_ID"
ENV_APPLICATION_KEY = "TALON_SANDBOX_APPLICATION_KEY"  # hex, as shown in Talon.One's console


@dataclass(frozen=True, slots=True)
class SandboxCredentials:
    """Integration API keys (any of them is valid) and the legacy application id/key pair."""

    api_keys: Sequence[str] = (DEFAULT_API_KEY,)
    application_id: str = DEFAULT_APPLICATION_ID
    application_key_hex: str = DEFAULT_APPLICATION_KEY_HEX

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__ so callers may pass a list.
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        if not self.api_keys or any(not k or k != k.strip() or " " in k for k in self.api_keys):
            raise ValueError("api_keys must hold at least one non-empty key without spaces")
        # Talon.One application ids are integers and responses carry them as `applicationId`.
        if not self.application_id.isdigit():
            raise ValueError(f"application_id must be a decimal integer, got {self.application_id!r}")
        try:
            key = bytes.fromhex(self.application_key_hex)
        except ValueError:
            raise ValueError("application_key_hex must be a hex string") from None
        if not key:
            raise ValueError("application_key_hex must not be empty")

    @property
    def application_key(self) -> bytes:
        return bytes.fromhex(self.application_key_hex)

    def with_api_key(self, new_key: str, *, keep_old: bool = False) -> SandboxCredentials:
        """Rotation: the new key alone, or added to the current ones while clients migrate."""
        keys = [*self.api_keys, new_key] if keep_old else [new_key]
        return replace(self, api_keys=tuple(dict.fromkeys(keys)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxCredentials:
        """Defaults overridden by the TALON_SANDBOX_* variables that are set and non-empty."""
        env = os.environ if environ is None else environ
        keys = [k.strip() for k in env.get(ENV_API_KEYS, "").split(",") if k.strip()]
        return cls(
            api_keys=keys or (DEFAULT_API_KEY,),
            application_id=env.get(ENV_APPLICATION_ID) or DEFAULT_APPLICATION_ID,
            application_key_hex=env.get(ENV_APPLICATION_KEY) or DEFAULT_APPLICATION_KEY_HEX,
        )
