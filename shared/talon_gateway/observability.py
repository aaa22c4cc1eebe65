"""Logger, Tracer and Metrics: module-level singletons shared by every function.

Service name, metrics namespace, log level and tracing switch come from Powertools' own
environment variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
POWERTOOLS_LOG_LEVEL, POWERTOOLS_TRACE_DISABLED), set in template.yaml.

The gateway never logs bodies, headers, path values or secrets, and holds the libraries that
would (botocore, Powertools' own debug lines, httpx) at a floor whatever the log switches. As
a second line of defence, a filter redacts the values of credential headers and customer
attributes wherever they would appear in a log record's structured fields.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "content-signature",
        "webhook-signature",
        "apikey",
        "applicationkey",
        "webhooksecrets",
        "bearertokens",
        "attributes",
    }
)
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of sensitive keys replaced, at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SENSITIVE_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Redact sensitive structured fields (``extra=...``) of every record before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in list(vars(record).items()):
            if name in _RECORD_FIELDS:
                continue
            if name.lower() in SENSITIVE_KEYS:
                setattr(record, name, REDACTED)
            elif isinstance(value, dict | list | tuple):
                setattr(record, name, redact(value))
        if isinstance(record.msg, dict):
            record.msg = redact(record.msg)
        return True


def tracing_enabled() -> bool:
    """Tracing runs in Lambda (not under SAM local) unless POWERTOOLS_TRACE_DISABLED says otherwise,
    the same conditions as Powertools' Tracer."""
    in_lambda = bool(os.getenv("LAMBDA_TASK_ROOT")) and not os.getenv("AWS_SAM_LOCAL")
    return in_lambda and not resolve_truthy_env_var_choice(
        env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false")
    )


@cache
def get_tracer() -> Tracer | None:
    """The Tracer when tracing is on, else None.

    Built on first use, and patching only what the gateway calls: Powertools' default
    (``patch_all``) imports botocore and a dozen libraries' instrumentation on the first
    invocation (about 120 ms on the benchmark machine), even where no AWS client is ever built.
    - botocore is instrumented once boto3 is loaded (a keyed write's DynamoDB client, the SDK's
      secrets), or at once if it already is: every client the gateway builds comes through
      boto3, and by then botocore's modules are whole (its own post-import moment is too early
      for the X-Ray SDK, which reads ``botocore.client`` off the package);
    - httpx is not patched: the SDK's patch instruments ``httpx.Client``, which the gateway
      does not use (upstream/transport.py), and the upstream policy records each attempt at
      Talon.One as its own subsegment, without the path's customer ids.
    """
    if not tracing_enabled():
        return None
    tracer = Tracer(auto_patch=False)
    _trace_botocore_once_loaded()
    return tracer


def _trace_botocore_once_loaded() -> None:
    import wrapt  # the X-Ray SDK's own dependency, already loaded by the Tracer

    def patch(module: object) -> None:
        from aws_xray_sdk.core import patch as xray_patch  # type: ignore[import-untyped]

        xray_patch(("botocore",))

    wrapt.register_post_import_hook(patch, "boto3")


# Libraries whose debug (and for httpx, info) lines hold what the gateway never logs: botocore
# prints every request and answer (Secrets Manager's GetSecretValue included), Powertools prints
# route arguments (path values are customer ids) and records, httpx prints URLs with those ids.
# They are held at a floor whatever the switches (POWERTOOLS_DEBUG, ApplicationLogLevel=DEBUG).
QUIETED_LOGGERS = {
    "aws_lambda_powertools": logging.INFO,
    "botocore": logging.INFO,
    "boto3": logging.INFO,
    "s3transfer": logging.INFO,
    "urllib3": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "standardwebhooks": logging.INFO,
}


def quiet_third_party_loggers() -> None:
    for name, floor in QUIETED_LOGGERS.items():
        library = logging.getLogger(name)
        library.setLevel(max(library.getEffectiveLevel(), floor))
        for handler in library.handlers:  # POWERTOOLS_DEBUG's own handler prints at DEBUG
            handler.setLevel(max(handler.level, floor))


quiet_third_party_loggers()
logger = Logger(utc=True)
logger.addFilter(RedactingFilter())
metrics = Metrics()

__all__ = ["MetricUnit", "get_tracer", "logger", "metrics", "redact"]
