"""The models follow Talon.One's OpenAPI documents field by field: today's, and the 2020 one's
operations that today's API dropped (legacy)."""

from __future__ import annotations

import json
import typing
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, RootModel, ValidationError

from local_gateway.template import ROOT
from talon_gateway.api.docs import _python_name
from talon_gateway.models import legacy, legacy_responses, requests, responses
from talon_gateway.models.base import RequestModel, ResponseModel
from talon_gateway.operations import OPERATIONS
from tools.models import closure

CURRENT = json.loads((ROOT / "spec" / "current" / "integration-api.openapi.json").read_text())
LEGACY = json.loads((ROOT / "spec" / "talon-integration-api.openapi.json").read_text())
SCHEMAS: dict[str, dict[str, Any]] = CURRENT["components"]["schemas"]
LEGACY_SCHEMAS: dict[str, dict[str, Any]] = LEGACY["components"]["schemas"]


def request_roots(document: dict[str, Any], legacy_only: bool) -> set[str]:
    names = {op.name for op in OPERATIONS if op.legacy == legacy_only}
    roots = set()
    for item in document["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody")
            if operation["operationId"] not in names or body is None:
                continue
            if "$ref" in body:
                body = document["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[1]]
            roots.add(body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1])
    return roots


REQUESTS = sorted(closure(SCHEMAS, request_roots(CURRENT, legacy_only=False)))
LEGACY_REQUESTS = sorted(closure(LEGACY_SCHEMAS, request_roots(LEGACY, legacy_only=True)))


def model(module: ModuleType, name: str) -> type[BaseModel]:
    found = getattr(module, _python_name(name))
    assert isinstance(found, type)
    assert issubclass(found, BaseModel)
    return found


