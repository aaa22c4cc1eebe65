"""The upstream contract loaded from the repo's OpenAPI document: operations, routes and validators.

Routes, accepted auth schemes, success statuses and request/response schemas all come from
``spec/talon-integration-api.openapi.json``, so the sandbox cannot drift from the contract the
gateway's models are generated from.
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sandbox.errors import ApiError, FieldError, bad_request, not_found

ENV_SPEC = "TALON_SANDBOX_SPEC"
DEFAULT_SPEC = Path(__file__).resolve().parent.parent / "spec" / "talon-integration-api.openapi.json"
SPEC_URI = "urn:talon-one:integration-api"

# Not part of the OpenAPI document: Talon.One's error body, used to check the sandbox's errors.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message", "errors", "StatusCode"],
    "properties": {
        "message": {"type": "string"},
        "StatusCode": {"type": "integer"},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["title", "details", "source"],
                "properties": {
                    "title": {"type": "string"},
                    "details": {"type": "string"},
                    "source": {
                        "type": "object",
                        "required": ["pointer"],
                        "properties": {"pointer": {"type": "string"}},
                    },
                },
            },
        },
    },
}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
# Keywords that exist in OpenAPI 3.0 schema objects but not in JSON Schema.
_OPENAPI_ONLY = frozenset({"nullable", "discriminator", "xml", "externalDocs", "example", "deprecated"})


def parse_datetime(value: str) -> datetime | None:
    """An RFC 3339 date-time (offset required) as an aware datetime, or None when invalid."""
    if not _RFC3339.match(value):
        return None
    text = value.upper().replace("Z", "+00:00")
    # datetime.fromisoformat accepts at most 6 fractional digits; RFC 3339 allows more.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# Own checker instead of jsonschema's, which silently skips date-time without rfc3339-validator.
FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _is_datetime(instance: object) -> bool:
    return not isinstance(instance, str) or parse_datetime(instance) is not None


FORMAT_CHECKER.checks("date-time")(_is_datetime)


def convert_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema object → JSON Schema 2020-12 (``nullable`` becomes a ``null`` type)."""
    if isinstance(node, list):
        return [convert_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key not in _OPENAPI_ONLY:
            out[key] = convert_schema(value)
    if node.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def json_pointer(path: Any) -> str:
    """RFC 6901 pointer for a jsonschema error path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    template: tuple[str, ...]  # path segments; "{name}" marks a parameter
    schemes: frozenset[str]
    request_schema: str | None  # component name of the JSON body, None when there is no body
    success_status: int
    response_schema: str | None  # component name, None for an empty body
    boolean_query: tuple[str, ...]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.template)


def _component(ref: str) -> str:
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref!r}")
    return ref.removeprefix(prefix)


def _json_schema_ref(content: Mapping[str, Any] | None) -> str | None:
    if not content:
        return None
    ref = content.get("application/json", {}).get("schema", {}).get("$ref")
    return _component(ref) if ref else None


def _match(template: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    """Path parameters if the decoded segments fit the template (empty parameters never do)."""
    if len(template) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, segment in zip(template, segments, strict=True):
        if part.startswith("{"):
            if not segment:
                return None
            params[part[1:-1]] = segment
        elif part != segment:
            return None
    return params


class Spec:
    """Operations and validators of one OpenAPI document."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        schemas = {name: convert_schema(s) for name, s in document["components"]["schemas"].items()}
        self.schemas: dict[str, Any] = schemas
        resource = Resource.from_contents(
            {"components": {"schemas": schemas}}, default_specification=DRAFT202012
        )
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.operations: dict[str, Operation] = {}
        for path, item in document["paths"].items():
            for method, op in item.items():
                success = min(int(code) for code in op["responses"] if code.startswith("2"))
                body = op.get("requestBody", {}).get("content")
                self.operations[op["operationId"]] = Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    template=tuple(path.strip("/").split("/")),
                    schemes=frozenset(name for req in op.get("security", []) for name in req),
                    request_schema=_json_schema_ref(body),
                    success_status=success,
                    response_schema=_json_schema_ref(op["responses"][str(success)].get("content")),
                    boolean_query=tuple(
                        p["name"]
                        for p in op.get("parameters", [])
                        if p["in"] == "query" and p.get("schema", {}).get("type") == "boolean"
                    ),
                )

    def route(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]]:
        """The operation and decoded path parameters of a raw (percent-encoded) path.

        The path is split on "/" first and each segment decoded after, so `%2F` stays inside
        its parameter. Raises a 404 ApiError, or 405 when the path exists with other methods.
        """
        if not raw_path.startswith("/"):
            raise not_found(f"No operation at {raw_path!r}")
        try:
            segments = [unquote(s, errors="strict") for s in raw_path[1:].split("/")]
        except UnicodeDecodeError:
            raise bad_request("Path is not valid percent-encoded UTF-8", title="Invalid path") from None
        allowed: list[str] = []
        for op in self.operations.values():
            params = _match(op.template, segments)
            if params is None:
                continue
            if op.method == method:
                return op, params
            allowed.append(op.method)
        if allowed:
            methods = ", ".join(sorted(allowed))
            raise ApiError(
                405,
                f"Method {method} is not allowed here",
                [FieldError("Method Not Allowed", f"Allowed: {methods}")],
                headers=(("Allow", methods),),
            )
        raise not_found(f"No operation at {method} {raw_path}")

    def validator(self, component: str) -> Any:
        """A cached jsonschema validator for ``#/components/schemas/<component>``."""
        with self._lock:
            found = self._validators.get(component)
            if found is None:
                if component not in self.schemas:
                    raise KeyError(component)
                schema = {"$ref": f"{SPEC_URI}#/components/schemas/{component}"}
                found = jsonschema.Draft202012Validator(
                    schema, registry=self._registry, format_checker=FORMAT_CHECKER
                )
                self._validators[component] = found
            return found

    def field_errors(self, component: str, instance: Any) -> list[FieldError]:
        """One FieldError per invalid field, pointing at the field (a missing one included)."""
        found: dict[str, FieldError] = {}
        errors = sorted(self.validator(component).iter_errors(instance), key=lambda e: json_pointer(e.path))
        for error in errors:
            base = json_pointer(error.absolute_path)
            if error.validator == "required" and isinstance(error.instance, dict):
                for name in error.validator_value:
                    if name not in error.instance:
                        pointer = f"{base}/{name}"
                        found.setdefault(
                            pointer, FieldError("Missing field", f"'{name}' is required", pointer)
                        )
            else:
                found.setdefault(base, FieldError("Invalid field", error.message, base))
        return list(found.values())

    def prune(self, component: str, instance: Any) -> Any:
        """A copy without the properties the schema does not declare: Talon.One ignores them."""
        return self._prune({"$ref": f"#/components/schemas/{component}"}, instance)

    def _prune(self, schema: Mapping[str, Any], instance: Any) -> Any:
        while "$ref" in schema:
            schema = self.schemas[_component(schema["$ref"])]
        if isinstance(instance, dict):
            props: Mapping[str, Any] | None = schema.get("properties")
            extra = schema.get("additionalProperties")
            if props is None and not isinstance(extra, dict):
                return copy.deepcopy(instance)  # free-form object such as `attributes`
            out = {}
            for key, value in instance.items():
                if props is not None and key in props:
                    out[key] = self._prune(props[key], value)
                elif isinstance(extra, dict):
                    out[key] = self._prune(extra, value)
            return out
        if isinstance(instance, list) and isinstance(schema.get("items"), dict):
            return [self._prune(schema["items"], item) for item in instance]
        return copy.deepcopy(instance)

    def response_errors(self, operation_id: str, status: int, body: Any) -> list[str]:
        """Messages for every way ``body`` breaks the operation's response schema (or the error shape)."""
        op = self.operations[operation_id]
        if not 200 <= status < 300:
            return self.error_shape_errors(body)
        if op.response_schema is None:
            return [] if body is None else ["expected an empty body"]
        return _messages(self.validator(op.response_schema), body)

    def error_shape_errors(self, body: Any) -> list[str]:
        """Messages for every way ``body`` breaks Talon.One's error shape."""
        return _messages(_ERROR_VALIDATOR, body)


_ERROR_VALIDATOR = jsonschema.Draft202012Validator(ERROR_SCHEMA)


def _messages(validator: Any, instance: Any) -> list[str]:
    return [f"{json_pointer(e.absolute_path) or '/'}: {e.message}" for e in validator.iter_errors(instance)]


@cache
def load_spec(path: Path | None = None) -> Spec:
    """The spec at ``path``, $TALON_SANDBOX_SPEC or the repo's ``spec/`` folder, parsed once."""
    location = path or Path(os.environ.get(ENV_SPEC) or DEFAULT_SPEC)
    return Spec(json.loads(location.read_text(encoding="utf-8")))
