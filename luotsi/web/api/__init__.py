"""The JSON API for integrations (an HR system, an accounting tool), under ``/api/v1``.

One controller module per resource; :mod:`.access` holds what they share (the bearer token,
scopes, rate limit, problem details, ETags, keyset pages). The OpenAPI document of these routes
alone is published at ``/api/v1/schema`` (docs/api.md).
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from luotsi.web.api.access import (
    EXCEPTION_HANDLERS,
    authenticate,
    etag_middleware,
    provide_caller,
)
from luotsi.web.api.agreements import AgreementsController
from luotsi.web.api.clients import ClientOrgsController, PeopleController
from luotsi.web.api.invoices import InvoicesController
from luotsi.web.api.sessions import AgreementSessionsController, SessionsController

API_PATH = "/api/v1"
SCHEMA_PATH = f"{API_PATH}/schema"
BEARER = "bearer"


def api_router() -> Router:
    return Router(
        path=API_PATH,
        route_handlers=[
            ClientOrgsController,
            PeopleController,
            AgreementsController,
            AgreementSessionsController,
            SessionsController,
            InvoicesController,
        ],
        guards=[authenticate],
        dependencies={"caller": Provide(provide_caller, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[etag_middleware],
        # A bearer token, never a cookie, authenticates these calls: no CSRF to forge.
        opt={"exclude_from_csrf": True},
        include_in_schema=True,
        security=[{BEARER: []}],
    )
