"""updateCustomerSessionV2: PUT /v2/customer_sessions/{customerSessionId}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import SESSION_ID, responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import UPDATE_CUSTOMER_SESSION_V2

router = APIGatewayRouter()


@router.put(
    UPDATE_CUSTOMER_SESSION_V2.route,
    operation_id=UPDATE_CUSTOMER_SESSION_V2.name,
    summary="Update a customer session (v2)",
    description=(
        "Updates (or creates) the customer session, typically the cart. Cumulative: an omitted field keeps "
        "its value, an empty couponCodes clears the coupons. Answers the effects, created coupons and "
        "referrals, plus what responseContent asks for. Needs the gateway's Talon.One API key."
    ),
    responses=responses(UPDATE_CUSTOMER_SESSION_V2, models.IntegrationStateV2),
    tags=["Customer sessions"],
)
def update_customer_session_v2(
    session_id: Annotated[str, Path(alias="customerSessionId", description=SESSION_ID, min_length=1)],
    request: Annotated[requests.IntegrationRequest, Body(description="The session and what to answer")],
) -> Response[str]:
    return forward(UPDATE_CUSTOMER_SESSION_V2)


app = build_app(router)
lambda_handler = lambda_handler_for(UPDATE_CUSTOMER_SESSION_V2, app)
