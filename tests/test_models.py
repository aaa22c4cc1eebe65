"""The models follow Talon.One's OpenAPI document field by field."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from local_gateway.template import ROOT
from talon_gateway.models import requests, responses
from talon_gateway.models.base import RequestModel, ResponseModel

SPEC = json.loads((ROOT / "spec" / "talon-integration-api.openapi.json").read_text())
SCHEMAS: dict[str, dict[str, Any]] = SPEC["components"]["schemas"]
REQUEST_SCHEMAS = [
    "AdditionalCost",
    "CartItem",
    "CartItemAdjustment",
    "CouponReservations",
    "IntegrationRequest",
    "NewCustomerProfile",
    "NewCustomerSession",
    "NewCustomerSessionV2",
    "NewEvent",
    "NewReferral",
]


def model(module: Any, name: str) -> type[BaseModel]:
    found = getattr(module, name)
    assert isinstance(found, type)
    assert issubclass(found, BaseModel)
    return found


def test_every_schema_has_a_response_model_and_requests_have_strict_ones() -> None:
    assert len(SCHEMAS) == 52
    for name in SCHEMAS:
        assert issubclass(model(responses, name), ResponseModel)
    generated = sorted(
        n
        for n, v in vars(requests).items()
        if isinstance(v, type) and issubclass(v, RequestModel) and v is not RequestModel
    )
    assert generated == sorted(REQUEST_SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fields_follow_the_spec(name: str) -> None:
    schema = SCHEMAS[name]
    modules = [responses, requests] if name in REQUEST_SCHEMAS else [responses]
    for module in modules:
        fields = model(module, name).model_fields
        # wire names are the aliases, one field per property
        by_alias = {(f.alias or key): f for key, f in fields.items()}
        assert set(by_alias) == set(schema.get("properties", {}))
        for wire, spec_field in schema.get("properties", {}).items():
            field = by_alias[wire]
            # required exactly where the spec requires it
            assert field.is_required() is (wire in schema.get("required", [])), wire
            # the spec's documentation travels with the field
            if "description" in spec_field:
                assert field.description == spec_field["description"], wire
            # enums become the same closed set of literals
            if "enum" in spec_field:
                literal = [
                    a for a in typing.get_args(field.annotation) if typing.get_origin(a) is typing.Literal
                ]
                values = typing.get_args(field.annotation) if not literal else typing.get_args(literal[0])
                assert set(values) == set(spec_field["enum"]), wire


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_request_json_schema_keeps_the_constraints(name: str) -> None:
    # Given the request model's own JSON schema
    generated = model(requests, name).model_json_schema(by_alias=True)
    # Then minLength, minimum and maximum of the spec are enforced, and extra properties refused
    assert generated.get("additionalProperties") is False
    for wire, spec_field in SCHEMAS[name].get("properties", {}).items():
        for keyword in ("minLength", "minimum", "maximum"):
            if keyword in spec_field:
                property_schema = generated["properties"][wire]
                options = property_schema.get("anyOf", [property_schema])
                assert any(option.get(keyword) == spec_field[keyword] for option in options), (wire, keyword)


def test_request_models_reject_unknown_fields_by_name_and_nulls() -> None:
    with pytest.raises(ValidationError) as raised:
        requests.NewCustomerSessionV2.model_validate({"profileID": "x", "couponCodes": None})
    errors = {(e["type"], e["loc"]) for e in raised.value.errors()}
    assert errors == {("extra_forbidden", ("profileID",)), ("list_type", ("couponCodes",))}


def test_request_models_keep_omitted_fields_omitted_and_add_no_defaults() -> None:
    parsed = requests.NewCustomerSessionV2.model_validate({"couponCodes": []})
    # the empty list stays, nothing omitted appears (MISSING is never serialized)
    assert parsed.model_dump(by_alias=True, exclude_unset=True) == {"couponCodes": []}
    assert "cartItems" not in parsed.model_dump(by_alias=True)


def test_request_models_do_not_coerce_types() -> None:
    with pytest.raises(ValidationError):
        requests.CartItem.model_validate({"name": "a", "sku": "b", "quantity": "1", "price": 1})
    with pytest.raises(ValidationError):
        requests.CartItem.model_validate({"name": "a", "sku": "b", "quantity": 1, "price": "1.5"})
    # JSON integers are valid numbers
    assert requests.CartItem.model_validate({"name": "a", "sku": "b", "quantity": 1, "price": 1}).price == 1


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
    dumped = parsed.model_dump(by_alias=True, mode="json")
    assert dumped["topLevelNew"] == {"nested": [1, 2]}
    assert dumped["effects"][0]["effectNew"] == "kept"
    assert dumped["effects"][0]["props"]["newProp"] is True


def test_effect_props_models_type_every_effect() -> None:
    effect_props = [n for n in SCHEMAS if n.endswith("EffectProps")]
    assert len(effect_props) == 19
    discount = responses.SetDiscountEffectProps.model_validate({"name": "Summer", "value": 12.5})
    assert discount.value == 12.5
    with pytest.raises(ValidationError):
        responses.SetDiscountEffectProps.model_validate({"name": "Summer"})
