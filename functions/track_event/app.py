"""trackEvent: POST /v1/events."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from talon_gateway.api.app import build_app, forward, lambda_handler_for
from talon_gateway.api.docs import responses
from talon_gateway.models import requests
from talon_gateway.models import responses as models
from talon_gateway.operations import TRACK_EVENT

router = APIGatewayRouter()


@router.post(
    TRACK_EVENT.route,
    operation_id=TRACK_EVENT.name,
    summary="Track an event",
    description=(
        "Records an arbitrary event in a customer session (sessionId is required). Unknown profiles "
        "and sessions are created empty; an existing session must belong to the same profileId. "
        "Answers the integration state with the effects that took place."
    ),
    responses=responses(TRACK_EVENT, models.IntegrationState),
    tags=["Events"],
)
def track_event(
    event: Annotated[requests.NewEvent, Body(description="The event to record")],
) -> Response[str]:
    return forward(TRACK_EVENT)


app = build_app(router)
lambda_handler = lambda_handler_for(TRACK_EVENT, app)
