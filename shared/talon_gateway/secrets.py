"""Secrets from AWS Secrets Manager, cached for POWERTOOLS_PARAMETERS_MAX_AGE seconds.

Two ways to read them:
- Powertools parameters' SecretsProvider (boto3), the default;
- the AWS Parameters and Secrets Lambda Extension over HTTP on localhost, when the template
  adds its layer (``SECRETS_EXTENSION_PORT``): no SDK client is created, which takes about
  170 ms off a cold start (bench/). Refetches that must bypass every cache (a 401 from
  Talon.One after a key rotation) still go through the SDK.

Values are parsed into models whose secret fields are ``SecretStr``/``SecretBytes``, so a repr
or a log line can never show them. When Secrets Manager is unreachable, the last value read
in this execution environment is used; with none, callers get ``SecretsUnavailable`` (503).
"""

from __future__ import annotations

import http.client
import json
import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError

from talon_gateway.config import aws_client_config
from talon_gateway.errors import ConfigurationError, SecretsUnavailable
from talon_gateway.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

# Set by template.yaml when the AWS Parameters and Secrets Lambda Extension layer is attached.
EXTENSION_PORT_ENV = "SECRETS_EXTENSION_PORT"

# Per secret, the last value read that parsed, with its model: reused while Powertools hands
# back the same cached dict, and the fallback when Secrets Manager cannot be reached.
_known: dict[str, tuple[dict[str, Any], BaseModel]] = {}


class _Unreadable(Exception):
    """The secret could not be read (service or extension unreachable, or refused)."""


class _NotJson(Exception):
    """The secret's value is not JSON."""


@cache
def _provider() -> SecretsProvider:
    """Powertools' Secrets Manager provider, built (and boto3 imported) on first use."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto_config=aws_client_config())


def _read_with_sdk(secret_id: str, *, force_fetch: bool) -> Any:
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        return _provider().get(secret_id, transform="json", force_fetch=force_fetch)
    except TransformParameterError:
        raise _NotJson from None
    except GetParameterError as exc:
        raise _Unreadable(type(exc).__name__) from None


def _max_age() -> float:
    return float(os.environ.get("POWERTOOLS_PARAMETERS_MAX_AGE", "5"))


class _Extension:
    """The AWS Parameters and Secrets Lambda Extension, cached here too for the same max age.

    Plain HTTP on loopback with the standard library: one request per secret and max age does
    not need a connection pool, and this module stays below the upstream client.
    """

    def __init__(self, port: int) -> None:
        self._port = port
        self._cache: dict[str, tuple[float, Any]] = {}

    def _get(self, secret_id: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=2.0)
        try:
            connection.request(
                "GET",
                f"/secretsmanager/get?{urlencode({'secretId': secret_id})}",
                headers={"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")},
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def read(self, secret_id: str) -> Any:
        hit = self._cache.get(secret_id)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        try:
            status, body = self._get(secret_id)
        except (OSError, http.client.HTTPException) as exc:
            raise _Unreadable(type(exc).__name__) from None
        if status != 200:
            raise _Unreadable(f"extension answered {status}")
        try:
            value = json.loads(json.loads(body)["SecretString"])
        except (ValueError, KeyError, TypeError):
            raise _NotJson from None
        self._cache[secret_id] = (time.monotonic() + _max_age(), value)
        return value


@cache
def _extension(port: int) -> _Extension:
    return _Extension(port)


def _read(secret_id: str, *, force_fetch: bool) -> Any:
    port = os.environ.get(EXTENSION_PORT_ENV)
    if port and not force_fetch:
        return _extension(int(port)).read(secret_id)
    return _read_with_sdk(secret_id, force_fetch=force_fetch)


def load[M: BaseModel](model: type[M], secret_id: str, *, force_fetch: bool) -> M:
    known = _known.get(secret_id)
    try:
        raw = _read(secret_id, force_fetch=force_fetch)
    except _NotJson:
        raise ConfigurationError(f"secret {secret_id} is not a JSON object") from None
    except _Unreadable as exc:
        if known is None:
            logger.error("secret unavailable", extra={"secret_id": secret_id, "error": str(exc)})
            raise SecretsUnavailable(secret_id) from None
        logger.warning("secrets manager failed, using the last value read", extra={"secret_id": secret_id})
        return cast("M", known[1])
    # The caches hand back the same dict while it is fresh: parse it once.
    if known is not None and known[0] is raw and isinstance(known[1], model):
        return known[1]
    if not isinstance(raw, dict):
        raise ConfigurationError(f"secret {secret_id} is not a JSON object")
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        # Locations and the models' own messages only: the models hide their input in errors.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'} {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise ConfigurationError(f"secret {secret_id} is malformed: {problems}") from None
    _known[secret_id] = (raw, parsed)
    return parsed


def prepare_sdk() -> None:
    """Build the SDK's provider (boto3, the Secrets Manager client) ahead of use: SnapStart's
    priming, so that a rotated key's refetch after a restore does not build it."""
    _provider()


def forget_values() -> None:
    """Forget every cached secret value, keeping the SDK's client (SnapStart restores: a value
    may have been rotated since the snapshot; the client holds no connection yet)."""
    _known.clear()
    _extension.cache_clear()
    if _provider.cache_info().currsize:
        _provider().clear_cache()


def clear_caches() -> None:
    """Forget every cached secret and the clients (tests)."""
    _known.clear()
    _provider.cache_clear()
    _extension.cache_clear()
