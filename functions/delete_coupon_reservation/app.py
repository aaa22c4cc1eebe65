"""deleteCouponReservation: DELETE /v1/coupon_reservations/{couponValue}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import COUPON_VALUE, responses
from talon_gateway.models import requests
from talon_gateway.operations import DELETE_COUPON_RESERVATION

router = APIGatewayRouter()


@router.delete(
    DELETE_COUPON_RESERVATION.route,
    operation_id=DELETE_COUPON_RESERVATION.name,
    summary="Delete coupon reservations",
    description="Removes the reservation of the coupon for every customer profile listed in integrationIDs.",
    responses=responses(DELETE_COUPON_RESERVATION, None, status=204),
    tags=["Coupon reservations"],
)
def delete_coupon_reservation(
    coupon_value: Annotated[str, Path(alias="couponValue", description=COUPON_VALUE, min_length=1)],
    reservations: Annotated[requests.CouponReservations, Body(description="Whose reservation to remove")],
) -> Response[str]:
    return forward(DELETE_COUPON_RESERVATION)


app = build_app(router)
lambda_handler = lambda_handler_for(DELETE_COUPON_RESERVATION, app)
