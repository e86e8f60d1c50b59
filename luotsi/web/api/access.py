"""Who calls the API and what they may do: the bearer token, its scopes, its rate limit, and
the answers every API route shares (problem details, ETags, keyset pages).

The router's guard reads the token from ``Authorization: Bearer ...`` (never a cookie), takes
the firm from the token's text and scopes the request's database session to it before any
firm table is read, so row-level security and the ORM's tenant criteria both apply: another
firm's objects are simply not found (404). The token's own look-up, its rate limit and its
last-used time are written in a short transaction of their own, so that a refused or failed
call still counts against the limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, is_dataclass
from datetime import timedelta
from http import HTTPStatus
from typing import Any, TypeVar

import structlog
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.apitokens import TokenHolder, firm_of_token, holder_of_token, mark_used
from luotsi.platform.db import scope_to_tenant, tenant_session
from luotsi.platform.errors import Forbidden, Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Cursor, keyset_page
from luotsi.web.middleware import CONTROL_IN_FORM, db_session
from luotsi.web.problems import PROBLEM_JSON, problem

T = TypeVar("T")

log = structlog.get_logger(__name__)

CALLER_KEY = "api_caller"
RATE_BUCKET = "api"
RATE_WINDOW = timedelta(minutes=1)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class TokenRefused(NotAuthorizedException):
    """No token, or one that is unknown, revoked or no longer its owner's."""


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    scheme, _sep, text = connection.headers.get("authorization", "").partition(" ")
    return text.strip() if scheme.lower() == "bearer" else ""


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The router's guard: the token's firm set on the request's session, the token and the
    owner it acts as in ``connection.state``, one call counted against its limit."""
    text = _bearer(connection)
    tenant_id = firm_of_token(text)
    if tenant_id is None:
        raise TokenRefused()
    state = connection.app.state
    settings = state["settings"]
    async with tenant_session(state["sessionmaker"], tenant_id) as side:
        holder = await holder_of_token(side, text)
        if holder is None:
            raise TokenRefused()
        await state["shared_state"].limits.hit(
            side, RATE_BUCKET, str(holder.token.id), settings.api_requests_per_minute, RATE_WINDOW
        )
        mark_used(holder.token, clock.now())
    await scope_to_tenant(db_session(connection), tenant_id)  # type: ignore[arg-type]
    connection.state[CALLER_KEY] = holder


def needs(scope: str) -> Any:
    """A route guard: the token carries ``scope`` (e.g. ``sessions_write``), else 403."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        holder: TokenHolder = connection.state[CALLER_KEY]
        if not holder.token.allows(scope):
            raise PermissionDeniedException(
                detail=_("The token lacks the scope %(scope)s.") % {"scope": scope}
            )

    guard.__name__ = f"needs_{scope}"
    return guard


CALLER = NamedDependency[TokenHolder]
"""The calling token's holder, as a handler's ``caller`` parameter."""


def provide_caller(request: Request[Any, Any, Any]) -> TokenHolder:
    holder: TokenHolder = request.state[CALLER_KEY]
    return holder


# --- input ----------------------------------------------------------------------------------


def refuse_control_characters(data: Any) -> None:
    """:class:`Invalid` for any text field of the body ``data`` with control characters (a NUL
    byte, which PostgreSQL refuses), as a form's are refused."""
    if not is_dataclass(data):
        return
    errors = {
        item.name: _("Remove the control characters (such as a NUL byte).")
        for item in fields(data)
        if isinstance(getattr(data, item.name), str)
        and CONTROL_IN_FORM.search(getattr(data, item.name))
    }
    if errors:
        raise Invalid(errors)


def page_limit(limit: int | None) -> int:
    """How many items a list page holds: ``limit`` when given (1 to 100), else 50."""
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        message = _("Ask for 1 to %(n)d items.") % {"n": MAX_LIMIT}
        raise ValidationException(detail=message, extra=[{"key": "limit", "message": message}])
    return limit


