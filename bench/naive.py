"""Baseline (b), the naive reference: the same handler with the usual eager imports.

What a competent developer writing a Powertools function does at import time: Logger,
Metrics and a Tracer with its default patching (every library the X-Ray SDK knows), boto3
imported, each client the measured call uses built once (the idempotency persistence layer
and its DynamoDB client), the connection pool and its TLS context built, every module loaded;
then the same lambda_handler as the gateway's function, using those clients. The state
table's and SQS's clients, which only signed and asynchronous requests use, are left for
first use, as the gateway does.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Tracer

from talon_gateway.delivery import aws, claims, deliveries, erasure, idempotency, queue
from talon_gateway.models import requests
from talon_gateway.upstream import transport

tracer = Tracer()
persistence = idempotency.get_persistence()
pool = transport.get_pool()

from app import lambda_handler  # type: ignore[import-not-found]  # noqa: E402 - on the probe's sys.path

__all__ = [
    "aws",
    "boto3",
    "claims",
    "deliveries",
    "erasure",
    "lambda_handler",
    "queue",
    "requests",
    "tracer",
]
