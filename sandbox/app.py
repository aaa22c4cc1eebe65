"""Transport-independent request handling: routing, faults, auth, validation, operations, admin.

The HTTP layer (server.py) turns bytes into a Request and writes back the Reply; everything
Talon.One-specific happens here, under one lock for the state.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict
from urllib.parse import parse_qsl

from sandbox.auth import authenticate
from sandbox.credentials import SandboxCredentials
from sandbox.errors import ApiError, bad_request, error_body, not_found, reason
from sandbox.faults import SHORT_CIRCUIT, Fault, FaultQueue
from sandbox.model import iso
from sandbox.seed import Seed
from sandbox.spec import Operation, Spec
from sandbox.store import SessionPatch, Store

logger = logging.getLogger("sandbox")

ADMIN_PREFIX = "/_sandbox"
JSON_HEADERS = (("Content-Type", "application/json"),)
# Default messages of the `status` fault; 409 is Talon.One's own wording for concurrent updates.
FAULT_MESSAGES = {
    409: "Too many requests are updating this session at the same time",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
MALFORMED_BODY = b'{"effects": [{"campaignId": 1, "effectType": "setDisc'
V2_RESPONSE_CONTENT = (
    "customerSession",
    "customerProfile",
    "coupons",
    "triggeredCampaigns",
    "referral",
    "loyalty",
    "event",
)

Transport = Literal["normal", "drop", "truncate"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # the request target exactly as received (percent-encoded path and query)
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_host: str = "127.0.0.1"

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer; ``drop`` closes without answering, ``truncate`` sends half a body and closes."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    transport: Transport = "normal"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: path still percent-encoded, headers in order and case."""

    operation: str | None  # None when the path matched no operation
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    time: datetime

    def header(self, name: str) -> str | None:
        """First value of a header, looked up case-insensitively."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)

    def to_json(self) -> dict[str, Any]:
        try:
            body, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [[k, v] for k, v in self.headers],
            "body": body,
            "bodyEncoding": encoding,
            "time": iso(self.time),
        }


class OperationCounts(TypedDict):
    received: int
    processed: int  # requests whose side effects were committed (2xx outcome of the operation)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_reply(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, encode(payload), JSON_HEADERS + headers)


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON (NaN and Infinity refused, as Go's decoder does)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}", title="Invalid JSON") from None


Handler = Callable[[dict[str, str], dict[str, bool], Any, datetime], tuple[int, Any]]


class SandboxApp:
    def __init__(
        self, credentials: SandboxCredentials, seed: Seed, spec: Spec, stopping: threading.Event
    ) -> None:
        self.spec = spec
        self.seed = seed
        self._credentials = credentials
        self._stopping = stopping
        self._lock = threading.Lock()
        self.store = Store(seed, int(credentials.application_id))
        self.faults = FaultQueue(frozenset(spec.operations))
        self._log: list[RecordedRequest] = []
        self._counts = self._zero_counts()
        self._handlers: dict[str, Handler] = {
            "createCouponReservation": self._create_coupon_reservation,
            "deleteCouponReservation": self._delete_coupon_reservation,
            "getReservedCoupons": self._get_reserved_coupons,
            "getReservedCustomers": self._get_reserved_customers,
            "createReferral": self._create_referral,
            "getCustomerInventory": self._get_customer_inventory,
            "deleteCustomerData": self._delete_customer_data,
            "trackEvent": self._track_event,
            "updateCustomerProfile": self._update_customer_profile,
            "updateCustomerSession": self._update_customer_session,
            "updateCustomerSessionV2": self._update_customer_session_v2,
        }
        missing = set(spec.operations) ^ set(self._handlers)
        if missing:
            raise ValueError(f"spec and sandbox disagree on operations: {sorted(missing)}")

    # -- control (used by Sandbox and the admin endpoints) -------------------------------------

    def _zero_counts(self) -> dict[str, OperationCounts]:
        return {op: OperationCounts(received=0, processed=0) for op in self.spec.operations}

    @property
    def credentials(self) -> SandboxCredentials:
        return self._credentials

    def rotate_api_key(self, new_key: str, *, keep_old: bool = False) -> None:
        with self._lock:
            self._credentials = self._credentials.with_api_key(new_key, keep_old=keep_old)

    def reset(self) -> None:
        with self._lock:
            self.store = Store(self.seed, int(self._credentials.application_id))
            self._log.clear()
            self._counts = self._zero_counts()

    def received(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def counts(self, operation: str) -> OperationCounts:
        with self._lock:
            if operation not in self._counts:
                raise ValueError(f"unknown operation {operation!r}")
            return OperationCounts(**self._counts[operation])

    def all_counts(self) -> dict[str, OperationCounts]:
        with self._lock:
            return {op: OperationCounts(**c) for op, c in self._counts.items()}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.store.snapshot()

    # -- request pipeline ----------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        path = request.path
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(request)
        try:
            op, params = self.spec.route(request.method, path)
        except ApiError as error:
            self._record(request, None)
            return error_reply(error)
        self._record(request, op.operation_id)
        fault = self.faults.take(op.operation_id)
        if fault is not None:
            logger.info("fault %s on %s", fault.action, op.operation_id)
            if fault.latency_ms:
                # Interruptible, so stopping the sandbox does not wait for injected latency.
                self._stopping.wait(fault.latency_ms / 1000)
            if fault.action in SHORT_CIRCUIT:
                return self._fault_reply(fault)
        reply = self._process(op, params, request)
        if fault is not None and fault.action == "malformed":
            return Reply(fault.status or 200, MALFORMED_BODY, JSON_HEADERS)
        if fault is not None and fault.action == "drop_after_processing":
            return replace(reply, transport="truncate")
        return reply

    def _record(self, request: Request, operation: str | None) -> None:
        entry = RecordedRequest(
            operation=operation,
            method=request.method,
            path=request.path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            time=datetime.now(UTC),
        )
        with self._lock:
            self._log.append(entry)
            if operation is not None:
                self._counts[operation]["received"] += 1

    def _fault_reply(self, fault: Fault) -> Reply:
        if fault.action == "drop":
            return Reply(0, transport="drop")
        headers = () if fault.retry_after is None else (("Retry-After", str(fault.retry_after)),)
        if fault.action == "respond":
            return json_reply(fault.status or 200, fault.body, headers)
        status = fault.status or 500
        body = fault.body
        if body is None:
            body = error_body(status, FAULT_MESSAGES.get(status, reason(status)))
        return json_reply(status, body, headers)

    def _process(self, op: Operation, params: dict[str, str], request: Request) -> Reply:
        try:
            authenticate(request.headers, request.body, self.credentials, op.schemes)
            flags = self._flags(op, request.query)
            body: Any = None
            if op.request_schema is not None:
                body = parse_json(request.body)
                errors = self.spec.field_errors(op.request_schema, body)
                if errors:
                    raise ApiError(400, "Request body is invalid", errors)
                body = self.spec.prune(op.request_schema, body)
            with self._lock:
                status, payload = self._handlers[op.operation_id](params, flags, body, datetime.now(UTC))
                self._counts[op.operation_id]["processed"] += 1
                # Encode under the lock: payloads are fresh copies, but encoding here is cheap insurance.
                data = b"" if payload is None else encode(payload)
        except ApiError as error:
            return error_reply(error)
        return Reply(status, data, JSON_HEADERS if payload is not None else ())

    def _flags(self, op: Operation, query: str) -> dict[str, bool]:
        pairs = parse_qsl(query, keep_blank_values=True)
        flags: dict[str, bool] = {}
        for name in op.boolean_query:
            values = [v for k, v in pairs if k == name]
            if not values:
                continue
            if values[-1] not in ("true", "false"):
                raise bad_request(
                    f"Query parameter {name!r} must be 'true' or 'false', got {values[-1]!r}",
                    f"/query/{name}",
                    title="Invalid query parameter",
                )
            flags[name] = values[-1] == "true"
        return flags

    # -- the 11 operations (called under the lock) ---------------------------------------------

    def _create_coupon_reservation(
        self, params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        coupon = self.store.reserve(params["couponValue"], body["integrationIDs"], now)
        return 200, coupon.to_json()

    def _delete_coupon_reservation(
        self, params: dict[str, str], _flags: dict[str, bool], body: Any, _now: datetime
    ) -> tuple[int, Any]:
        self.store.unreserve(params["couponValue"], body["integrationIDs"])
        return 204, None

    def _get_reserved_coupons(
        self, params: dict[str, str], _flags: dict[str, bool], _body: Any, now: datetime
    ) -> tuple[int, Any]:
        coupons = self.store.reserved_coupons(params["integrationId"], now)
        return 200, {"totalResultSize": len(coupons), "data": [c.to_json() for c in coupons]}

    def _get_reserved_customers(
        self, params: dict[str, str], _flags: dict[str, bool], _body: Any, _now: datetime
    ) -> tuple[int, Any]:
        profiles = self.store.reserved_customers(params["couponValue"])
        return 200, {"totalResultSize": len(profiles), "data": profiles}

    def _create_referral(
        self, _params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        return 200, self.store.create_referral(body, now).to_json()

    def _get_customer_inventory(
        self, params: dict[str, str], flags: dict[str, bool], _body: Any, _now: datetime
    ) -> tuple[int, Any]:
        inventory = self.store.inventory(
            params["integrationId"],
            profile=flags.get("profile", False),
            referrals=flags.get("referrals", False),
        )
        return 200, inventory

    def _delete_customer_data(
        self, params: dict[str, str], _flags: dict[str, bool], _body: Any, _now: datetime
    ) -> tuple[int, Any]:
        self.store.delete_customer_data(params["integrationId"])
        return 204, None

    def _track_event(
        self, _params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        store = self.store
        session, profile, event = store.track_event(
            body["sessionId"], body.get("profileId"), body["type"], body["attributes"], now
        )
        return 200, {
            "session": session.to_v1_json(store.ctx),
            "profile": profile.to_json(store.ctx) if profile else store.anonymous_profile_json(now),
            "event": event.to_json(store.ctx),
        }

    def _update_customer_profile(
        self, params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        store = self.store
        profile, event = store.update_profile(params["integrationId"], body.get("attributes"), now)
        return 200, {
            "session": store.no_session_json(profile.integration_id),
            "profile": profile.to_json(store.ctx),
            "event": event.to_json(store.ctx),
        }

    def _update_customer_session(
        self, params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        store = self.store
        outcome = store.update_session(params["customerSessionId"], SessionPatch.from_v1(body), now)
        profile = outcome.profile
        return 200, {
            "session": outcome.session.to_v1_json(store.ctx),
            "profile": profile.to_json(store.ctx) if profile else store.anonymous_profile_json(now),
            "event": outcome.event.to_json(store.ctx),
        }

    def _update_customer_session_v2(
        self, params: dict[str, str], _flags: dict[str, bool], body: Any, now: datetime
    ) -> tuple[int, Any]:
        store = self.store
        outcome = store.update_session(
            params["customerSessionId"], SessionPatch.from_v2(body["customerSession"]), now
        )
        session = outcome.session
        out: dict[str, Any] = {
            "effects": list(outcome.event.to_json(store.ctx)["effects"]),
            "createdCoupons": [],
            "createdReferrals": [],
        }
        # Unknown responseContent values are ignored; the spec does not enumerate them.
        wanted = set(body.get("responseContent", [])) & set(V2_RESPONSE_CONTENT)
        if "customerSession" in wanted:
            out["customerSession"] = session.to_v2_json(store.ctx)
        if "customerProfile" in wanted and outcome.profile is not None:
            out["customerProfile"] = outcome.profile.to_json(store.ctx)
        if "coupons" in wanted:
            codes = dict.fromkeys(session.coupon_codes)
            out["coupons"] = [store.coupons[c].to_json() for c in codes if c in store.coupons]
        if "triggeredCampaigns" in wanted:
            out["triggeredCampaigns"] = [c.to_json(store.ctx) for c in outcome.evaluation.triggered]
        if "referral" in wanted and session.referral_code in store.referrals:
            out["referral"] = store.referrals[session.referral_code].to_json()
        if "loyalty" in wanted:
            out["loyalty"] = {"programs": {}}
        if "event" in wanted:
            out["event"] = outcome.event.to_json(store.ctx)
        return 200, out

    # -- admin endpoints -----------------------------------------------------------------------

    def _admin(self, request: Request) -> Reply:
        try:
            if not _is_loopback(request.client_host):
                raise ApiError(403, "The sandbox's admin endpoints answer loopback clients only")
            route = (request.method, request.path.removeprefix(ADMIN_PREFIX))
            routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
                ("POST", "/faults"): self._admin_add_fault,
                ("GET", "/faults"): lambda _r: json_reply(200, {"faults": self.faults.pending()}),
                ("DELETE", "/faults"): self._admin_clear_faults,
                ("POST", "/reset"): self._admin_reset,
                ("GET", "/requests"): self._admin_requests,
                ("GET", "/counts"): lambda _r: json_reply(200, self.all_counts()),
                ("POST", "/credentials"): self._admin_credentials,
                ("GET", "/state"): lambda _r: json_reply(200, self.snapshot()),
            }
            handler = routes.get(route)
            if handler is None:
                raise not_found(f"No admin endpoint {request.method} {request.path}")
            return handler(request)
        except ApiError as error:
            return error_reply(error)

    def _admin_object(self, request: Request) -> Mapping[str, Any]:
        data = parse_json(request.body)
        if not isinstance(data, dict):
            raise bad_request("Expected a JSON object")
        return data

    def _admin_add_fault(self, request: Request) -> Reply:
        try:
            fault = Fault.from_json(self._admin_object(request))
            self.faults.add(fault)
        except ValueError as exc:
            raise bad_request(str(exc), title="Invalid fault") from None
        return json_reply(201, fault.to_json())

    def _admin_clear_faults(self, _request: Request) -> Reply:
        self.faults.clear()
        return Reply(204)

    def _admin_reset(self, _request: Request) -> Reply:
        self.reset()
        return Reply(204)

    def _admin_requests(self, request: Request) -> Reply:
        wanted = dict(parse_qsl(request.query)).get("operation")
        entries = [r.to_json() for r in self.received() if wanted is None or r.operation == wanted]
        return json_reply(200, {"requests": entries})

    def _admin_credentials(self, request: Request) -> Reply:
        data = self._admin_object(request)
        key, keep_old = data.get("apiKey"), data.get("keepOld", False)
        if not isinstance(key, str) or not isinstance(keep_old, bool):
            raise bad_request("Expected {'apiKey': string, 'keepOld': boolean}", title="Invalid rotation")
        try:
            self.rotate_api_key(key, keep_old=keep_old)
        except ValueError as exc:
            raise bad_request(str(exc), "/apiKey", title="Invalid rotation") from None
        return Reply(204)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)
