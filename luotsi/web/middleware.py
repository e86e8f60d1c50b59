"""Per request: who is signed in, in which language to answer, whether the input is sound,
and the headers every response carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request
from litestar.config.compression import CompressionConfig
from litestar.datastructures import MutableScopeHeaders, UploadFile
from litestar.exceptions import ClientException
from litestar.middleware.compression import CompressionMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from luotsi.platform import audit, i18n
from luotsi.platform.identity import SessionInfo, User, session_of
from luotsi.platform.logs import bind_ids
from luotsi.platform.sharedstate import SharedState

SESSION_COOKIE = "luotsi_session"
CSRF_COOKIE = "luotsi_csrf"
LANG_COOKIE = "luotsi_lang"
# Outside debug mode the session and CSRF cookies carry the prefix: a browser keeps such a
# cookie only from a secure origin, for the whole host (Path=/, no Domain), so neither a
# sibling subdomain nor a page over plain http can set or overwrite it. The debug server
# runs over plain http, where the browser would refuse them.
HOST_PREFIX = "__Host-"


def cookie_name(name: str, debug: bool) -> str:
    """The name a cookie has in this mode (:data:`HOST_PREFIX` outside debug)."""
    return name if debug else HOST_PREFIX + name


def session_cookie(request: Request[Any, Any, Any]) -> str:
    return cookie_name(SESSION_COOKIE, request.app.state["settings"].debug)


CSP_DIRECTIVES = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def content_security_policy(*, third_party: str = "", form_targets: tuple[str, ...] = ()) -> str:
    """The one policy of every page. A route whose pages need another origin names it, and
    only that is added: ``third_party`` for scripts, frames and connections (Stripe.js), or
    ``form_targets`` that its forms may lead to through a redirect (Stripe's hosted pages).
    The owner's subscription page and the pages that start card payments or connect a
    Stripe account are such routes."""
    directives = dict(CSP_DIRECTIVES)
    if third_party:
        for name in ("script-src", "frame-src", "connect-src"):
            directives[name] = f"'self' {third_party}"
    if form_targets:
        directives["form-action"] = " ".join(("'self'", *form_targets))
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CSP = content_security_policy()


def allow_form_targets(response: Any, origins: tuple[str, ...]) -> Any:
    """``response`` with a policy whose forms may lead (by redirect) to ``origins`` too."""
    response.headers["content-security-policy"] = content_security_policy(form_targets=origins)
    return response


SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
HSTS = "max-age=63072000; includeSubDomains"
# Pages behind these prefixes show someone's own or their firm's data: no browser or proxy
# keeps a copy unless the handler says otherwise (a staff photo may be cached for minutes).
PRIVATE_PREFIXES = ("/t/", "/account", "/accept/", "/join/", "/password/reset/", "/pay/")
PRIVATE_CACHE = "private, no-store"
# C0 control characters and DEL. Nobody types them; PostgreSQL refuses NUL in text. A form
# may carry tab and line breaks (multi-line fields); a URL carries none.
CONTROL_IN_URL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Probes and scrapes (luotsi.web.observability): nobody visits them, so nothing is looked up.
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass
class Visitor:
    user: User | None
    session: SessionInfo | None
    # Read once: the layout shows it even after a failed flush has expired ``user``.
    user_name: str
    language: str
    session_token: str | None


def db_session(request: Request[Any, Any, Any]) -> Any:
    """The request's database session (the same one handlers get as ``db``)."""
    config = request.app.state["luotsi_db_config"]
    return config.provide_session(request.app.state, request.scope)


# A response is compressed from this size on (smaller ones gain less than gzip's own bytes).
COMPRESS_FROM_BYTES = 1024
SIGNED_IN = re.compile(rf"(?:^|;)\s*(?:{HOST_PREFIX})?{SESSION_COOKIE}=")


def compression_middleware(app: ASGIApp) -> ASGIApp:
    """gzip for static files and for pages served to a visitor who is not signed in.

    A signed-in page is sent as it is: it carries the CSRF token and may carry confidential
    content, next to text an attacker can choose (a search term, a name). Compressed, the length
    of such a response over TLS tells an attacker who can make the victim's browser send many
    requests whether a guess matches the secret (BREACH). The static files, which hold the bulk
    of a page's bytes (htmx, the style sheet), are compressed and cached for ever
    (:mod:`luotsi.web.assets`), so a signed-in page costs its HTML only.
    """
    compressing = CompressionMiddleware(
        app, CompressionConfig(backend="gzip", minimum_size=COMPRESS_FROM_BYTES)
    )

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            scope["path"].startswith("/static/") or not _signed_in(scope)
        ):
            await compressing(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


def _signed_in(scope: Scope) -> bool:
    cookies = next((v for k, v in scope["headers"] if k == b"cookie"), b"")
    return SIGNED_IN.search(cookies.decode("latin-1")) is not None


def shared_state(request: Request[Any, Any, Any]) -> SharedState:
    """Where this node keeps sign-in sessions and rate limits (chosen at its start)."""
    found: SharedState = request.app.state["shared_state"]
    return found


def visitor_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"].startswith("/static/")
            or scope["path"] in OPERATIONS_PATHS
        ):
            await app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope, receive)
        user, session = None, None
        # Cookies never authenticate an API call (its bearer token does, luotsi.web.api).
        api = scope["path"].startswith("/api/")
        token = None if api else request.cookies.get(session_cookie(request))
        if token:
            db = db_session(request)
            found = await session_of(db, shared_state(request).sessions, token)
            if found is not None:
                user, session = found
                bind_ids(user_id=user.id)  # every later log line of the request names them
        language = request.cookies.get(LANG_COOKIE) or (user.locale if user else None)
        if language not in i18n.LANGUAGES:
            language = i18n.pick_language(request.headers.get("accept-language"))
        i18n.set_language(language)
        request.state.visitor = Visitor(
            user=user,
            session=session,
            user_name=user.name if user else "",
            language=language,
            session_token=token,
        )
        await refuse_control_characters(request)
        await app(scope, receive, send)

    return middleware


