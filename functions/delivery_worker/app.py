"""The delivery worker: SQS FIFO messages of accepted writes → Talon.One, in order per entity.

Each message names a delivery record (talon_gateway/delivery/deliveries.py); the worker sends it
through the same upstream client, signing and retry policy as the synchronous routes, and
reports failures per message (partial batch responses), so that only the failing entity waits.
"""

from talon_gateway.api.app import worker_handler

lambda_handler = worker_handler()
