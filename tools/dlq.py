"""`make dlq` and `make replay`: the dead-letter queue of asynchronous deliveries, read and replayed.

    python -m tools.dlq list   [--stack NAME | --local] [--bodies]
    python -m tools.dlq replay [--stack NAME | --local] [--yes]

``list`` prints one line per dead message: delivery id, operation, entity, attempts, Talon.One's
status and the last error (bodies only with ``--bodies``: they hold customers' data).

``replay`` sends them back to the delivery queue, each entity's messages in the order they
died (their sequence numbers), after setting each delivery record back to ``queued``; the
worker then delivers each once (a delivery already delivered, or erased meanwhile, is dropped).
AWS's own redrive (a message move task) is not used: it does not keep a FIFO queue's order
within a group, and it cannot reset the records the worker reads.

Targets: ``--stack`` reads the queues and the state table from a deployed stack's outputs
(CloudFormation); ``--local`` from the running `make run` (``.local/aws.json``); or give
``--queue-url``, ``--dead-letter-url`` and ``--state-table`` yourself.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCAL_STATE = ROOT / ".local" / "aws.json"
VISIBILITY = 300  # seconds a listed (or replayed) message stays out of sight while we work


@dataclass(frozen=True)
class Targets:
    queue_url: str
    dead_letter_url: str
    state_table: str
    endpoint: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Dead:
    message: dict[str, Any]
    delivery_id: str
    record: dict[str, Any]

    @property
    def group(self) -> str:
        return str(self.message["Attributes"]["MessageGroupId"])

    @property
    def sequence(self) -> int:
        return int(self.message["Attributes"].get("SequenceNumber", "0"))


def clients(targets: Targets) -> tuple[Any, Any]:
    import boto3

    session = boto3.session.Session(region_name=targets.region)
    return (
        session.client("sqs", endpoint_url=targets.endpoint),
        session.client("dynamodb", endpoint_url=targets.endpoint),
    )


def receive_dead(sqs: Any, dynamodb: Any, targets: Targets) -> list[Dead]:
    """Every message of the dead-letter queue (kept invisible meanwhile), with its record."""
    found: list[Dead] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=targets.dead_letter_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            delivery_id = json.loads(message["Body"]).get("deliveryId", "")
            item = dynamodb.get_item(
                TableName=targets.state_table,
                Key={"pk": {"S": f"delivery#{delivery_id}"}, "sk": {"S": "-"}},
                ConsistentRead=True,
            ).get("Item", {})
            found.append(Dead(message, delivery_id, item))


def release(sqs: Any, targets: Targets, dead: list[Dead]) -> None:
    """Make listed messages visible again (``list`` only looks)."""
    for entry in dead:
        sqs.change_message_visibility(
            QueueUrl=targets.dead_letter_url,
            ReceiptHandle=entry.message["ReceiptHandle"],
            VisibilityTimeout=0,
        )


def describe(entry: Dead, *, bodies: bool) -> str:
    record = entry.record
    operation = record.get("operation", {}).get("S") or entry.message.get("MessageAttributes", {}).get(
        "operation", {}
    ).get("StringValue", "?")
    path = {k: v["S"] for k, v in record.get("pathValues", {}).get("M", {}).items()}
    line = (
        f"{entry.delivery_id}  {operation}  entity {'/'.join(path.values()) or entry.group[:12]}  "
        f"attempts {record.get('attempts', {}).get('N', '?')}  "
        f"talonStatus {record.get('talonStatus', {}).get('N', '-')}  "
        f"lastError {record.get('lastError', {}).get('S', '-')}"
    )
    if not record:
        line += "  (record gone: erased or expired; replay drops it)"
    if bodies and "body" in record:
        line += f"\n    body {record['body']['S']}"
    return line


def replay(sqs: Any, dynamodb: Any, targets: Targets, dead: list[Dead]) -> int:
    """Re-queue dead messages, each entity's in order; the number re-queued."""
    by_group: dict[str, list[Dead]] = defaultdict(list)
    for entry in dead:
        by_group[entry.group].append(entry)
    replayed = 0
    for group, entries in by_group.items():
        for entry in sorted(entries, key=lambda e: e.sequence):
            if entry.record:
                # Delivered or erased meanwhile: the worker will drop the message.
                with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
                    dynamodb.update_item(
                        TableName=targets.state_table,
                        Key={"pk": {"S": f"delivery#{entry.delivery_id}"}, "sk": {"S": "-"}},
                        # A replay is a fresh start: its attempts count from one again.
                        UpdateExpression="SET #state = :queued, attempts = :none",
                        # dead (the worker's move), or failed (moved by the queue's redrive)
                        ConditionExpression="attribute_exists(pk) AND #state IN (:dead, :failed, :queued)",
                        ExpressionAttributeNames={"#state": "state"},
                        ExpressionAttributeValues={
                            ":queued": {"S": "queued"},
                            ":dead": {"S": "dead"},
                            ":failed": {"S": "failed"},
                            ":none": {"N": "0"},
                        },
                    )
            attributes = entry.message["Attributes"]
            replay_id = hashlib.sha256(f"replay#{attributes['MessageDeduplicationId']}".encode()).hexdigest()
            sqs.send_message(
                QueueUrl=targets.queue_url,
                MessageBody=entry.message["Body"],
                MessageGroupId=group,
                MessageDeduplicationId=replay_id,
                MessageAttributes={
                    name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
                    for name, value in entry.message.get("MessageAttributes", {}).items()
                    if "StringValue" in value
                },
            )
            sqs.delete_message(QueueUrl=targets.dead_letter_url, ReceiptHandle=entry.message["ReceiptHandle"])
            replayed += 1
    return replayed


def resolve(args: argparse.Namespace) -> Targets:
    if args.local:
        state = json.loads(LOCAL_STATE.read_text())
        return Targets(
            state["DeliveryQueue"],
            state["DeadLetterQueue"],
            state["StateTable"],
            state["endpoint"],
            state["region"],
        )
    if args.stack:
        import boto3

        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        return Targets(outputs["DeliveryQueueUrl"], outputs["DeadLetterQueueUrl"], outputs["StateTableName"])
    if not (args.queue_url and args.dead_letter_url and args.state_table):
        raise SystemExit(
            "name the targets: --stack NAME, --local, or --queue-url, --dead-letter-url, --state-table"
        )
    return Targets(args.queue_url, args.dead_letter_url, args.state_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--stack", help="a deployed stack's name (its outputs name the queues)")
    parser.add_argument("--local", action="store_true", help="the running `make run`")
    parser.add_argument("--queue-url")
    parser.add_argument("--dead-letter-url")
    parser.add_argument("--state-table")
    parser.add_argument("--bodies", action="store_true", help="list: print the requests' bodies too")
    parser.add_argument("--yes", action="store_true", help="replay: do not ask")
    args = parser.parse_args(argv)
    targets = resolve(args)
    sqs, dynamodb = clients(targets)
    dead = receive_dead(sqs, dynamodb, targets)
    for entry in dead:
        print(describe(entry, bodies=args.bodies))
    print(f"{len(dead)} dead message(s)")
    if args.command == "list" or not dead:
        release(sqs, targets, dead)
        return 0
    if not args.yes and input(f"Replay {len(dead)} message(s)? [y/N] ").strip().lower() != "y":
        release(sqs, targets, dead)
        return 1
    print(f"replayed {replay(sqs, dynamodb, targets, dead)} message(s), each entity's in order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
