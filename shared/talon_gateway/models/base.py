"""Base classes of the generated models: the policy of each direction lives here, once."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class RequestModel(BaseModel):
    """What a storefront sends: strict, so nothing malformed or misspelt reaches Talon.One.

    Unknown fields are rejected (a typo such as ``profileID`` must not pass silently), numbers must
    be finite, and error messages never echo the input (it may hold customers' personal data).
    """

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        hide_input_in_errors=True,
        frozen=True,
    )

    def __repr__(self) -> str:
        # Fixed, cheap and free of personal data: Powertools formats the route arguments into a
        # debug message on every call, and a repr of a 50-item cart costs half a millisecond.
        return f"{type(self).__name__}(...)"

    __str__ = __repr__


class ResponseModel(BaseModel):
    """What Talon.One answers: lenient, fields the spec does not know are kept, never dropped.

    The gateway passes response bytes through unchanged; these models document the contract
    (OpenAPI) and type the sandbox. Building them is deferred until first use to keep cold
    starts short.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)


# Talon.One's integers are 64-bit: a larger one is refused here, not by Talon.One.
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