def flattened(schemas: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Properties and required names of a schema, allOf parts included."""
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        resolved = schemas[part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
        more, needed = flattened(schemas, resolved)
        properties |= more
        required |= needed
    return properties, required


def test_every_schema_has_a_response_model_and_requests_have_strict_ones() -> None:
    assert len(SCHEMAS) == 162
    for name in SCHEMAS:
        # an object's model, or a list's (a root model of them)
        assert issubclass(model(responses, name), ResponseModel | RootModel)
    for module, names in ((requests, REQUESTS), (legacy, LEGACY_REQUESTS)):
        generated = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, RequestModel) and v is not RequestModel
        )
        assert generated == sorted({_python_name(n) for n in names} | {"CouponCode"} & set(generated))


CASES = [
    *((requests, SCHEMAS, name) for name in REQUESTS),
    *((legacy, LEGACY_SCHEMAS, name) for name in LEGACY_REQUESTS),
    *(
        (responses, SCHEMAS, name)
        for name in SCHEMAS
        if "properties" in SCHEMAS[name] or "allOf" in SCHEMAS[name]
    ),
]


@pytest.mark.parametrize(
    ("module", "schemas", "name"), CASES, ids=lambda v: getattr(v, "__name__", str(v))[-40:]
)
def test_fields_follow_the_spec(module: ModuleType, schemas: dict[str, Any], name: str) -> None:
    properties, required = flattened(schemas, schemas[name])
    fields = model(module, name).model_fields
    # wire names are the aliases, one field per property
    by_alias = {(f.alias or key): f for key, f in fields.items()}
    assert set(by_alias) == set(properties)
    for wire, spec_field in properties.items():
        field = by_alias[wire]
        # required exactly where the spec requires it (a default in the spec is not a value)
        if module in (requests, legacy):
            assert field.is_required() is (wire in required), wire
        # enums become the same closed set of literals
        if "enum" in spec_field:
            literal = [a for a in typing.get_args(field.annotation) if typing.get_origin(a) is typing.Literal]
            values = typing.get_args(field.annotation) if not literal else typing.get_args(literal[0])
            assert set(values) == set(spec_field["enum"]), wire


@pytest.mark.parametrize(
    ("module", "schemas", "name"),
    [
        *((requests, SCHEMAS, name) for name in REQUESTS if "properties" in SCHEMAS[name]),
        *((legacy, LEGACY_SCHEMAS, name) for name in LEGACY_REQUESTS if "properties" in LEGACY_SCHEMAS[name]),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_request_json_schema_keeps_the_constraints(
    module: ModuleType, schemas: dict[str, Any], name: str
) -> None:
    # Given the request model's own JSON schema
    generated = model(module, name).model_json_schema(by_alias=True)
    # Then lengths, bounds and item counts of the spec are enforced, and extra properties refused
    assert generated.get("additionalProperties") is False
    for wire, spec_field in schemas[name].get("properties", {}).items():
        for keyword in ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
            if keyword in spec_field:
                property_schema = generated["properties"][wire]
                options = property_schema.get("anyOf", [property_schema])
                assert any(option.get(keyword) == spec_field[keyword] for option in options), (wire, keyword)


def test_integers_are_bounded_to_64_bits_where_the_spec_says_nothing() -> None:
    item = {"sku": "b", "quantity": 2**63}
    with pytest.raises(ValidationError):
        requests.CartItem.model_validate(item)
    with pytest.raises(ValidationError):
        legacy.CartItem.model_validate({"name": "a", "sku": "b", "quantity": 2**63, "price": 1})


def test_request_models_reject_unknown_fields_by_name_and_nulls() -> None:
    with pytest.raises(ValidationError) as raised:
        requests.NewCustomerSessionV2.model_validate({"profileID": "x", "couponCodes": None})
    errors = {(e["type"], e["loc"]) for e in raised.value.errors()}
    assert errors == {("extra_forbidden", ("profileID",)), ("list_type", ("couponCodes",))}


def test_todays_fields_are_accepted() -> None:
    # Fields of today's API that the 2020 models refused (see the list)
    session = requests.IntegrationRequest.model_validate(
        {
            "customerSession": {
                "profileId": "c1",
                "loyaltyCards": ["card-1"],
                "storeIntegrationId": "store-1",
                "evaluableCampaignIds": [7],
                "cartItems": [
                    {"sku": "catalog-item", "quantity": 2},
                    {
                        "sku": "a",
                        "quantity": 1,
                        "additionalCosts": {"shipping": {"price": 1.5}},
                        "returnedQuantity": 0,
                        "product": {"name": "Shoes"},
                        "catalogItemID": 5,
                        "selectedPriceType": "member",
                    },
                ],
            }
        }
    )
    assert session.customer_session.loyalty_cards == ["card-1"]
    requests.NewReferral.model_validate(
        {"campaignId": 5, "advocateProfileIntegrationId": "a", "usageLimit": 2, "attributes": {"x": 1}}
    )


def test_request_models_keep_omitted_fields_omitted_and_add_no_defaults() -> None:
    parsed = requests.NewCustomerSessionV2.model_validate({"couponCodes": []})
    # the empty list stays, nothing omitted appears (MISSING is never serialized)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) == {"couponCodes": []}
    assert "cartItems" not in parsed.model_dump(by_alias=True, exclude_unset=True)


def test_request_models_do_not_coerce_types() -> None:
    with pytest.raises(ValidationError):
        requests.CartItem.model_validate({"sku": "b", "quantity": "1"})
    with pytest.raises(ValidationError):
        requests.CartItem.model_validate({"sku": "b", "quantity": 1, "price": "1.5"})
    # JSON integers are valid numbers
    assert requests.CartItem.model_validate({"sku": "b", "quantity": 1, "price": 1}).price == 1


def test_request_models_repr_reveals_nothing() -> None:
    # Powertools formats route arguments into a debug line: it must not carry personal data
    profile = requests.NewCustomerProfile.model_validate({"attributes": {"Email": "jane.doe@example.com"}})
    assert "jane" not in repr(profile)
    assert "jane" not in str(profile)


def test_response_models_keep_fields_the_spec_does_not_know() -> None:
    answer = {
        "effects": [
            {
                "campaignId": 1,
                "rulesetId": 2,
                "ruleIndex": 0,
                "ruleName": "r",
                "effectType": "setDiscount",
                "props": {"name": "10%", "value": 5.0, "newProp": True},
                "effectNew": "kept",
            }
        ],
        "createdCoupons": [],
        "createdReferrals": [],
        "topLevelNew": {"nested": [1, 2]},
    }
    parsed = responses.IntegrationStateV2.model_validate(answer)
    dumped = parsed.model_dump(by_alias=True, mode="json", exclude_unset=True)
    assert dumped["topLevelNew"] == {"nested": [1, 2]}
    assert dumped["effects"][0]["effectNew"] == "kept"


def test_legacy_answers_are_documented_by_the_2020_models() -> None:
    for op in OPERATIONS:
        module = legacy_responses if op.legacy else responses
        for _, schema in op.successes:
            if schema is not None:
                assert issubclass(model(module, schema), ResponseModel | RootModel)
