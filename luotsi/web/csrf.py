"""CSRF tokens bound to the sign-in session.

Litestar's middleware compares a token in the form or the ``x-csrftoken`` header with a signed
random token in a cookie (double submit). Ours keeps that for visitors who are not signed in,
and binds the token of a signed-in browser to its session: it is an HMAC of the session
cookie's token under the secret key, so it cannot be computed without both, changes with every
sign-in (a token from before the sign-in is refused after it) and dies with the session. The
cookie carries the same value for clients that read it; the check does not trust it.
"""

from __future__ import annotations

import hashlib
import hmac
from secrets import compare_digest
from typing import Any

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware._utils import should_bypass_middleware
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from luotsi.platform.settings import Settings
from luotsi.web.middleware import CSRF_COOKIE, SESSION_COOKIE, cookie_name

CSRF_HEADER = "x-csrftoken"
CSRF_FIELD = "_csrf_token"


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_name=cookie_name(CSRF_COOKIE, settings.debug),
        header_name=CSRF_HEADER,
        cookie_secure=not settings.debug,
        cookie_samesite="lax",
        cookie_httponly=True,
    )


def session_csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token of the session whose cookie holds ``session_token``."""
    return hmac.new(secret.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def set_csrf_cookie(response: Response[Any], settings: Settings, session_token: str) -> None:
    """Hand the browser the token of its new session (the sign-in response)."""
    config = csrf_config(settings)
    response.set_cookie(
        config.cookie_name,
        session_csrf_token(config.secret, session_token),
        httponly=True,
        samesite="lax",
        secure=not settings.debug,
        path="/",
    )


class SessionBoundCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF middleware with the expected token taken from the session (above)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or should_bypass_middleware(
            scope=scope,
            scopes=self.scopes,
            exclude_opt_key=self.config.exclude_from_csrf_key,
            exclude_path_pattern=self.exclude,
        ):
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope, receive)
        cookie = request.cookies.get(self.config.cookie_name)
        debug = request.app.state["settings"].debug
        session_token = request.cookies.get(cookie_name(SESSION_COOKIE, debug))
        expected: str | None
        if session_token:
            expected = session_csrf_token(self.config.secret, session_token)
        else:
            expected = cookie if cookie and self._decode_csrf_token(cookie) else None
        state = ScopeState.from_scope(scope)
        if request.method in self.config.safe_methods:
            token = state.csrf_token = expected or generate_csrf_token(self.config.secret)
            known = cookie if cookie == token else None
            await self.app(scope, receive, self.create_send_wrapper(send, token, known))
            return
        submitted = request.headers.get(self.config.header_name)
        content_type, _options = request.content_type
        if not submitted and content_type in {
            RequestEncodingType.URL_ENCODED,
            RequestEncodingType.MULTI_PART,
        }:
            value = (await request.form()).get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if expected is None or not submitted or not compare_digest(submitted, expected):
            raise PermissionDeniedException("CSRF token verification failed")
        state.csrf_token = expected
        await self.app(scope, receive, send)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    return DefineMiddleware(SessionBoundCSRFMiddleware, config=csrf_config(settings))


__all__ = ["csrf_middleware", "session_csrf_token", "set_csrf_cookie"]
