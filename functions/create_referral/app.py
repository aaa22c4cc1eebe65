"""createReferral: POST /v1/referrals."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import CREATE_REFERRAL

router = APIGatewayRouter()


@router.post(
    CREATE_REFERRAL.route,
    operation_id=CREATE_REFERRAL.name,
    summary="Create a referral code for an advocate",
    description=(
        "Creates a referral code valid for the referral campaign campaignId and owned by the advocate "
        "profile advocateProfileIntegrationId."
    ),
    responses=responses(CREATE_REFERRAL, models.Referral),
    tags=["Referrals"],
)
def create_referral(
    referral: Annotated[requests.NewReferral, Body(description="The referral to create")],
) -> Response[str]:
    return forward(CREATE_REFERRAL)


app = build_app(router)
lambda_handler = lambda_handler_for(CREATE_REFERRAL, app)
