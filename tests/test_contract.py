"""template.yaml, functions/, events/, the OpenAPI document and the operations table agree route by route.

All of them are generated from one catalog (tools/generate.py): these tests fail when one of
them drifts, whether by hand or because the generator was not run after a change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_gateway.functions import load_module
from local_gateway.template import (
    GATEWAY_RESPONSE_STATUS,
    ROOT,
    FunctionSpec,
    Tagged,
    functions,
    gateway_responses,
    load,
)
from talon_gateway.api.routes import GET_DELIVERY, SHOPIFY_WEBHOOK
from talon_gateway.operation import Operation
from talon_gateway.operations import OPERATIONS
from tests.conftest import load_event

SPECS = functions()
# functions/<dir>/ → its template function (API routes)
BY_OPERATION: dict[str, FunctionSpec] = {spec.code_uri.name: spec for spec in SPECS}
# The gateway's own functions, beside the operations': hand-written, not generated
GATEWAY_ROUTES = {"get_delivery": GET_DELIVERY, "shopify_webhook": SHOPIFY_WEBHOOK}
# Functions without a route of the default stack: the queue's worker, and Swagger UI's (only
# with EnableDocs=true; tests/test_docs_function.py)
OTHER_FUNCTIONS = {"delivery_worker", "docs"}


def spec_for(operation: Operation) -> FunctionSpec:
    return BY_OPERATION[operation.function_dir]


def test_every_operation_has_exactly_one_function_and_nothing_else_does() -> None:
    # Given today's 39 Integration API operations, the 2020 document's 4 that today's API dropped,
    # and the template's functions
    assert len(OPERATIONS) == 43
    assert sum(op.legacy for op in OPERATIONS) == 4
    # Then each operation has one function folder, and each function serves one operation
    assert sorted(op.function_dir for op in OPERATIONS) == sorted(BY_OPERATION.keys() - GATEWAY_ROUTES.keys())
    assert len(SPECS) == len(OPERATIONS) + len(GATEWAY_ROUTES)
    folders = {p.name for p in (ROOT / "functions").iterdir() if p.is_dir()}
    assert folders == BY_OPERATION.keys() | OTHER_FUNCTIONS


def test_the_operations_are_todays_and_the_legacy_ones() -> None:
    current = json.loads((ROOT / "spec" / "current" / "integration-api.openapi.json").read_text())
    legacy = json.loads((ROOT / "spec" / "talon-integration-api.openapi.json").read_text())

    def routes(document: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {
            (method.upper(), path, item["operationId"])
            for path, methods in document["paths"].items()
            for method, item in methods.items()
        }

    served = {(op.method, op.path, op.name) for op in OPERATIONS}
    assert routes(current) <= served
    assert served - routes(current) == {(op.method, op.path, op.name) for op in OPERATIONS if op.legacy}
    assert {(op.method, op.path, op.name) for op in OPERATIONS if op.legacy} <= routes(legacy)


@pytest.mark.parametrize("operation", [*OPERATIONS, *GATEWAY_ROUTES.values()], ids=lambda op: op.name)
def test_route_is_the_same_everywhere(operation: Operation) -> None:
    spec = spec_for(operation)
    # template.yaml: same method and path as Talon.One, handler in its own folder
    assert (spec.method, spec.path) == (operation.method, operation.path)
    assert spec.code_uri == ROOT / "functions" / operation.function_dir
    assert spec.handler == "app.lambda_handler"
    # functions/<op>/app.py: one route, the same, with Talon.One's operationId
    document = load_module(spec.code_uri).app.get_openapi_schema()
    routes = [
        (path, method.upper(), getattr(item, "operationId", None))
        for path, path_item in document.paths.items()
        for method in ("get", "put", "post", "delete")
        if (item := getattr(path_item, method, None)) is not None
    ]
    assert routes == [(operation.path, operation.method, operation.name)]
    # events/<op>.json: an API Gateway event for that route, with its path parameters
    event = load_event(operation.function_dir)
    assert (event["httpMethod"], event["resource"]) == (operation.method, operation.path)
    assert sorted(event["pathParameters"] or {}) == sorted(operation.path_params)
    assert event["requestContext"]["resourcePath"] == operation.path


def test_openapi_document_lists_exactly_the_template_routes() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    documented = {
        (method.upper(), path, item["operationId"])
        for path, methods in document["paths"].items()
        for method, item in methods.items()
    }
    assert documented == {(op.method, op.path, op.name) for op in [*OPERATIONS, *GATEWAY_ROUTES.values()]}


def test_legacy_routes_are_marked_deprecated() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    deprecated = {
        item["operationId"]
        for methods in document["paths"].values()
        for item in methods.values()
        if item.get("deprecated")
    }
    assert deprecated == {op.name for op in OPERATIONS if op.legacy}


def test_generated_files_are_current() -> None:
    # Given the catalog (the two OpenAPI documents and tools/catalog.py)
    from tools.generate import render, stale

    # Then the operation table, the models, the functions, the events and template.yaml's
    # resources are what it generates (run make generate)...
    assert [str(p.relative_to(ROOT)) for p in stale(render())] == []
    # ...and so is the OpenAPI document, read off the routes in a fresh interpreter (the routes
    # document their answers' models only there)
    check = subprocess.run(
        [sys.executable, "-m", "tools.openapi", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def _resource_name(resource: object) -> str:
    """The logical id a policy statement's resource points at (``!GetAtt T.Arn``, ``!Sub ${B.Arn}/x/*``,
    ``!Ref Parameter``)."""
    assert isinstance(resource, Tagged), resource
    if resource.tag == "GetAtt":
        return str(resource.value).split(".")[0]
    if resource.tag == "Ref":
        return str(resource.value)
    assert resource.tag == "Sub"
    return str(resource.value).removeprefix("${").replace(".Arn}", "")


def _policy_targets(spec: FunctionSpec) -> tuple[set[str], set[tuple[str, str]], set[tuple[str, str, str]]]:
    """(secrets readable, (action, resource) pairs allowed, (condition, action, resource) allowed
    when a template condition holds) by a function's policies."""
    secrets: set[str] = set()
    grants: set[tuple[str, str]] = set()
    conditional: set[tuple[str, str, str]] = set()
    for policy in spec.policies:
        if isinstance(policy, Tagged) and policy.tag == "If":
            condition, when_true, when_false = policy.value
            assert when_false == Tagged("Ref", "AWS::NoValue")
            for statement in when_true["Statement"]:
                actions = statement["Action"]
                for action in actions if isinstance(actions, list) else [actions]:
                    conditional.add((condition, action, _resource_name(statement["Resource"])))
            continue
        if "AWSSecretsManagerGetSecretValuePolicy" in policy:
            arn = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
            assert isinstance(arn, Tagged)
            secrets.add(arn.value)
        for statement in policy.get("Statement", []):
            grants.update((action, _resource_name(statement["Resource"])) for action in statement["Action"])
    return secrets, grants, conditional


