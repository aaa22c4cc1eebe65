"""Lambda SnapStart: prime the environment before the snapshot, renew what must differ after.

With SnapStart, Lambda snapshots an environment after initialisation and restores copies of
it. Whatever initialisation leaves undone, every restored copy does again on its first
request, so before the snapshot (``before_snapshot``) the gateway does what its first
requests would: it loads every module the request paths load lazily (keyed writes,
asynchronous accepts, the worker), builds the Tracer, the TLS context, the connection pool,
the AWS clients its configuration names (DynamoDB, SQS, the SDK's Secrets Manager
fallback), and runs each route of the function's resolver once, in-process, on a request
its validation refuses: the resolver builds the route's dependant and compiles its
validators on first use. Nothing leaves the process: no request reaches Talon.One or AWS,
no secret is read, no metric or log line is emitted.

After a restore (``after_restore``) every copy keeps those clients and renews only what must
differ between copies: the cached secret values (they may have been rotated since the
snapshot), the connection pool (a socket belongs to one environment), the AWS clients'
idle connections, Python's random generator and OpenSSL's (jitter and TLS randomness must
not repeat across copies).
"""

from __future__ import annotations

import importlib
import os
import random
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from talon_gateway import secrets
from talon_gateway.observability import get_tracer, logger, metrics
from talon_gateway.upstream import transport

# Loaded before the snapshot: what keyed writes (idempotency: boto3, Powertools idempotency),
# asynchronous accepts and reads, erasure and the worker load on first use.
PRELOAD = (
    "talon_gateway.delivery.idempotency",
    "talon_gateway.delivery.queue",
    "talon_gateway.delivery.deliveries",
    "talon_gateway.delivery.erasure",
)
# What a route is primed with: a body every request model refuses (they are all objects).
_REFUSED_BODY = "[]"

# The AWS clients built before the snapshot, kept after a restore (their idle connections closed).
_clients: list[Any] = []


def _step(name: str, action: Callable[[], object]) -> None:
    """One priming step: a failure is logged and skipped, never fails the snapshot (the
    request that needs it builds it as without SnapStart)."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - priming is an optimisation
        logger.warning("snapstart priming step failed", extra={"step": name, "error": type(exc).__name__})


class _EmptyBody:
    @staticmethod
    def stream(**kwargs: object) -> Iterator[bytes]:
        yield b"{}"


def _answer_in_process(request: Any, **kwargs: object) -> Any:
    """A botocore ``before-send`` handler: every priming call is answered here, never sent."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse(request.url, 200, {"x-amzn-RequestId": "snapstart-priming"}, _EmptyBody())


def _prime_operations(client: Any, calls: dict[str, dict[str, Any]]) -> None:
    """Each operation called once, answered in-process: botocore loads its model and builds its
    serialiser, validator, signer and endpoint on an operation's first call."""
    event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register_first(event, _answer_in_process, unique_id="snapstart-priming")
    try:
        for operation, parameters in calls.items():
            getattr(client, operation)(**parameters)
    finally:
        client.meta.events.unregister(event, unique_id="snapstart-priming")


