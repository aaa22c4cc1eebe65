"""deleteCustomerData: DELETE /v1/customer_data/{integrationId}."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import INTEGRATION_ID, responses
from talon_gateway.operations import DELETE_CUSTOMER_DATA

router = APIGatewayRouter()


@router.delete(
    DELETE_CUSTOMER_DATA.route,
    operation_id=DELETE_CUSTOMER_DATA.name,
    summary="Delete the personal data of a customer",
    description=(
        "Erases every attribute of the customer profile and of the entities that reference it "
        "(right to erasure)."
    ),
    responses=responses(DELETE_CUSTOMER_DATA, None, status=204),
    tags=["Customer data"],
)
def delete_customer_data(
    integration_id: Annotated[str, Path(alias="integrationId", description=INTEGRATION_ID, min_length=1)],
) -> Response[str]:
    return forward(DELETE_CUSTOMER_DATA)


app = build_app(router)
lambda_handler = lambda_handler_for(DELETE_CUSTOMER_DATA, app)
