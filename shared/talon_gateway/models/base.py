"""Base classes of the generated models: the policy of each direction lives here, once."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict

# The deployment's choice for fields the spec does not define (template parameter
# UnknownRequestFields): "refuse" them by name (the default: a typo such as ``profileID`` must
# not pass silently), or "forward" them to Talon.One (a field Talon.One added after the
# gateway was generated then works at once; a typo then fails at Talon.One, or silently).
UNKNOWN_FIELDS_ENV = "UNKNOWN_REQUEST_FIELDS"


def unknown_fields() -> Literal["forbid", "ignore"]:
    choice = os.environ.get(UNKNOWN_FIELDS_ENV, "refuse")
    if choice not in ("refuse", "forward"):
        raise ValueError(f"{UNKNOWN_FIELDS_ENV} must be refuse or forward")
    # "ignore", not "allow": the gateway forwards the caller's bytes, never the model.
    return "forbid" if choice == "refuse" else "ignore"


class RequestModel(BaseModel):
    """What a storefront sends: strict, so nothing malformed reaches Talon.One.

    Types, required fields, enums, lengths and bounds as the spec states them; numbers must be
    finite; error messages never echo the input (it may hold customers' personal data); unknown
    fields as the deployment chose (``UNKNOWN_REQUEST_FIELDS``, read when the models load).
    Models are built on first use: a function validates one body, not the whole API's.
    """

    model_config = ConfigDict(
        extra=unknown_fields(),
        allow_inf_nan=False,
        hide_input_in_errors=True,
        frozen=True,
        defer_build=True,
    )

    def __repr__(self) -> str:
        # Fixed, cheap and free of personal data: Powertools formats the route arguments into a
        # debug message on every call, and a repr of a 50-item cart costs half a millisecond.
        return f"{type(self).__name__}(...)"

    __str__ = __repr__


class ResponseModel(BaseModel):
    """What Talon.One answers: lenient, fields the spec does not know are kept, never dropped.

    The gateway passes response bytes through unchanged; these models document the contract
    (the gateway's OpenAPI) and are never imported by a Lambda function.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)
