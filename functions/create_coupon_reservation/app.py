"""createCouponReservation: POST /v1/coupon_reservations/{couponValue}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import COUPON_VALUE, responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import CREATE_COUPON_RESERVATION

router = APIGatewayRouter()


@router.post(
    CREATE_COUPON_RESERVATION.route,
    operation_id=CREATE_COUPON_RESERVATION.name,
    summary="Create a coupon reservation",
    description="Reserves the coupon for every customer profile listed in integrationIDs.",
    responses=responses(CREATE_COUPON_RESERVATION, models.Coupon),
    tags=["Coupon reservations"],
)
def create_coupon_reservation(
    coupon_value: Annotated[str, Path(alias="couponValue", description=COUPON_VALUE, min_length=1)],
    reservations: Annotated[requests.CouponReservations, Body(description="Who gets the coupon reserved")],
) -> Response[str]:
    return forward(CREATE_COUPON_RESERVATION)


app = build_app(router)
lambda_handler = lambda_handler_for(CREATE_COUPON_RESERVATION, app)
