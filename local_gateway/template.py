"""Reading template.yaml: the functions, their routes, handlers and environment.

The template is the single source of routes for the local gateway and the tests; nothing
here keeps a second route table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Tagged:
    """A CloudFormation intrinsic function (!Ref, !Sub, !GetAtt, ...) kept as data."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        return Tagged(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(suffix, loader.construct_sequence(node, deep=True))
    return Tagged(suffix, loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _construct_tagged)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    method: str
    path: str  # API Gateway resource path, e.g. /v1/customer_sessions/{customerSessionId}
    environment: dict[str, Any]
    policies: list[Any]
    timeout: int


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as stream:
        document: dict[str, Any] = yaml.load(stream, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return document


NO_VALUE = object()  # AWS::NoValue: the property is left out


def resolve(value: Any, refs: Mapping[str, str], conditions: Mapping[str, Any] | None = None) -> Any:
    """Resolve !Ref, !Sub and !If (with the template's Conditions) against ``refs``.

    ``refs`` maps parameters and resources (by logical id) to local values.
    """
    conditions = conditions or {}
    if not isinstance(value, Tagged):
        return value
    if value.tag == "Ref":
        return NO_VALUE if value.value == "AWS::NoValue" else refs[value.value]
    if value.tag == "Sub" and isinstance(value.value, str):
        text = value.value
        for name, replacement in refs.items():
            text = text.replace(f"${{{name}}}", replacement)
        return text
    if value.tag == "If":
        name, when_true, when_false = value.value
        return resolve(
            when_true if _holds(conditions[name], refs, conditions) else when_false, refs, conditions
        )
    raise ValueError(f"unsupported intrinsic !{value.tag} for local use")


def _holds(condition: Any, refs: Mapping[str, str], conditions: Mapping[str, Any]) -> bool:
    if not isinstance(condition, Tagged):
        raise ValueError(f"unsupported condition {condition!r}")
    match condition.tag:
        case "Equals":
            left, right = (resolve(v, refs, conditions) for v in condition.value)
            return bool(str(left) == str(right))
        case "Not":
            return not _holds(condition.value[0], refs, conditions)
        case "And":
            return all(_holds(c, refs, conditions) for c in condition.value)
        case "Or":
            return any(_holds(c, refs, conditions) for c in condition.value)
        case "Condition":
            return _holds(conditions[condition.value], refs, conditions)
    raise ValueError(f"unsupported condition !{condition.tag}")


def functions(
    document: Mapping[str, Any] | None = None, parameters: Mapping[str, str] | None = None
) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with an Api event, in template order: those the stack
    creates with its parameters' defaults, overridden by ``parameters`` (a function with a
    Condition, such as DocsFunction under EnableDocs, only when it holds)."""
    document = document or load()
    defaults = document.get("Globals", {}).get("Function", {})
    refs = parameter_defaults(document) | dict(parameters or {})
    conditions = document.get("Conditions", {})
    specs = []
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if "Condition" in resource and not _holds(conditions[resource["Condition"]], refs, conditions):
            continue
        props = resource["Properties"]
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        for event in props.get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_uri=ROOT / props["CodeUri"],
                    handler=props.get("Handler", defaults.get("Handler")),
                    method=event["Properties"]["Method"].upper(),
                    path=event["Properties"]["Path"],
                    environment=environment,
                    policies=props.get("Policies", []),
                    timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                )
            )
    return specs


def parameter_defaults(document: Mapping[str, Any] | None = None) -> dict[str, str]:
    document = document or load()
    return {
        name: str(spec["Default"])
        for name, spec in document.get("Parameters", {}).items()
        if "Default" in spec
    }


# API Gateway's gateway response types and the status each answers with unless the template
# sets one (the developer guide's "Gateway response types"); the defaults have none of their own.
GATEWAY_RESPONSE_STATUS: dict[str, int | None] = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}


@dataclass(frozen=True)
class GatewayResponse:
    """One of API Gateway's own answers, as template.yaml customises it (GatewayResponses)."""

    status: int
    template: str  # application/json mapping template ($context variables)

    def render(self, message: str, request_id: str) -> bytes:
        body = self.template.replace("$context.error.messageString", json.dumps(message))
        return body.replace("$context.requestId", request_id).encode()


def gateway_responses(document: Mapping[str, Any] | None = None) -> dict[str, GatewayResponse]:
    """The API's gateway responses by type (MISSING_AUTHENTICATION_TOKEN, REQUEST_TOO_LARGE...)."""
    document = document or load()
    api = next(r for r in document["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    found = {}
    for kind, response in api["Properties"].get("GatewayResponses", {}).items():
        body = response["ResponseTemplates"]["application/json"]
        # As API Gateway answers: the template's status, else the type's own
        status = response.get("StatusCode") or GATEWAY_RESPONSE_STATUS.get(kind)
        if status is None:  # a DEFAULT_*: what its body says (the local server's fallback)
            status = json.loads(body.replace("$context.error.messageString", '""'))["StatusCode"]
        found[kind] = GatewayResponse(int(status), body)
    return found


@dataclass(frozen=True)
class QueueConsumer:
    """A function fed by an SQS event source (its template's Events of Type SQS)."""

    spec: FunctionSpec
    queue: str  # logical id of the queue
    batch_size: int
    maximum_concurrency: int


def queue_consumers(document: Mapping[str, Any] | None = None) -> list[QueueConsumer]:
    document = document or load()
    defaults = document.get("Globals", {}).get("Function", {})
    parameters = parameter_defaults(document)
    found = []
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        for event in props.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            source = event["Properties"]
            concurrency = source.get("ScalingConfig", {}).get("MaximumConcurrency", 2)
            if isinstance(concurrency, Tagged):
                concurrency = parameters[concurrency.value]
            spec = FunctionSpec(
                logical_id=logical_id,
                code_uri=ROOT / props["CodeUri"],
                handler=props.get("Handler", defaults.get("Handler")),
                method="",
                path="",
                environment={},
                policies=props.get("Policies", []),
                timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            )
            found.append(
                QueueConsumer(
                    spec,
                    source["Queue"].value.split(".")[0],
                    int(source.get("BatchSize", 10)),
                    int(concurrency),
                )
            )
    return found
