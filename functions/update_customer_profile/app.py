"""updateCustomerProfile: PUT /v1/customer_profiles/{integrationId}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import INTEGRATION_ID, responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import UPDATE_CUSTOMER_PROFILE

router = APIGatewayRouter()


@router.put(
    UPDATE_CUSTOMER_PROFILE.route,
    operation_id=UPDATE_CUSTOMER_PROFILE.name,
    summary="Update a customer profile",
    description=(
        "Updates (or creates) the customer profile. Use an identifier that never changes for the customer "
        "(a database id rather than an e-mail address)."
    ),
    responses=responses(UPDATE_CUSTOMER_PROFILE, models.IntegrationState),
    tags=["Customer profiles"],
)
def update_customer_profile(
    integration_id: Annotated[str, Path(alias="integrationId", description=INTEGRATION_ID, min_length=1)],
    profile: Annotated[requests.NewCustomerProfile, Body(description="The attributes to set")],
) -> Response[str]:
    return forward(UPDATE_CUSTOMER_PROFILE)


app = build_app(router)
lambda_handler = lambda_handler_for(UPDATE_CUSTOMER_PROFILE, app)
