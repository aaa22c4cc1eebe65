"""updateCustomerSession: PUT /v1/customer_sessions/{customerSessionId}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import SESSION_ID, responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import UPDATE_CUSTOMER_SESSION

router = APIGatewayRouter()


@router.put(
    UPDATE_CUSTOMER_SESSION.route,
    operation_id=UPDATE_CUSTOMER_SESSION.name,
    summary="Update a customer session (v1)",
    description=(
        "Updates (or creates) the customer session. Cumulative: an omitted field keeps its value, an empty "
        "coupon or referral clears it. Answers the full integration state."
    ),
    responses=responses(UPDATE_CUSTOMER_SESSION, models.IntegrationState),
    tags=["Customer sessions"],
)
def update_customer_session(
    session_id: Annotated[str, Path(alias="customerSessionId", description=SESSION_ID, min_length=1)],
    session: Annotated[requests.NewCustomerSession, Body(description="The session fields to set")],
) -> Response[str]:
    return forward(UPDATE_CUSTOMER_SESSION)


app = build_app(router)
lambda_handler = lambda_handler_for(UPDATE_CUSTOMER_SESSION, app)