def _dynamodb_calls(table: str, key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = {":v": {"S": "snapstart-priming"}}
    return {
        "get_item": {"TableName": table, "Key": key, "ConsistentRead": True},
        "put_item": {"TableName": table, "Item": key, "ConditionExpression": "attribute_not_exists(#k)"}
        | {"ExpressionAttributeNames": {"#k": next(iter(key))}},
        "update_item": {"TableName": table, "Key": key, "UpdateExpression": "SET #s = :v"}
        | {"ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": values},
        "delete_item": {"TableName": table, "Key": key},
        "batch_write_item": {"RequestItems": {table: [{"PutRequest": {"Item": key}}]}},
        "query": {"TableName": table, "KeyConditionExpression": f"{next(iter(key))} = :v"}
        | {"ExpressionAttributeValues": values},
    }


def _build_clients() -> None:
    """The AWS clients the configuration names, and their operations' first calls."""
    from talon_gateway.config import get_settings
    from talon_gateway.delivery import aws, idempotency

    settings = get_settings()
    priming = {"S": "snapstart-priming"}
    if settings.state_table:
        dynamodb = aws.client("dynamodb")
        _clients.append(dynamodb)
        _prime_operations(dynamodb, _dynamodb_calls(settings.state_table, {"pk": priming, "sk": priming}))
    if settings.idempotency_table:
        idempotency.get_config()
        persistence: Any = idempotency.get_persistence()
        client = getattr(persistence, "client", None)
        if client is not None:
            if client not in _clients:  # the shared client is listed (and renewed) once
                _clients.append(client)
            # Its table's calls all the same: botocore resolves endpoints per table
            _prime_operations(client, _dynamodb_calls(settings.idempotency_table, {"id": priming}))
    if settings.delivery_queue_url:
        sqs = aws.client("sqs")
        _clients.append(sqs)
        _prime_operations(
            sqs,
            {
                "send_message": {
                    "QueueUrl": settings.delivery_queue_url,
                    "MessageBody": "{}",
                    "MessageGroupId": "snapstart-priming",
                    "MessageDeduplicationId": "snapstart-priming",
                },
                "change_message_visibility": {
                    "QueueUrl": settings.delivery_queue_url,
                    "ReceiptHandle": "snapstart-priming",
                    "VisibilityTimeout": 0,
                },
            },
        )
    if settings.gateway_bucket:
        _clients.append(aws.client("s3"))


def _resolvers() -> Iterator[Any]:
    """The resolvers of the function's handler module (``_HANDLER``: ``app.lambda_handler``)."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    module = sys.modules.get(os.environ.get("_HANDLER", "app.lambda_handler").rsplit(".", 1)[0])
    for value in vars(module).values() if module is not None else ():
        if isinstance(value, ApiGatewayResolver):
            yield value


def _priming_event(method: str, path: str, parameters: dict[str, str]) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {"requestId": "snapstart-priming", "stage": "prime", "httpMethod": method},
        "body": _REFUSED_BODY,
        "isBase64Encoded": False,
    }


@contextmanager
def _quiet() -> Iterator[None]:
    """Nothing the priming requests produce reaches the logs or the metrics."""
    level = logger.log_level
    logger.setLevel("CRITICAL")
    try:
        yield
    finally:
        logger.setLevel(level)
        metrics.clear_metrics()


class _Context:
    """Enough of a LambdaContext for the resolver (priming runs outside any invocation)."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "gateway")
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:::function:snapstart-priming"
    aws_request_id = "snapstart-priming"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def _prime_routes() -> None:
    """Each route's dependant built, and for routes with a body its validation compiled by one
    request through the resolver that the validation refuses (400: the route never runs)."""
    import re

    for resolver in _resolvers():
        routes = [*getattr(resolver, "_static_routes", ()), *getattr(resolver, "_dynamic_routes", ())]
        for route in routes:
            dependant = route.dependant
            if not dependant.body_params:
                continue  # the route would run: its path and query validators are built above
            names = re.findall(r"<(\w+)>", route.path)
            path = re.sub(r"<(\w+)>", "prime", route.path)
            with _quiet():
                resolver.resolve(
                    _priming_event(route.method, path, dict.fromkeys(names, "prime")), _Context()
                )


def before_snapshot() -> None:
    for module in PRELOAD:
        _step(module, partial(importlib.import_module, module))
    _step("tls", transport.ssl_context)
    _step("pool", transport.get_pool)
    # Before the Tracer: once it exists botocore is instrumented, and a call outside any
    # invocation would log the X-Ray SDK's missing-context error.
    _step("aws clients", _build_clients)
    _step("secrets sdk", secrets.prepare_sdk)
    _step("tracer", get_tracer)
    _step("routes", _prime_routes)


def after_restore() -> None:
    transport.reset_client()
    secrets.forget_values()
    for client in _clients:
        client.close()  # idle connections only; the client stays
    random.seed()
    # OpenSSL's generator is process-wide state the snapshot copied: fresh entropy for it too.
    ssl.RAND_add(os.urandom(48), 48.0)
    logger.info("restored from a SnapStart snapshot: secrets, connections and randomness renewed")


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
