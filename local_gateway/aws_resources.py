"""Creating template.yaml's secrets and tables in an AWS emulation (moto) for local runs and tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_gateway.template import load


class SerialMotoServer(ThreadedMotoServer):
    """moto in server mode on loopback, answering one request at a time.

    moto's backends are not thread-safe: with concurrent requests two DynamoDB conditional
    writes can both succeed, which DynamoDB never allows (seen as a double delivery in the
    idempotency test). Serving requests one by one restores the atomicity the gateway relies on.
    """

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, self._port, app, threaded=False, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def client(service: str, endpoint: str, region: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )


def create_tables(endpoint: str, region: str, names: Mapping[str, str]) -> None:
    """Create the template's DynamoDB tables listed in ``names`` (logical id → name), key schema and TTL."""
    dynamodb = client("dynamodb", endpoint, region)
    for logical_id, resource in load()["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table" or logical_id not in names:
            continue
        props = resource["Properties"]
        try:
            dynamodb.create_table(
                TableName=names[logical_id],
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )
        except dynamodb.exceptions.ResourceInUseException:
            continue
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=names[logical_id], TimeToLiveSpecification=ttl)


def create_buckets(endpoint: str, region: str, names: Mapping[str, str]) -> None:
    """Create the template's S3 buckets listed in ``names`` (logical id → name)."""
    s3 = client("s3", endpoint, region)
    declared = {k for k, r in load()["Resources"].items() if r["Type"] == "AWS::S3::Bucket"}
    for logical_id, name in names.items():
        if logical_id not in declared:
            raise KeyError(f"{logical_id} is not a bucket of template.yaml")
        try:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            continue


def put_secrets(endpoint: str, region: str, values: Mapping[str, tuple[str, Mapping[str, Any]]]) -> None:
    """Put the template's secrets listed in ``values``: logical id → (name, JSON value)."""
    secrets = client("secretsmanager", endpoint, region)
    declared = {k for k, r in load()["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"}
    for logical_id, (name, value) in values.items():
        if logical_id not in declared:
            raise KeyError(f"{logical_id} is not a secret of template.yaml")
        try:
            secrets.create_secret(Name=name, SecretString=json.dumps(value))
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps(value))
