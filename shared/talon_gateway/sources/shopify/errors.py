"""Typed failures of the Shopify source.

Verification reuses the gateway's own errors, which http_errors.py already answers:
``Unauthenticated(reason)`` (401) for anything wrong with the HMAC, ``InvalidRequest`` (400) for
the other headers. A verified payload that cannot be mapped raises ``InvalidPayload``, an
``InvalidRequest`` too, so a synchronous caller answers 400 and a worker can tell it apart (it is
never worth retrying: the same bytes fail the same way).
"""

from __future__ import annotations

from talon_gateway.errors import FieldProblem, InvalidRequest

# Unauthenticated reasons (fixed words for logs and metrics; never the header's value).
MISSING_SIGNATURE = "missing_signature"
REPEATED_SIGNATURE = "repeated_signature"
MALFORMED_SIGNATURE = "malformed_signature"
WRONG_SIGNATURE = "wrong_signature"


class InvalidPayload(InvalidRequest):
    """A verified Shopify payload lacks what its topic needs, or holds it in the wrong shape.

    ``pointer`` is a JSON pointer into the payload; the details are fixed texts, never a value
    (payloads hold customers' personal data).
    """

    def __init__(self, pointer: str, details: str) -> None:
        super().__init__([FieldProblem("Invalid Shopify payload", details, pointer=pointer)])
        self.pointer = pointer
        self.details = details
