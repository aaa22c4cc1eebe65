"""Shopify -> Talon.One: webhook verification (verify.py) and payload mapping (mapping.py).

Pure code: no I/O. A function verifies and queues, a worker maps and sends; see README.md.
"""

from talon_gateway.sources.shopify.config import ShopifyConfig
from talon_gateway.sources.shopify.errors import InvalidPayload
from talon_gateway.sources.shopify.mapping import (
    Acknowledge,
    AckReason,
    Deliver,
    DropReason,
    Erase,
    Export,
    OrderRecord,
    Outcome,
    Read,
    SessionState,
    UnknownOrder,
    Write,
    WriteKind,
    drop_reason,
    map_webhook,
    order_to_load,
    session_id_of,
)
from talon_gateway.sources.shopify.verify import ShopifyWebhook, parse_instant, verify_webhook

__all__ = [
    "AckReason",
    "Acknowledge",
    "Deliver",
    "DropReason",
    "Erase",
    "Export",
    "InvalidPayload",
    "OrderRecord",
    "Outcome",
    "Read",
    "SessionState",
    "ShopifyConfig",
    "ShopifyWebhook",
    "UnknownOrder",
    "Write",
    "WriteKind",
    "drop_reason",
    "map_webhook",
    "order_to_load",
    "parse_instant",
    "session_id_of",
    "verify_webhook",
]
