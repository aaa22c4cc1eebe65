"""getReservedCustomers: GET /v1/coupon_reservations/customerprofiles/{couponValue}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import COUPON_VALUE, responses
from talon_gateway.models import responses as models
from talon_gateway.operations import GET_RESERVED_CUSTOMERS

router = APIGatewayRouter()


@router.get(
    GET_RESERVED_CUSTOMERS.route,
    operation_id=GET_RESERVED_CUSTOMERS.name,
    summary="Get the customers that have this coupon reserved",
    description="Lists the customer profiles holding a reservation of this coupon.",
    responses=responses(GET_RESERVED_CUSTOMERS, models.InlineResponse200),
    tags=["Coupon reservations"],
)
def get_reserved_customers(
    coupon_value: Annotated[str, Path(alias="couponValue", description=COUPON_VALUE, min_length=1)],
) -> Response[str]:
    return forward(GET_RESERVED_CUSTOMERS)


app = build_app(router)
lambda_handler = lambda_handler_for(GET_RESERVED_CUSTOMERS, app)
