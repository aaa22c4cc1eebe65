"""Baseline (b), the naive reference: the same handler with the usual eager imports.

What a typical Powertools function does at import time: Logger, Metrics and Tracer created,
boto3 imported and its clients built, the idempotency persistence layer built, an httpx client
created, all models imported; then the same lambda_handler as the gateway's function.
"""

from __future__ import annotations

import os

import boto3
import httpx
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from talon_gateway.models import requests, responses

logger = Logger()
metrics = Metrics()
tracer = Tracer()
secrets_client = boto3.client("secretsmanager")
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
config = IdempotencyConfig(event_key_jmespath="key")
http = httpx.Client(base_url=os.environ["TALON_BASE_URL"])
provider = parameters.SecretsProvider()

from app import lambda_handler  # type: ignore[import-not-found]  # noqa: E402 - on the probe's sys.path

__all__ = ["lambda_handler", "requests", "responses"]
