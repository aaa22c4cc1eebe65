"""Reading template.yaml: the functions, their routes, handlers and environment.

The template is the single source of routes for the local gateway and the tests; nothing
here keeps a second route table.
"""

from __future__ import annotations

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


def resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """Resolve !Ref and !Sub against ``refs`` (parameters and resources by logical id)."""
    if isinstance(value, Tagged):
        if value.tag == "Ref":
            return refs[value.value]
        if value.tag == "Sub" and isinstance(value.value, str):
            text = value.value
            for name, replacement in refs.items():
                text = text.replace(f"${{{name}}}", replacement)
            return text
        raise ValueError(f"unsupported intrinsic !{value.tag} for local use")
    return value


def functions(document: Mapping[str, Any] | None = None) -> list[FunctionSpec]:
    """Every AWS::Serverless::Function with an Api event, in template order."""
    document = document or load()
    defaults = document.get("Globals", {}).get("Function", {})
    specs = []
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
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
