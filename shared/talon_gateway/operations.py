"""The 11 Talon.One Integration API operations the gateway serves, described once.

Each function's route, the upstream request, the template and the OpenAPI document all agree
with this table (tests/test_contract.py checks it).
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
    path: str  # Talon.One's path template, e.g. /v1/customer_sessions/{customerSessionId}
    has_body: bool
    query_params: tuple[str, ...] = ()
    api_key_only: bool = False  # True where Talon.One refuses the legacy Content-Signature
    cart_items_at: tuple[str, ...] | None = None  # where the body holds cart items (limits.py)
    csv_params: tuple[str, ...] = ()  # array query parameters sent comma-separated (explode: false)
    erases: str | None = None  # the path parameter naming the customer this operation erases
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

        Reads need no signed, single-use request (and would need a store to make it single-use);
        erasing a customer is too grave to be a notification: both take a bearer token.
        """
        return self.is_write and self.name != "deleteCustomerData"

    @property
    def function_dir(self) -> str:
        """Folder of the Lambda function under functions/, e.g. update_customer_session_v2."""
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.name).lower()


CREATE_COUPON_RESERVATION = Operation(
    "createCouponReservation", "POST", "/v1/coupon_reservations/{couponValue}", has_body=True
)
DELETE_COUPON_RESERVATION = Operation(
    "deleteCouponReservation", "DELETE", "/v1/coupon_reservations/{couponValue}", has_body=True
)
GET_RESERVED_COUPONS = Operation(
    "getReservedCoupons", "GET", "/v1/coupon_reservations/coupons/{integrationId}", has_body=False
)
GET_RESERVED_CUSTOMERS = Operation(
    "getReservedCustomers", "GET", "/v1/coupon_reservations/customerprofiles/{couponValue}", has_body=False
)
CREATE_REFERRAL = Operation("createReferral", "POST", "/v1/referrals", has_body=True)
GET_CUSTOMER_INVENTORY = Operation(
    "getCustomerInventory",
    "GET",
    "/v1/customer_profiles/{integrationId}/inventory",
    has_body=False,
    query_params=("profile", "referrals"),
)
DELETE_CUSTOMER_DATA = Operation(
    "deleteCustomerData",
    "DELETE",
    "/v1/customer_data/{integrationId}",
    has_body=False,
    erases="integrationId",
)
TRACK_EVENT = Operation("trackEvent", "POST", "/v1/events", has_body=True)
UPDATE_CUSTOMER_PROFILE = Operation(
    "updateCustomerProfile", "PUT", "/v1/customer_profiles/{integrationId}", has_body=True
)
UPDATE_CUSTOMER_SESSION = Operation(
    "updateCustomerSession", "PUT", "/v1/customer_sessions/{customerSessionId}", has_body=True
)
UPDATE_CUSTOMER_SESSION_V2 = Operation(
    "updateCustomerSessionV2",
    "PUT",
    "/v2/customer_sessions/{customerSessionId}",
    has_body=True,
    api_key_only=True,
    cart_items_at=("customerSession", "cartItems"),
)

OPERATIONS: tuple[Operation, ...] = (
    CREATE_COUPON_RESERVATION,
    DELETE_COUPON_RESERVATION,
    GET_RESERVED_COUPONS,
    GET_RESERVED_CUSTOMERS,
    CREATE_REFERRAL,
    GET_CUSTOMER_INVENTORY,
    DELETE_CUSTOMER_DATA,
    TRACK_EVENT,
    UPDATE_CUSTOMER_PROFILE,
    UPDATE_CUSTOMER_SESSION,
    UPDATE_CUSTOMER_SESSION_V2,
)

BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}