def page_cursor(cursor: str | None) -> Cursor | None:
    """Where a list page starts: after the ``next`` cursor of the page before (400 if the
    text is no cursor a list gave)."""
    if not cursor:
        return None
    try:
        return Cursor.decode(cursor)
    except Invalid as exc:
        message = exc.errors["cursor"]
        raise ValidationException(
            detail=message, extra=[{"key": "cursor", "message": message}]
        ) from None


async def oldest_first(
    db: AsyncSession,
    statement: Select[tuple[T]],
    model: Any,
    cursor: str | None,
    limit: int | None,
) -> tuple[list[T], str | None]:
    """One page of a list in the API's order (``model``'s creation time, then its id), from
    the request's ``cursor`` and ``limit``, and the cursor of the next page."""
    return await keyset_page(
        db, statement, model.created_at, model.id, page_cursor(cursor), page_limit(limit)
    )


# --- errors as problem details --------------------------------------------------------------


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = {
            str(item.get("key") or item.get("source") or "body"): str(item.get("message", ""))
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        }
        return problem(400, str(exc.detail), errors=errors or None)
    detail = str(exc.detail) if status in (403, 405, 415) and exc.detail else ""
    if detail == HTTPStatus(status).phrase:  # Litestar's default detail: no news
        detail = ""
    return problem(status, detail)


def _not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    return problem(404)


def _forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[Any]:
    return problem(403)


def _invalid(request: Request[Any, Any, Any], exc: Invalid) -> Response[Any]:
    """422 naming each field; a refusal by the object's state alone (a session that is no
    longer planned, an invoice still a draft) is a conflict, 409."""
    if set(exc.errors) == {"status"}:
        return problem(409, exc.errors["status"])
    return problem(422, errors=exc.errors)


def _rate_limited(request: Request[Any, Any, Any], exc: RateLimited) -> Response[Any]:
    return problem(429, headers={"Retry-After": str(exc.retry_after_seconds)})


def _server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("api.failed", route=request.scope.get("path_template"), method=request.method)
    return problem(500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: _http_exception,
    NotFound: _not_found,
    Forbidden: _forbidden,
    Invalid: _invalid,
    RateLimited: _rate_limited,
    Exception: _server_error,
}


# --- ETags ----------------------------------------------------------------------------------


def etag_middleware(app: ASGIApp) -> ASGIApp:
    """An ETag on every successful read (the hash of its body); ``If-None-Match`` with it is
    answered 304 without the body. Reads are revalidated, never served from a cache."""

    async def middleware(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        start: Any = None
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _finish(scope, start, b"".join(chunks), send)

        await app(scope, receive, buffered)

    return middleware


async def _finish(scope: Scope, start: Any, body: bytes, send: Any) -> None:
    headers = MutableScopeHeaders.from_message(start)
    if start["status"] != 200:
        await send(start)
        await send({"type": "http.response.body", "body": body})
        return
    # Weak: the same JSON may go out gzipped or not (the app's compression), and
    # If-None-Match compares weakly anyway.
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers["etag"] = f"W/{tag}"
    headers["cache-control"] = "private, no-cache"
    asked = next((v for k, v in scope["headers"] if k == b"if-none-match"), b"").decode("latin-1")
    if tag in {given.strip().removeprefix("W/") for given in asked.split(",")} or asked == "*":
        not_modified = MutableScopeHeaders()
        for name in ("etag", "cache-control"):
            not_modified[name] = headers[name]
        await send({"type": "http.response.start", "status": 304, "headers": not_modified.headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(start)
    await send({"type": "http.response.body", "body": body})


# --- how errors look in the OpenAPI document ------------------------------------------------


@dataclass
class Problem:
    """Problem details (RFC 9457). ``errors`` (422, some 400) names each field's reason."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: dict[str, str] | None = None


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The refusals a route may answer, each described as problem details."""
    wanted = {400, 401, 403, 404, 429, *statuses}
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
        )
        for status in sorted(wanted)
    }
