"""Creating template.yaml's secrets and tables in an AWS emulation (moto) for local runs and tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sqs.models import SQSBackend
from werkzeug.serving import make_server

from local_gateway.template import Tagged, load, parameter_defaults


def _receive_in_group_order(original: Any) -> Any:
    """moto's FIFO receive, fixed to keep a group's order after a visibility timeout.

    moto (5.2) releases timed-out messages from its in-flight set one at a time while it scans
    the queue, so a group's second message can be handed out while its first, timed out as
    well, is still counted in flight: the group's order breaks (seen: a2 before a1). Releasing
    every timed-out message before the scan restores SQS's rule: a group's messages come in
    order, and none while an earlier one is in flight.
    """

    def receive_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in list(queue.pending_messages):
            if message.visible:
                queue.pending_messages.remove(message)
        return original(self, queue_name, *args, **kwargs)

    return receive_message


if not getattr(SQSBackend.receive_message, "_group_order", False):
    SQSBackend.receive_message = _receive_in_group_order(SQSBackend.receive_message)  # type: ignore[method-assign]
    SQSBackend.receive_message._group_order = True  # type: ignore[attr-defined]


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


def create_queues(
    endpoint: str, region: str, names: Mapping[str, str], parameters: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Create the template's SQS queues listed in ``names`` (logical id → name, ``.fifo`` for a
    FIFO queue), with their attributes and redrive policies; their URLs by logical id."""
    sqs = client("sqs", endpoint, region)
    resources = {k: r for k, r in load()["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    # Dead-letter queues first: the others name them.
    for logical_id in sorted(names, key=lambda k: "RedrivePolicy" in resources[k]["Properties"]):
        props = resources[logical_id]["Properties"]
        attributes = {
            name: str(props[name]).lower() if isinstance(props[name], bool) else str(props[name])
            for name in (
                "FifoQueue",
                "ContentBasedDeduplication",
                "VisibilityTimeout",
                "MessageRetentionPeriod",
            )
            if name in props
        }
        redrive = props.get("RedrivePolicy")
        if redrive is not None:
            target = redrive["deadLetterTargetArn"]
            dead_letter = target.value.split(".")[0] if isinstance(target, Tagged) else str(target)
            receives = redrive["maxReceiveCount"]
            values = parameter_defaults() | dict(parameters or {})
            count = values[receives.value] if isinstance(receives, Tagged) else receives
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[dead_letter], "maxReceiveCount": int(count)}
            )
        urls[logical_id] = sqs.create_queue(QueueName=names[logical_id], Attributes=attributes)["QueueUrl"]
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=urls[logical_id], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    return urls


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
