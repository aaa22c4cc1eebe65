"""getDelivery: GET /deliveries/{deliveryId}, the state of an asynchronous delivery."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api import docs
from talon_gateway.api.app import build_app, lambda_handler_for, read_delivery
from talon_gateway.api.routes import GET_DELIVERY as OPERATION

router = APIGatewayRouter()


@router.get(
    OPERATION.route,
    operation_id=OPERATION.name,
    summary="Read an asynchronous delivery",
    description=(
        "The state of a write accepted with Prefer: respond-async (202): queued, delivered, failed "
        "(the last attempt failed, a retry is scheduled) or dead (in the dead-letter queue), its "
        "attempts, and once Talon.One answered, its status and body. Readable by the credentials "
        "that may call the original operation, for the idempotency period."
    ),
    responses=docs.responses(OPERATION),
    tags=[OPERATION.tag],
)
def get_delivery(
    delivery_id: Annotated[
        str, Path(alias="deliveryId", description="The id of the 202's body", pattern=r"^dlv_[0-9a-f]{32}$")
    ],
) -> Response[str]:
    return read_delivery(delivery_id)


app = build_app(router)
lambda_handler = lambda_handler_for(OPERATION, app)
