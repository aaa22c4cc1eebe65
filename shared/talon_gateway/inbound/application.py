"""Which Talon.One application a request is for (several shops or brands behind one gateway).

API callers select it with ``X-Talon-Application: <name>``; without the header the request is
for the default application (upstream/credentials.py), so the SDKs work unchanged. Credentials
may be limited to some applications (``"applications": [...]`` in INBOUND_SECRET_ID).

Refusals: a repeated or unknown name, or none when there is no default → 400 naming the
header; a credential limited to other applications → 403.
"""

from __future__ import annotations

from collections.abc import Mapping

from talon_gateway.errors import FieldProblem, Forbidden, InvalidRequest
from talon_gateway.inbound.auth import Principal
from talon_gateway.operation import Operation
from talon_gateway.upstream.credentials import get_talon_secret

APPLICATION_HEADER = "x-talon-application"
_PARAMETER = "X-Talon-Application"


def _invalid(title: str, details: str) -> InvalidRequest:
    return InvalidRequest([FieldProblem(title, details, parameter=_PARAMETER)])


def select_application(
    headers: Mapping[str, str], repeated: set[str], principal: Principal, operation: Operation
) -> str:
    """The application's name, checked against the Talon.One secret and the caller's scope."""
    if APPLICATION_HEADER in repeated:
        raise _invalid("Repeated header", "Send X-Talon-Application once")
    secret = get_talon_secret()
    name = headers.get(APPLICATION_HEADER)
    if name is None:
        name = secret.default
        if name is None:
            raise _invalid("Missing header", "Several Talon.One applications and no default: name one")
    elif name not in secret.applications:
        # Names are configuration, not secrets; the value is not echoed all the same.
        raise _invalid("Unknown application", "No Talon.One application of that name is configured")
    if not principal.allows_application(name):
        raise Forbidden(operation.name, application=name)
    return name
