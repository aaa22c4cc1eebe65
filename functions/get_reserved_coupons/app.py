"""getReservedCoupons: GET /v1/coupon_reservations/coupons/{integrationId}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import INTEGRATION_ID, responses
from talon_gateway.models import responses as models
from talon_gateway.operations import GET_RESERVED_COUPONS

router = APIGatewayRouter()


@router.get(
    GET_RESERVED_COUPONS.route,
    operation_id=GET_RESERVED_COUPONS.name,
    summary="Get all valid reserved coupons",
    description="Lists the valid and usable coupons reserved for this customer profile.",
    responses=responses(GET_RESERVED_COUPONS, models.InlineResponse2001),
    tags=["Coupon reservations"],
)
def get_reserved_coupons(
    integration_id: Annotated[str, Path(alias="integrationId", description=INTEGRATION_ID, min_length=1)],
) -> Response[str]:
    return forward(GET_RESERVED_COUPONS)


app = build_app(router)
lambda_handler = lambda_handler_for(GET_RESERVED_COUPONS, app)
