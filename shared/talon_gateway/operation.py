"""What the gateway knows of one Talon.One Integration API operation.

The table of all of them (operations.py) is generated from Talon.One's OpenAPI documents by
tools/generate.py, with the functions, template.yaml's resources, the events and the OpenAPI
document: a test fails when any of them drifts from the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Method = Literal["GET", "POST", "PUT", "DELETE"]

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Operation:
    """One Integration API operation, as Talon.One defines it."""

    name: str  # Talon.One's operationId, also the metric dimension and idempotency scope
    method: Method
    path: str  # Talon.One's path template, e.g. /v2/customer_sessions/{customerSessionId}
    has_body: bool
    # Talon.One's success answers: (status, the schema of its body, None for none); the
    # schemas only document the gateway's OpenAPI
    successes: tuple[tuple[int, str | None], ...]
    tag: str
    query_params: tuple[str, ...] = ()
    # Today's operations authenticate with the API key only; the 2020 document's v1 operations
    # also took the legacy Content-Signature, which the gateway keeps sending on them.
    requires_api_key: bool = True
    content_signature: bool = False
    legacy: bool = False  # in the 2020 document, gone from today's API
    cart_items_at: tuple[str, ...] | None = None  # where the body holds cart items (inbound/limits.py)
    erases: str | None = None  # the path parameter naming the customer this operation erases
    local: bool = False  # answered by the gateway itself (no Talon.One application involved)
    # False: credentials' operation lists are checked by the handler against another operation
    # (a delivery's reader needs the scope of the operation that was queued, api/app.py)
    scoped: bool = True
    path_params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_params", tuple(_PARAM.findall(self.path)))

    @property
    def route(self) -> str:
        """The same path in Powertools' route syntax (``<name>`` placeholders)."""
        return _PARAM.sub(r"<\1>", self.path)

    @property
    def is_write(self) -> bool:
        """Writes (POST, PUT, DELETE) are deduplicated and never blindly retried."""
        return self.method != "GET"

    @property
    def accepts_webhooks(self) -> bool:
        """Whether a Standard Webhooks signature may authenticate it: writes, but not erasure.

        Reads need no signed, single-use request; erasing a customer is too grave to be a
        notification: both take a bearer token.
        """
        return self.is_write and self.erases is None

    @property
    def function_dir(self) -> str:
        """Folder of the Lambda function under functions/, e.g. update_customer_session_v2."""
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.name).lower()

    @property
    def logical_id(self) -> str:
        """The function's resource in template.yaml, e.g. UpdateCustomerSessionV2Function."""
        return self.name[0].upper() + self.name[1:] + "Function"