async def refuse_control_characters(request: Request[Any, Any, Any]) -> None:
    """The one check of control characters in the path and query (400) and in a posted form
    (422), with the reason. The parsed form stays cached on the request for the handler."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    url_values = [request.scope["path"]]
    url_values += [part for pair in parse_qsl(query, keep_blank_values=True) for part in pair]
    reason = i18n.gettext(
        "The request contains control characters (such as a NUL byte). Remove them and try again."
    )
    if any(CONTROL_IN_URL.search(value) for value in url_values):
        raise ClientException(detail=reason)
    if request.method in UNSAFE_METHODS:
        form = await request.form()
        if any(
            CONTROL_IN_FORM.search(value)
            for key, raw in form.multi_items()
            for value in (key, raw if not isinstance(raw, UploadFile) else raw.filename or "")
        ):
            # 422 as for other refused form input: htmx shows the reason in place.
            raise ClientException(detail=reason, status_code=422)


async def response_headers(message: Message, scope: Scope) -> None:
    """Security headers on every response, error pages and static files included; HSTS
    outside debug mode; no caching of private pages unless the handler chose otherwise."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if not scope["app"].state["settings"].debug:
        headers.setdefault("strict-transport-security", HSTS)
    if scope["path"].startswith(PRIVATE_PREFIXES):
        headers.setdefault("cache-control", PRIVATE_CACHE)


def visitor(request: Request[Any, Any, Any]) -> Visitor:
    found = request.state.get("visitor")
    if found is None:
        return Visitor(
            user=None,
            session=None,
            user_name="",
            language=i18n.current_language(),
            session_token=None,
        )
    return found


def origin(request: Request[Any, Any, Any]) -> audit.Origin:
    """The client's address (as sign-in rate limiting sees it) and its user agent."""
    return audit.Origin(
        ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent", ""),
    )
