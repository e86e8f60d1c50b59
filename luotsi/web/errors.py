"""Error pages: every failure gets a page in the layout (or a short fragment for htmx)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from luotsi.platform import i18n
from luotsi.platform.errors import Forbidden, NotFound, RateLimited
from luotsi.web.middleware import LANG_COOKIE
from luotsi.web.problems import is_api, problem
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import FirmSuspended, ReadOnlyWorkspace, TwoFactorNeeded

log = structlog.get_logger(__name__)


def _ensure_language(request: Request[Any, Any, Any]) -> None:
    # Unknown routes fail before the middleware runs; pick the language here then.
    if request.state.get("visitor") is None:
        cookie = request.cookies.get(LANG_COOKIE)
        i18n.set_language(
            cookie
            if cookie in i18n.LANGUAGES
            else i18n.pick_language(request.headers.get("accept-language"))
        )


def error_page(
    request: Request[Any, Any, Any], status_code: int, detail: str = ""
) -> Response[Any]:
    _ensure_language(request)
    return render(
        request,
        "errors/error.html",
        {"status_code": status_code, "detail": detail},
        status_code=status_code,
        block="error",
    )


def rate_limited(
    request: Request[Any, Any, Any],
    exc: RateLimited,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
) -> Response[Any]:
    """The form again with its reason, answered 429 with ``Retry-After`` in seconds."""
    return with_retry_after(render(request, template, context, block=block, status_code=429), exc)


def with_retry_after(response: Response[Any], exc: RateLimited) -> Response[Any]:
    """``response`` (a page answered 429) saying in seconds when ``exc``'s window frees up."""
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if is_api(request):  # no API route matched (404, 405): the API's answer, not a page
        return problem(exc.status_code)
    if isinstance(exc, NotAuthorizedException):
        return _to_sign_in(request)
    detail = ""
    if exc.status_code in (400, 405, 413, 415, 422, 429) or (
        exc.status_code == 403 and "CSRF" in str(exc.detail)
    ):
        detail = str(exc.detail)
    return error_page(request, exc.status_code, detail)


def _to_sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """To the sign-in page, which then brings the visitor back. An htmx request (its session
    expired while the page stayed open) makes the browser go there as a whole page, and the way
    back is the page it was on, not the fragment or action it asked for."""
    if getattr(request, "htmx", False):
        page = urlsplit(request.headers.get("hx-current-url", ""))
        back = (page.path or "/") + (f"?{page.query}" if page.query else "")
        login = f"/login?next={quote(back, safe='/')}"
        return Response(b"", status_code=401, headers={"HX-Redirect": login})
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return Redirect(path=f"/login?next={quote(path, safe='/')}", status_code=303)


def domain_not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Any]:
    return error_page(request, 404)


def domain_forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[Any]:
    return error_page(request, 403)


def read_only_workspace(request: Request[Any, Any, Any], exc: ReadOnlyWorkspace) -> Response[Any]:
    """A write refused because the firm's plan ended: the page says so, and how to reopen."""
    return render(
        request,
        "errors/read_only.html",
        {"ws": exc.workspace, "status_code": exc.status_code},
        status_code=exc.status_code,
        block="error",
    )


def two_factor_needed(request: Request[Any, Any, Any], exc: TwoFactorNeeded) -> Response[Any]:
    """A staff member of a firm that requires two-factor authentication goes to turn it on."""
    return redirect(request, "/account/two-factor/", flash="two_factor_needed")


def firm_suspended(request: Request[Any, Any, Any], exc: FirmSuspended) -> Response[Any]:
    """A member of a suspended firm: the page says so (a supervisee: where their data is)."""
    return render(
        request,
        "errors/suspended.html",
        {"firm": exc.tenant, "export_url": exc.export_url, "status_code": exc.status_code},
        status_code=exc.status_code,
        block="error",
    )


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # The route's template, not the path (paths carry tokens); reported to Sentry when on.
    log.exception("request.failed", route=request.scope.get("path_template"), method=request.method)
    if is_api(request):
        return problem(HTTP_500_INTERNAL_SERVER_ERROR)
    return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_exception,
    ReadOnlyWorkspace: read_only_workspace,
    TwoFactorNeeded: two_factor_needed,
    FirmSuspended: firm_suspended,
    NotFound: domain_not_found,
    Forbidden: domain_forbidden,
    Exception: server_error,
}
