"""The operation catalog: every route the gateway serves, read from Talon.One's OpenAPI documents.

One source for the operation table, the functions, template.yaml's resources, the events and
the gateway's OpenAPI document:
- ``spec/current/integration-api.openapi.json``: today's 39 operations;
- ``spec/talon-integration-api.openapi.json``: the 2020 document, for its 4 operations that
  today's API dropped (kept as legacy) and for which operations took the Content-Signature.

What the documents do not say (the tag a route is listed under, the sample values of the
events, which operation erases a customer) is written here, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CURRENT_SPEC = ROOT / "spec" / "current" / "integration-api.openapi.json"
LEGACY_SPEC = ROOT / "spec" / "talon-integration-api.openapi.json"
INT64 = (-(2**63), 2**63 - 1)
METHODS = ("get", "put", "post", "delete")

# The customer an operation erases: the gateway empties its own stores of that customer too.
ERASES = {"deleteCustomerData": "integrationId"}
# Where a request body holds cart items (Talon.One's limits: 1,000 items, 10,000 units).
CART_ITEMS = {"updateCustomerSessionV2": ("customerSession", "cartItems")}
# Tags of the gateway's document, by the first path segments that decide them.
TAGS = (
    ("/v2/customer_sessions", "Customer sessions"),
    ("/v1/customer_sessions", "Customer sessions"),
    ("/v1/customer_profiles/{integrationId}/achievements", "Achievements"),
    ("/v2/customer_profiles", "Customer profiles"),
    ("/v1/customer_profiles", "Customer profiles"),
    ("/v1/customer_data", "Customer profiles"),
    ("/v3/events", "Events"),
    ("/v2/events", "Events"),
    ("/v1/events", "Events"),
    ("/v1/coupon_reservations", "Coupons"),
    ("/v1/referrals", "Referrals"),
    ("/v2/loyalty_programs", "Loyalty"),
    ("/v1/loyalty_programs", "Loyalty"),
    ("/v2/audience", "Audiences"),
    ("/v2/customer_audiences", "Audiences"),
    ("/v1/catalogs", "Catalogs"),
    ("/v1/best_prior_price", "Catalogs"),
    ("/v1/integration/campaigns", "Campaigns"),
)
# Path values of the events: free-form strings that need encoding, and ids of the sandbox's seed.
SAMPLE_PATH = {
    "customerSessionId": "cart-7f3a/2026",
    "integrationId": "jane.doe+shop@example.com",
    "couponValue": "SUMMER 20/50%",
    "loyaltyProgramId": "1",
    "loyaltyCardId": "CARD-0001",
    "audienceId": "1",
    "achievementId": "1",
    "catalogId": "1",
}
# Query strings of the events, where one shows what the operation takes.
SAMPLE_QUERY = {
    "getCustomerInventory": {"profile": ["true"], "referrals": ["true"]},
    "updateCustomerSessionV2": {"dry": ["false"]},
    "updateCustomerProfileV2": {"runRuleEngine": ["true"]},
    "getLoyaltyBalances": {"includeTiers": ["true"]},
    "integrationGetAllCampaigns": {"pageSize": ["10"]},
    "getCustomerAchievements": {"achievementStatus": ["active,scheduled"]},
    "getLoyaltyCardTransactions": {"pageSize": ["10"], "subledgerId": ["beauty"]},
}


@dataclass(frozen=True)
class Parameter:
    name: str  # Talon.One's
    where: str  # "path" or "query"
    schema: dict[str, Any]
    description: str
    explode: bool = True

    @property
    def python_name(self) -> str:
        return snake(self.name)


@dataclass(frozen=True)
class Entry:
    """One operation of the catalog."""

    name: str
    method: str
    path: str
    summary: str
    description: str
    tag: str
    legacy: bool
    requires_api_key: bool
    content_signature: bool
    parameters: tuple[Parameter, ...]
    request_model: str | None  # component schema of the body
    body_description: str
    successes: tuple[tuple[int, str | None], ...]  # (status, component schema of the answer)
    body_examples: tuple[Any, ...] = field(default=())  # the spec's examples of the body

    @property
    def function_dir(self) -> str:
        return snake(self.name)

    @property
    def constant(self) -> str:
        return self.function_dir.upper()

    @property
    def logical_id(self) -> str:
        return self.name[0].upper() + self.name[1:] + "Function"

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def params(self, where: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.where == where)


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def first_paragraph(text: str | None) -> str:
    """The first paragraph of a Markdown description, on one line."""
    if not text:
        return ""
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _component(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _body(document: dict[str, Any], operation: dict[str, Any]) -> tuple[str | None, str, tuple[Any, ...]]:
    body = operation.get("requestBody")
    if body is None:
        return None, "", ()
    if "$ref" in body:
        body = document["components"]["requestBodies"][_component(body["$ref"])]
    content = body["content"]["application/json"]
    schema_name = _component(content["schema"]["$ref"])
    schema = document["components"]["schemas"][schema_name]
    examples = tuple(e["value"] for e in content.get("examples", {}).values() if "value" in e)
    if schema.get("example") is not None:
        examples = (*examples, schema["example"])
    # Today's document describes most bodies as "body": the schema's description says more.
    description = body.get("description")
    if not description or description.strip() == "body":
        description = schema.get("description") or schema_name
    return schema_name, first_paragraph(description), examples


def _parameters(document: dict[str, Any], operation: dict[str, Any]) -> tuple[Parameter, ...]:
    found = []
    for listed in operation.get("parameters", []):
        parameter = (
            document["components"]["parameters"][_component(listed["$ref"])] if "$ref" in listed else listed
        )
        found.append(
            Parameter(
                name=parameter["name"],
                where=parameter["in"],
                schema=parameter.get("schema", {}),
                description=first_paragraph(parameter.get("description")),
                explode=parameter.get("explode", parameter.get("style", "form") == "form"),
            )
        )
    # Path parameters first, in the order of the path; then the query, as the spec lists it.
    path = [p for p in found if p.where == "path"]
    order = re.findall(r"\{(\w+)\}", operation["x-path"])
    path.sort(key=lambda p: order.index(p.name))
    return (*path, *(p for p in found if p.where == "query"))


def _successes(operation: dict[str, Any]) -> tuple[tuple[int, str | None], ...]:
    out = []
    for code, response in sorted(operation["responses"].items()):
        if not code.startswith("2"):
            continue
        ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        out.append((int(code), _component(ref) if ref else None))
    return tuple(out)


def _tag(path: str) -> str:
    return next(tag for prefix, tag in TAGS if path.startswith(prefix))


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        operation["operationId"]: (method.upper(), path, operation | {"x-path": path})
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


@cache
def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@cache
def entries() -> tuple[Entry, ...]:
    """Today's operations, then the 2020 ones that today's API dropped; by path, then method."""
    current, legacy = load(CURRENT_SPEC), load(LEGACY_SPEC)
    today, then = _operations(current), _operations(legacy)
    signed_then = {
        name
        for name, (_, _, operation) in then.items()
        if any("integration_auth" in requirement for requirement in operation.get("security", []))
    }
    out = []
    for name, (method, path, operation) in [
        *today.items(),
        *((n, o) for n, o in then.items() if n not in today),
    ]:
        is_legacy = name not in today
        document = legacy if is_legacy else current
        request_model, body_description, examples = _body(document, operation)
        out.append(
            Entry(
                name=name,
                method=method,
                path=path,
                summary=operation.get("summary") or name,
                description=first_paragraph(operation.get("description")),
                tag=_tag(path),
                legacy=is_legacy,
                requires_api_key=not is_legacy,
                content_signature=name in signed_then,
                parameters=_parameters(document, operation),
                request_model=request_model,
                body_description=body_description,
                successes=_successes(operation),
                body_examples=examples,
            )
        )
    out.sort(key=lambda e: (e.legacy, e.path, METHODS.index(e.method.lower())))
    return tuple(out)