IDEMPOTENCY = {
    (action, "IdempotencyTable")
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
}
# Writes index what they store for erasure, keep oversized answers in the bucket's answers/,
# and record and queue asynchronous deliveries.
WRITE = IDEMPOTENCY | {
    ("dynamodb:BatchWriteItem", "StateTable"),
    ("dynamodb:PutItem", "StateTable"),
    ("dynamodb:DeleteItem", "StateTable"),
    ("s3:PutObject", "GatewayBucket/answers/*"),
    ("s3:GetObject", "GatewayBucket/answers/*"),
    ("sqs:SendMessage", "DeliveryQueue"),
}
# Reads may only claim webhook ids (a signature presented to a read is claimed, then refused).
CLAIM = {("dynamodb:UpdateItem", "IdempotencyTable")}
# Erasure also reads the index and deletes what it points at.
ERASE = IDEMPOTENCY | {
    ("dynamodb:Query", "StateTable"),
    ("dynamodb:BatchWriteItem", "StateTable"),
    ("dynamodb:PutItem", "StateTable"),
    ("dynamodb:DeleteItem", "StateTable"),
    ("sqs:SendMessage", "DeliveryQueue"),
    ("s3:PutObject", "GatewayBucket/*"),
    ("s3:GetObject", "GatewayBucket/*"),
    ("s3:DeleteObject", "GatewayBucket/*"),
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_policies_are_least_privilege(operation: Operation) -> None:
    secrets, grants, conditional = _policy_targets(spec_for(operation))
    # Every function reads the Talon.One credentials and the inbound secrets, nothing else
    assert secrets == {"TalonSecret", "InboundSecret"}
    # Reads touch no table; writes the idempotency table with the four item actions Powertools
    # uses, the erasure index and the overflow of large answers; erasure what it erases
    expected = ERASE if operation.erases else WRITE if operation.is_write else CLAIM
    assert grants == expected
    # and, when the stack is given customer-managed keys, may use those keys and no other
    assert conditional == {
        ("HasSecretsKey", "kms:Decrypt", "SecretsKmsKeyArn"),
        ("HasTableKey", "kms:Decrypt", "TableKmsKeyArn"),
        ("HasTableKey", "kms:GenerateDataKey", "TableKmsKeyArn"),
    }


def test_the_shopify_function_may_only_verify_deduplicate_and_queue() -> None:
    secrets, grants, conditional = _policy_targets(BY_OPERATION["shopify_webhook"])
    # The client secrets (inbound) and the shop → application map (Talon.One); it never calls
    # Talon.One, never reads the erasure index, never touches the bucket
    assert secrets == {"TalonSecret", "InboundSecret"}
    assert grants == IDEMPOTENCY | {
        ("dynamodb:BatchWriteItem", "StateTable"),
        ("dynamodb:PutItem", "StateTable"),
        ("dynamodb:DeleteItem", "StateTable"),
        ("sqs:SendMessage", "DeliveryQueue"),
    }
    assert {action for _, action, _ in conditional} == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_environment_contract_names() -> None:
    # The variable names are part of the deployment contract (README, samconfig)
    variables: dict[str, Any] = load()["Globals"]["Function"]["Environment"]["Variables"]
    assert {"TALON_BASE_URL", "TALON_SECRET_ID", "INBOUND_SECRET_ID", "IDEMPOTENCY_TABLE"} <= set(variables)
    readme = (ROOT / "README.md").read_text()
    for name in variables:
        assert f"`{name}`" in readme, f"{name} is not documented in README.md"


def test_every_template_parameter_is_in_the_readmes_deployment_list() -> None:
    # The Deployment section lists them all (each with more detail where it is explained)
    readme = (ROOT / "README.md").read_text()
    deployment = readme[readme.index("\n## Deployment\n") :]
    deployment = deployment[: deployment.index("\n## ", 1)]
    listed = deployment[deployment.index("Template parameters:") :]
    missing = [name for name in load()["Parameters"] if f"`{name}`" not in listed]
    assert missing == [], f"template parameters missing from README.md's Deployment list: {missing}"


def test_every_gateway_response_says_the_status_it_answers_with() -> None:
    # Every type API Gateway documents is customised, each body's StatusCode is the HTTP status
    # API Gateway sends (the template's, else the type's default: a body cannot name that)
    responses = gateway_responses()
    assert set(responses) == set(GATEWAY_RESPONSE_STATUS)
    for kind, response in responses.items():
        body = json.loads(response.render("a message", "request-1"))
        assert body["StatusCode"] == response.status, kind
        assert set(body) == {"message", "errors", "StatusCode"}, kind


def test_a_message_skipped_behind_others_is_never_redriven_unattempted() -> None:
    # SQS counts every receive, attempts and skips behind a failing message of the group alike:
    # the redrive must lie above the most receives the worker's own limit allows (a batch of
    # BatchSize, each of the others failing MaxReceiveCount times before it)
    template = load()
    queue = template["Resources"]["DeliveryQueue"]["Properties"]
    worker = template["Resources"]["DeliveryWorkerFunction"]["Properties"]
    (batch,) = [e["Properties"]["BatchSize"] for e in worker["Events"].values() if e["Type"] == "SQS"]
    most = batch * int(template["Parameters"]["MaxReceiveCount"]["MaxValue"])
    assert queue["RedrivePolicy"]["maxReceiveCount"] > most


def test_every_event_file_is_used() -> None:
    # Each events/ file belongs to a function (valid events) or to tests/test_validation.py (invalid ones)
    names = {p.stem for p in (ROOT / "events").glob("*.json")} - {"env"}
    assert names == BY_OPERATION.keys() | OTHER_FUNCTIONS
    invalid = {p.stem for p in (ROOT / "events" / "invalid").glob("*.json")}
    validation_tests = Path(__file__).with_name("test_validation.py").read_text()
    for name in invalid:
        assert f'"{name}"' in validation_tests, f"events/invalid/{name}.json is not used by a test"
        assert name.split(".", 1)[0] in BY_OPERATION


def test_the_docs_function_exists_only_with_enable_docs_and_may_only_log() -> None:
    template = load()
    # Given EnableDocs: a choice between "true" and "false", off by default
    parameter = template["Parameters"]["EnableDocs"]
    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]
    assert template["Conditions"]["DocsEnabled"] == Tagged("Equals", [Tagged("Ref", "EnableDocs"), "true"])
    # Then DocsFunction, and what names it, are created under that condition only
    function = template["Resources"]["DocsFunction"]
    assert function["Condition"] == "DocsEnabled"
    assert template["Outputs"]["DocsUrl"]["Condition"] == "DocsEnabled"
    others = {name: r for name, r in template["Resources"].items() if name != "DocsFunction"}
    assert "DocsFunction" not in repr(others) + repr(template["Outputs"])  # nothing else refers to it
    # And the default stack has no /docs route (API Gateway's 404), the enabled one two GETs
    assert not [spec for spec in SPECS if spec.path.startswith("/docs")]
    disabled = functions(parameters={"EnableDocs": "false"})
    assert not [spec for spec in disabled if spec.logical_id == "DocsFunction"]
    enabled = [s for s in functions(parameters={"EnableDocs": "true"}) if s.logical_id == "DocsFunction"]
    assert [(spec.method, spec.path) for spec in enabled] == [("GET", "/docs"), ("GET", "/docs/{proxy+}")]
    assert {spec.code_uri for spec in enabled} == {ROOT / "functions" / "docs"}
    assert all(spec.handler == "app.lambda_handler" for spec in enabled)
    events = function["Properties"]["Events"].values()
    assert all(event["Properties"]["RestApiId"] == Tagged("Ref", "Api") for event in events)
    # And the page is reachable without a token: the API has no authorizer, no resource policy
    # (each function authenticates its caller), and the docs' events ask for none
    api = template["Resources"]["Api"]["Properties"]
    assert "Auth" not in api
    assert "Policy" not in api
    assert not any("Auth" in event["Properties"] for event in events)
    # And it may only log: no policy (SAM's role then has AWSLambdaBasicExecutionRole alone), no
    # X-Ray writes (tracing off), no role of its own
    properties = function["Properties"]
    assert properties["Policies"] == []
    assert "Role" not in properties
    assert properties["Tracing"] == "Disabled"
    secrets, grants, conditional = _policy_targets(enabled[0])
    assert (secrets, grants, conditional) == (set(), set(), set())
    # And the README documents the parameter and the output
    readme = (ROOT / "README.md").read_text()
    assert "`EnableDocs`" in readme
    assert "`DocsUrl`" in readme
