"""The upstream contract loaded from the repo's OpenAPI documents: operations, routes and validators.

Two documents make the contract: today's Integration API (``spec/current``, OpenAPI 3.1, 39
operations) and the 2020 document, of which the 4 operations today's API dropped stay as legacy
with their 2020 schemas. Routes, parameters, accepted auth schemes, statuses and request and
response schemas all come from them, so the sandbox cannot drift from the contract.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sandbox.errors import ApiError, FieldError, bad_parameter, bad_request, not_found

ENV_SPEC = "TALON_SANDBOX_SPEC"  # today's document
ENV_LEGACY_SPEC = "TALON_SANDBOX_LEGACY_SPEC"  # the 2020 document
SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
DEFAULT_SPEC = SPEC_DIR / "current" / "integration-api.openapi.json"
DEFAULT_LEGACY_SPEC = SPEC_DIR / "talon-integration-api.openapi.json"
# The 2020 operations that today's API dropped: served with their 2020 behaviour and schemas.
LEGACY_OPERATIONS = ("updateCustomerSession", "updateCustomerProfile", "trackEvent", "getReservedCoupons")
SPEC_URIS = {"current": "urn:talon-one:integration-api", "legacy": "urn:talon-one:integration-api:2020"}
JSON = "application/json"

Document = Literal["current", "legacy"]

# Not part of the OpenAPI documents: Talon.One's error body as the sandbox always sends it,
# stricter than the spec's ErrorResponse (which only requires `message`).
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
                        "properties": {"pointer": {"type": "string"}, "parameter": {"type": "string"}},
                    },
                },
            },
        },
    },
}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_INTEGER = re.compile(r"^-?\d+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INT64 = (-(2**63), 2**63 - 1)
# Keywords that exist in OpenAPI 3.0 schema objects but not in JSON Schema.
_OPENAPI_ONLY = frozenset({"nullable", "discriminator", "xml", "externalDocs", "example", "deprecated"})
# Values that are not schemas: never converted (an example may well hold a "properties" key).
_NOT_SCHEMAS = frozenset({"example", "examples", "description", "enum", "const", "default", "required"})


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


def _is_int64(instance: object) -> bool:
    # Go decodes into int64: anything larger does not fit and is refused.
    if isinstance(instance, bool) or not isinstance(instance, int):
        return True
    return INT64[0] <= instance <= INT64[1]


def _is_uuid(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_UUID.match(instance))


FORMAT_CHECKER.checks("date-time")(_is_datetime)
FORMAT_CHECKER.checks("int64")(_is_int64)
FORMAT_CHECKER.checks("uuid")(_is_uuid)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON (NaN and Infinity refused, as Go's decoder does)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}", title="Invalid JSON") from None


def convert_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema object → JSON Schema 2020-12 (``nullable`` becomes a ``null`` type)."""
    if isinstance(node, list):
        return [convert_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in _NOT_SCHEMAS:
            if key not in _OPENAPI_ONLY:
                out[key] = copy.deepcopy(value)
        elif key not in _OPENAPI_ONLY:
            out[key] = convert_schema(value)
    if node.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def convert_schema_31(node: Any) -> Any:
    """OpenAPI 3.1 (already JSON Schema 2020-12), read the way Talon.One's SDK generators read it.

    A schema with ``properties`` or ``additionalProperties`` and no ``type`` describes an object
    (Talon.One's Go backend cannot decode anything else into it), and the one OpenAPI 3.0
    ``nullable`` left in the document allows ``null``.
    """
    if isinstance(node, list):
        return [convert_schema_31(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: convert_schema_31(sub) for name, sub in value.items()}
        elif key in _NOT_SCHEMAS or key == "nullable":
            if key != "nullable":
                out[key] = copy.deepcopy(value)
        else:
            out[key] = convert_schema_31(value)
    if "type" not in out and ("properties" in out or isinstance(out.get("additionalProperties"), dict)):
        out["type"] = "object"
    if node.get("nullable") is True and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def json_pointer(path: Iterable[Any]) -> str:
    """RFC 6901 pointer for a jsonschema error path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Parameter:
    """A path or query parameter with its schema (``array`` + ``explode`` decides the wire format)."""

    name: str
    location: Literal["path", "query"]
    required: bool
    schema: Mapping[str, Any]
    explode: bool
    # Talon.One's date-time query parameters say "if you do not include a time component, a
    # default time value of T00:00:00 (midnight) in UTC is considered": a plain date is accepted.
    date_only: bool = False

    @property
    def is_array(self) -> bool:
        return self.schema.get("type") == "array"

    @property
    def item_schema(self) -> Mapping[str, Any]:
        items: Mapping[str, Any] = self.schema.get("items", {}) if self.is_array else self.schema
        return items


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    template: tuple[str, ...]  # path segments; "{name}" marks a parameter
    schemes: frozenset[str]
    document: Document
    request_schema: str | None  # JSON pointer of the body schema in its document, None without body
    request_required: bool
    success_status: int  # the lowest documented 2xx
    responses: Mapping[int, str | None]  # documented status → pointer of its JSON schema (None: no body)
    parameters: tuple[Parameter, ...]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.template)

    @property
    def legacy(self) -> bool:
        return self.document == "legacy"

    @property
    def statuses(self) -> frozenset[int]:
        return frozenset(self.responses)

    @property
    def boolean_query(self) -> tuple[str, ...]:
        return tuple(
            p.name for p in self.parameters if p.location == "query" and p.schema.get("type") == "boolean"
        )


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


class _Doc:
    """One converted OpenAPI document and the registry its ``$ref``s resolve in."""

    def __init__(self, name: Document, raw: Mapping[str, Any]) -> None:
        self.name = name
        self.uri = SPEC_URIS[name]
        converter = convert_schema_31 if str(raw.get("openapi", "")).startswith("3.1") else convert_schema
        self.content: dict[str, Any] = converter(raw)
        resource = Resource.from_contents(self.content, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)

    def resolve(self, pointer: str) -> Any:
        node: Any = self.content
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            node = self.resolve(node["$ref"].removeprefix("#"))
        return node

    def inline(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        """``node`` with its local $refs replaced by their targets (a cycle keeps its $ref)."""
        if isinstance(node, list):
            return [self.inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: self.inline(sub, seen) for name, sub in value.items()}
            elif key in _NOT_SCHEMAS or key == "$ref":
                out[key] = value
            else:
                out[key] = self.inline(value, seen)
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return out
        if ref in seen:
            out["$ref"] = f"{self.uri}{ref}"
            return out
        target = self.inline(self.resolve(ref.removeprefix("#")), (*seen, ref))
        del out["$ref"]
        # Keywords next to a $ref apply as well as the target's (JSON Schema 2020-12).
        return {**out, "allOf": [target]} if out else target


class Spec:
    """Operations and validators of today's document plus the legacy operations of the 2020 one."""

    def __init__(self, document: Mapping[str, Any], legacy: Mapping[str, Any] | None = None) -> None:
        self._docs: dict[Document, _Doc] = {"current": _Doc("current", document)}
        if legacy is not None:
            self._docs["legacy"] = _Doc("legacy", legacy)
        self.schemas: dict[str, Any] = self._docs["current"].content["components"]["schemas"]
        self.legacy_schemas: dict[str, Any] = (
            self._docs["legacy"].content["components"]["schemas"] if legacy is not None else {}
        )
        self._validators: dict[tuple[Document, str], Any] = {}
        self._shapes: dict[int, tuple[dict[str, Any], Any]] = {}
        self._lock = threading.Lock()
        self.operations: dict[str, Operation] = {}
        self._load("current", document, only=None)
        if legacy is not None:
            self._load("legacy", legacy, only=frozenset(LEGACY_OPERATIONS))
        self._by_length: dict[int, list[Operation]] = {}
        # Templates with more literal segments first: they win over a parameter at the same place.
        for op in sorted(
            self.operations.values(), key=lambda o: -sum(not p.startswith("{") for p in o.template)
        ):
            self._by_length.setdefault(len(op.template), []).append(op)

    # -- loading -------------------------------------------------------------------------------

    def _load(self, name: Document, raw: Mapping[str, Any], only: frozenset[str] | None) -> None:
        doc = self._docs[name]
        global_security = raw.get("security", [])
        for path, item in doc.content["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method not in {"get", "put", "post", "delete", "patch"}:
                    continue
                operation_id = op["operationId"]
                if only is not None and operation_id not in only:
                    continue
                if operation_id in self.operations:
                    raise ValueError(f"operation {operation_id} is defined twice")
                base = f"/paths/{_escape(path)}/{method}"
                responses: dict[int, str | None] = {}
                for code, declared in op["responses"].items():
                    response_pointer = f"{base}/responses/{code}"
                    response = declared
                    if "$ref" in declared:
                        response_pointer = declared["$ref"].removeprefix("#")
                        response = doc.resolve(response_pointer)
                    has_json = code != "204" and "schema" in response.get("content", {}).get(JSON, {})
                    responses[int(code)] = (
                        f"{response_pointer}/content/{_escape(JSON)}/schema" if has_json else None
                    )
                request_schema, request_required = self._request_body(doc, op, base)
                security = op.get("security", global_security)
                self.operations[operation_id] = Operation(
                    operation_id=operation_id,
                    method=method.upper(),
                    template=tuple(path.strip("/").split("/")),
                    schemes=frozenset(scheme for req in security for scheme in req),
                    document=name,
                    request_schema=request_schema,
                    request_required=request_required,
                    success_status=min(code for code in responses if 200 <= code < 300),
                    responses=responses,
                    parameters=tuple(self._parameter(doc, p) for p in [*shared, *op.get("parameters", [])]),
                )

    @staticmethod
    def _request_body(doc: _Doc, op: Mapping[str, Any], base: str) -> tuple[str | None, bool]:
        body = op.get("requestBody")
        if body is None:
            return None, False
        pointer = f"{base}/requestBody"
        if "$ref" in body:  # components/requestBodies
            pointer = body["$ref"].removeprefix("#")
            body = doc.resolve(pointer)
        if "schema" not in body.get("content", {}).get(JSON, {}):
            return None, False
        return f"{pointer}/content/{_escape(JSON)}/schema", bool(body.get("required", False))

    @staticmethod
    def _parameter(doc: _Doc, raw: Mapping[str, Any]) -> Parameter:
        param = doc.deref(raw)
        schema = doc.deref(param.get("schema", {"type": "string"}))
        location = param["in"]
        if location not in ("path", "query"):
            raise ValueError(f"unsupported parameter location {location!r}")
        item = schema.get("items", {}) if schema.get("type") == "array" else schema
        return Parameter(
            name=param["name"],
            location=location,
            required=bool(param.get("required", location == "path")),
            schema=schema,
            # OpenAPI's default for form-style (query) parameters is explode=true.
            explode=bool(param.get("explode", location == "query")),
            date_only=item.get("format") == "date-time" and "time component" in param.get("description", ""),
        )

    # -- routing -------------------------------------------------------------------------------

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
        for op in self._by_length.get(len(segments), ()):
            params = _match(op.template, segments)
            if params is None:
                continue
            if op.method == method:
                return op, params
            allowed.append(op.method)
        if allowed:
            methods = ", ".join(sorted(set(allowed)))
            raise ApiError(
                405,
                f"Method {method} is not allowed here",
                [FieldError("Method Not Allowed", f"Allowed: {methods}")],
                headers=(("Allow", methods),),
            )
        raise not_found(f"No operation at {method} {raw_path}")

    # -- parameters ----------------------------------------------------------------------------

    def path_params(self, op: Operation, raw: Mapping[str, str]) -> dict[str, Any]:
        """Path parameters typed and checked against their schemas (an integer id must be one)."""
        out: dict[str, Any] = {}
        for param in op.parameters:
            if param.location == "path":
                out[param.name] = self._value(op, param, raw[param.name])
        return out

    def query_params(self, op: Operation, query: str) -> dict[str, Any]:
        """The operation's query parameters, typed and validated; unknown parameters are ignored.

        A repeated scalar keeps its last value. An array with ``explode: true`` is the list of
        its repeated values; with ``explode: false`` it is one comma-separated value.
        """
        pairs = parse_qsl(query, keep_blank_values=True) if query else []
        out: dict[str, Any] = {}
        for param in op.parameters:
            if param.location != "query":
                continue
            values = [v for k, v in pairs if k == param.name]
            if not values:
                if param.required:
                    raise bad_parameter(param.name, "query", f"Query parameter {param.name!r} is required")
                continue
            if param.is_array:
                raw_items = values if param.explode else [v for v in values[-1].split(",") if v != ""]
                out[param.name] = [self._coerce(param, item) for item in raw_items]
                self._check(op, param, out[param.name])
                out[param.name] = [self._typed(param.item_schema, v) for v in out[param.name]]
            else:
                out[param.name] = self._value(op, param, values[-1])
        return out

    def _value(self, op: Operation, param: Parameter, raw: str) -> Any:
        value = self._coerce(param, raw)
        self._check(op, param, value)
        return self._typed(param.item_schema, value)

    @staticmethod
    def _coerce(param: Parameter, raw: str) -> Any:
        schema = param.item_schema
        kind = schema.get("type")
        where = "Path" if param.location == "path" else "Query"
        if kind == "boolean":
            if raw not in ("true", "false"):
                message = f"{where} parameter {param.name!r} must be 'true' or 'false', got {raw!r}"
                raise bad_parameter(param.name, param.location, message)
            return raw == "true"
        if kind == "integer":
            if not _INTEGER.match(raw):
                message = f"{where} parameter {param.name!r} must be an integer, got {raw!r}"
                raise bad_parameter(param.name, param.location, message)
            return int(raw)
        if kind == "number":
            try:
                number = float(raw)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                message = f"{where} parameter {param.name!r} must be a number, got {raw!r}"
                raise bad_parameter(param.name, param.location, message)
            return number
        if schema.get("format") == "date-time":
            if param.date_only and _DATE_ONLY.match(raw):
                return f"{raw}T00:00:00Z"
            # Talon.One's SDKs format query date-times with strftime's %z (+0000, no colon).
            return _COMPACT_OFFSET.sub(r"\1:\2", raw)
        return raw

    def _check(self, op: Operation, param: Parameter, value: Any) -> None:
        validator = self._param_validator(op, param)
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            where = "Path" if param.location == "path" else "Query"
            message = f"{where} parameter {param.name!r}: {error.message}"
            raise bad_parameter(param.name, param.location, message)

    def _param_validator(self, op: Operation, param: Parameter) -> Any:
        key: tuple[Document, str] = (op.document, f"param:{op.operation_id}:{param.name}")
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                doc = self._docs[op.document]
                schema = {k: v for k, v in param.schema.items() if k != "default"}
                found = jsonschema.Draft202012Validator(
                    schema, registry=doc.registry, format_checker=FORMAT_CHECKER
                )
                self._validators[key] = found
            return found

    @staticmethod
    def _typed(schema: Mapping[str, Any], value: Any) -> Any:
        if isinstance(value, str) and schema.get("format") == "date-time":
            return parse_datetime(value)
        return value

    # -- bodies --------------------------------------------------------------------------------

    def validator(self, component: str, document: Document = "current") -> Any:
        """A cached jsonschema validator for a component name or a JSON pointer in ``document``."""
        pointer = component if component.startswith("/") else f"/components/schemas/{_escape(component)}"
        key = (document, pointer)
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                doc = self._docs[document]
                try:
                    doc.resolve(pointer)
                except (KeyError, IndexError, TypeError):
                    raise KeyError(component) from None
                # $refs inlined: the documents have no cycles, and lookups cost a third of validation.
                schema = doc.inline({"$ref": f"#{pointer}"})
                found = jsonschema.Draft202012Validator(
                    schema, registry=doc.registry, format_checker=FORMAT_CHECKER
                )
                self._validators[key] = found
            return found

    def field_errors(self, component: str, instance: Any, document: Document = "current") -> list[FieldError]:
        """One FieldError per invalid field, pointing at the field (a missing one included)."""
        found: dict[str, FieldError] = {}
        validator = self.validator(component, document)
        errors = sorted(validator.iter_errors(instance), key=lambda e: json_pointer(e.absolute_path))
        for error in _leaves(errors):
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

    def body(self, op: Operation, raw: bytes) -> Any:
        """The request body validated against its schema and pruned, or None when it has none."""
        if op.request_schema is None:
            return None
        if not raw.strip() and not op.request_required:
            return None
        data = parse_json(raw)
        errors = self.field_errors(op.request_schema, data, op.document)
        if errors:
            raise ApiError(400, "Request body is invalid", errors)
        return self.prune(op.request_schema, data, op.document)

    def prune(self, component: str, instance: Any, document: Document = "current") -> Any:
        """A copy without what Talon.One ignores in requests: unknown and ``readOnly`` properties."""
        pointer = component if component.startswith("/") else f"/components/schemas/{_escape(component)}"
        doc = self._docs[document]
        return self._prune(doc, doc.resolve(pointer), instance)

    def _shape(self, doc: _Doc, schema: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """Properties and additionalProperties of a schema, ``allOf`` members merged."""
        key = id(schema)
        found = self._shapes.get(key)
        if found is not None:
            return found
        props: dict[str, Any] = {}
        extra: Any = schema.get("additionalProperties")
        props.update(schema.get("properties", {}))
        for member in schema.get("allOf", []):
            member_props, member_extra = self._shape(doc, doc.deref(member))
            props.update(member_props)
            if member_extra is not None and extra is None:
                extra = member_extra
        self._shapes[key] = (props, extra)
        return props, extra

    def _prune(self, doc: _Doc, schema: Mapping[str, Any], instance: Any) -> Any:
        schema = doc.deref(schema)
        if isinstance(instance, dict):
            props, extra = self._shape(doc, schema)
            if not props and not isinstance(extra, dict):
                return instance  # free-form object such as `attributes` (the parsed body is ours)
            out = {}
            for key, value in instance.items():
                sub = props.get(key)
                if sub is not None:
                    if not doc.deref(sub).get("readOnly", False):
                        out[key] = self._prune(doc, sub, value)
                elif isinstance(extra, dict):
                    out[key] = self._prune(doc, extra, value)
            return out
        if isinstance(instance, list):
            items = schema.get("items")
            if items is None:
                for member in schema.get("allOf", []):
                    items = doc.deref(member).get("items", items)
            if isinstance(items, dict):
                return [self._prune(doc, items, item) for item in instance]
        return instance

    # -- responses -----------------------------------------------------------------------------

    def response_errors(self, operation_id: str, status: int, body: Any) -> list[str]:
        """Every way ``body`` breaks the schema the operation documents for ``status``.

        Errors are also held to the sandbox's strict error shape; an undocumented error status
        (a 503 fault, a 401 where the spec lists none) is held to that shape alone.
        """
        op = self.operations[operation_id]
        documented = status in op.responses
        if 200 <= status < 300:
            if not documented:
                return [f"status {status} is not documented for {operation_id}"]
            pointer = op.responses[status]
            if pointer is None:
                return [] if body is None else ["expected an empty body"]
            return _messages(self.validator(pointer, op.document), body)
        problems = self.error_shape_errors(body)
        pointer = op.responses.get(status) if documented else None
        if pointer is not None:
            problems += _messages(self.validator(pointer, op.document), body)
        return problems

    def error_shape_errors(self, body: Any) -> list[str]:
        """Messages for every way ``body`` breaks Talon.One's error shape."""
        return _messages(_ERROR_VALIDATOR, body)


def _leaves(errors: Iterable[Any]) -> list[Any]:
    """Errors to report: ``allOf`` members report themselves, so only the deepest causes count."""
    out: list[Any] = []
    for error in errors:
        if error.context:
            out.extend(_leaves(error.context))
        else:
            out.append(error)
    return out


_ERROR_VALIDATOR = jsonschema.Draft202012Validator(ERROR_SCHEMA)


def _messages(validator: Any, instance: Any) -> list[str]:
    return [f"{json_pointer(e.absolute_path) or '/'}: {e.message}" for e in validator.iter_errors(instance)]


@cache
def load_spec(path: Path | None = None, legacy_path: Path | None = None) -> Spec:
    """Today's document ($TALON_SANDBOX_SPEC) and the 2020 one ($TALON_SANDBOX_LEGACY_SPEC), parsed once."""
    current = path or Path(os.environ.get(ENV_SPEC) or DEFAULT_SPEC)
    legacy = legacy_path or Path(os.environ.get(ENV_LEGACY_SPEC) or DEFAULT_LEGACY_SPEC)
    return Spec(
        json.loads(current.read_text(encoding="utf-8")),
        json.loads(legacy.read_text(encoding="utf-8")),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())
