"""Cart item catalogs: sync actions, catalog prices for cart items, and the best prior price."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.errors import bad_request, not_found
from sandbox.model import Context, iso
from sandbox.spec import parse_datetime

SYNC_ACTIONS = ("ADD", "PATCH", "PATCH_MANY", "REMOVE", "REMOVE_MANY", "ADD_PRICE_ADJUSTMENT")
NUMERIC_OPS = {"LT": float.__lt__, "LE": float.__le__, "GT": float.__gt__, "GE": float.__ge__}


@dataclass(slots=True)
class CatalogItem:
    id: int
    sku: str
    price: float | None
    created: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    product: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PriceObservation:
    id: int
    sku: str
    price: float
    observed_at: datetime
    context_ids: tuple[str, ...] = ()


@dataclass(slots=True)
class Catalog:
    id: int
    name: str
    description: str
    created: datetime
    subscribed_application_ids: list[int]
    version: int = 1
    modified: datetime | None = None
    created_by: int = 1
    items: dict[str, CatalogItem] = field(default_factory=dict)
    history: list[PriceObservation] = field(default_factory=list)

    def to_json(self, ctx: Context) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": iso(self.created),
            "accountId": ctx.account_id,
            "modified": iso(self.modified or self.created),
            "name": self.name,
            "description": self.description,
            "subscribedApplicationsIds": list(self.subscribed_application_ids),
            "version": self.version,
            "createdBy": self.created_by,
        }


def _matches(item: CatalogItem, filters: Iterable[Mapping[str, Any]]) -> bool:
    """Every filter holds: EQ/IN compare as text, LT/LE/GT/GE numerically (non-numbers never match)."""
    for rule in filters:
        attr, op, value = rule.get("attr"), rule.get("op"), rule.get("value")
        actual = item.attributes.get(str(attr))
        if op == "EQ":
            ok = actual is not None and str(actual) == str(value)
        elif op == "IN":
            ok = actual is not None and str(actual) in [v.strip() for v in str(value).split(",")]
        elif op in NUMERIC_OPS:
            try:
                ok = NUMERIC_OPS[op](float(actual), float(value))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                ok = False
        else:
            raise bad_request(f"Unknown filter operator {op!r}", "/actions")
        if not ok:
            return False
    return True


def _check_payload(kind: str, payload: Mapping[str, Any], pointer: str) -> None:
    """The payload is free-form in the spec: check what the action reads from it."""
    if kind not in ("PATCH_MANY", "REMOVE_MANY") and not isinstance(payload.get("sku"), str):
        raise bad_request(f"{kind} needs a string 'sku'", f"{pointer}/sku")
    price = payload.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, int | float)):
        raise bad_request("'price' must be a number", f"{pointer}/price")
    if not isinstance(payload.get("attributes", {}), dict):
        raise bad_request("'attributes' must be an object", f"{pointer}/attributes")


class Catalogs:
    def __init__(self, catalogs: Iterable[Catalog]) -> None:
        self.catalogs: dict[int, Catalog] = {c.id: c for c in catalogs}
        self._last_item_id = max([i.id for c in self.catalogs.values() for i in c.items.values()] + [0])
        self._last_price_id = max([o.id for c in self.catalogs.values() for o in c.history] + [0])

    def item(self, sku: str, application_id: int) -> CatalogItem | None:
        """The catalog item of ``sku`` in the first catalog the application subscribes to."""
        for catalog in self.catalogs.values():
            if application_id in catalog.subscribed_application_ids and sku in catalog.items:
                return catalog.items[sku]
        return None

    def _observe(self, catalog: Catalog, sku: str, price: float, now: datetime, context: str = "") -> None:
        self._last_price_id += 1
        contexts = (context,) if context else ()
        catalog.history.append(PriceObservation(self._last_price_id, sku, price, now, contexts))

    def sync(self, catalog_id: int, body: Mapping[str, Any], now: datetime) -> Catalog:
        """Apply the actions all or nothing: validated on a copy, which then replaces the catalog."""
        found = self.catalogs.get(catalog_id)
        if found is None:
            raise not_found(f"Catalog {catalog_id} does not exist")
        actions: list[Mapping[str, Any]] = body["actions"]
        if len({a["type"] for a in actions}) > 1:
            raise bad_request("A sync request can perform only one type of action", "/actions")
        if "version" in body and body["version"] != found.version:
            raise bad_request(
                f"Catalog {catalog_id} is at version {found.version}, not {body['version']}", "/version"
            )
        skus = [a["payload"].get("sku") for a in actions if a["payload"].get("sku") is not None]
        if len(skus) != len(set(skus)):
            raise bad_request("Duplicate SKU values in one sync request", "/actions")
        catalog = copy.deepcopy(found)
        last_item, last_price = self._last_item_id, self._last_price_id
        try:
            for index, action in enumerate(actions):
                self._apply(catalog, action["type"], action["payload"], f"/actions/{index}/payload", now)
        except Exception:
            self._last_item_id, self._last_price_id = last_item, last_price
            raise
        catalog.version += 1
        catalog.modified = now
        self.catalogs[catalog_id] = catalog
        return catalog

    def _apply(
        self, catalog: Catalog, kind: str, payload: Mapping[str, Any], pointer: str, now: datetime
    ) -> None:
        _check_payload(kind, payload, pointer)
        sku, price = payload.get("sku"), payload.get("price")
        if kind in ("PATCH_MANY", "REMOVE_MANY"):
            self._apply_many(catalog, kind, payload, pointer, now)
            return
        assert isinstance(sku, str)
        if kind == "ADD":
            if sku in catalog.items and not payload.get("replaceIfExists", False):
                raise bad_request(f"SKU {sku!r} is already in the catalog", f"{pointer}/sku")
            self._last_item_id += 1
            attributes = dict(payload.get("attributes", {}))
            catalog.items[sku] = CatalogItem(
                self._last_item_id, sku, price, now, attributes, payload.get("product")
            )
            if price is not None:
                self._observe(catalog, sku, float(price), now)
            return
        existing = catalog.items.get(sku)
        if kind == "PATCH" and existing is None and payload.get("createIfNotExists", False):
            self._last_item_id += 1
            existing = catalog.items[sku] = CatalogItem(self._last_item_id, sku, None, now)
        if existing is None:
            raise bad_request(f"SKU {sku!r} is not in the catalog", f"{pointer}/sku")
        if kind == "PATCH":
            self._patch(catalog, existing, payload, now)
        elif kind == "REMOVE":
            del catalog.items[sku]
        else:  # ADD_PRICE_ADJUSTMENT: a contextual price, kept for the best prior price only.
            if price is None:
                raise bad_request("ADD_PRICE_ADJUSTMENT needs a 'price'", f"{pointer}/price")
            context = str(payload.get("contextId") or payload.get("referenceId") or "")
            self._observe(catalog, sku, float(price), now, context)

    def _apply_many(
        self, catalog: Catalog, kind: str, payload: Mapping[str, Any], pointer: str, now: datetime
    ) -> None:
        filters = payload.get("filters", [])
        if not isinstance(filters, list) or not all(isinstance(f, dict) for f in filters):
            raise bad_request("'filters' must be a list of {attr, op, value}", f"{pointer}/filters")
        for item in [i for i in catalog.items.values() if _matches(i, filters)]:
            if kind == "REMOVE_MANY":
                del catalog.items[item.sku]
            else:
                self._patch(catalog, item, payload, now)

    def _patch(self, catalog: Catalog, item: CatalogItem, payload: Mapping[str, Any], now: datetime) -> None:
        if "attributes" in payload:
            item.attributes = {**item.attributes, **copy.deepcopy(payload["attributes"])}
        if "product" in payload:
            item.product = copy.deepcopy(payload["product"])
        if payload.get("price") is not None:
            item.price = float(payload["price"])
            self._observe(catalog, item.sku, item.price, now)

    def best_prior_price(self, body: Mapping[str, Any], application_id: int) -> list[dict[str, Any]]:
        """The lowest observed price of each SKU within ``timeframe`` days before the end date.

        ``strict`` ends the window at ``timeframeEndDate``; ``price`` and ``sale`` end it where
        the price current at that date started (the sandbox has no sale contexts of its own).
        """
        end = parse_datetime(body["timeframeEndDate"])
        assert end is not None  # format checked by the request schema
        try:
            days = float(body["timeframe"])
        except ValueError:
            raise bad_request("'timeframe' must be a number of days", "/timeframe") from None
        start = end - timedelta(days=days)
        target = body.get("target", {"targetType": "NONE"})
        out: list[dict[str, Any]] = []
        for sku in dict.fromkeys(body["skus"]):
            history = sorted(
                (
                    o
                    for c in self.catalogs.values()
                    if application_id in c.subscribed_application_ids
                    for o in c.history
                    if o.sku == sku
                ),
                key=lambda o: o.observed_at,
            )
            window_end = end
            if body["timeframeEndDateType"] != "strict":
                current = [o for o in history if o.observed_at <= end]
                if current:
                    window_end = current[-1].observed_at
            prior = [o for o in history if start <= o.observed_at <= window_end]
            if body["timeframeEndDateType"] != "strict":
                prior = [o for o in prior if o.observed_at < window_end]
            if not prior:
                continue
            best = min(prior, key=lambda o: (o.price, o.observed_at))
            out.append(
                {
                    "id": best.id,
                    "sku": sku,
                    "observedAt": iso(best.observed_at),
                    "contextIds": list(best.context_ids),
                    "contextId": best.context_ids[0] if best.context_ids else "",
                    "price": best.price,
                    "metadata": {"influencingCampaignDetails": []},
                    "target": copy.deepcopy(target),
                }
            )
        return out
