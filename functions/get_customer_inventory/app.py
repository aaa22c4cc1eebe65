"""getCustomerInventory: GET /v1/customer_profiles/{integrationId}/inventory."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import INTEGRATION_ID, responses
from talon_gateway.models import responses as models
from talon_gateway.operations import GET_CUSTOMER_INVENTORY

router = APIGatewayRouter()


@router.get(
    GET_CUSTOMER_INVENTORY.route,
    operation_id=GET_CUSTOMER_INVENTORY.name,
    summary="Get the inventory of a customer profile",
    description="Lists what references this customer profile: the profile itself and its referral codes.",
    responses=responses(GET_CUSTOMER_INVENTORY, models.CustomerInventory),
    tags=["Customer data"],
)
def get_customer_inventory(
    integration_id: Annotated[str, Path(alias="integrationId", description=INTEGRATION_ID, min_length=1)],
    profile: Annotated[bool | None, Query(description="Include the customer profile")] = None,
    referrals: Annotated[bool | None, Query(description="Include the referral codes")] = None,
) -> Response[str]:
    return forward(GET_CUSTOMER_INVENTORY, query={"profile": profile, "referrals": referrals})


app = build_app(router)
lambda_handler = lambda_handler_for(GET_CUSTOMER_INVENTORY, app)
