"""Errors of the JSON API as problem details (RFC 9457, ``application/problem+json``).

Every refusal under ``/api/`` is answered this way, also where no API route matched (the app's
own error handlers hand those here), so an integration never gets an HTML page.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Request, Response

from luotsi.platform.i18n import gettext as _

API_PREFIX = "/api/"
PROBLEM_JSON = "application/problem+json"


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _title(status: int) -> str:
    titles = {
        400: _("The request is malformed."),
        401: _("A valid API token is required."),
        403: _("The token may not do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        409: _("The request conflicts with the object's current state."),
        415: _("The media type is not supported."),
        422: _("The values break a rule."),
        429: _("Too many requests."),
        500: _("Something went wrong on our side."),
    }
    if status in titles:
        return titles[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def problem(
    status: int,
    detail: str = "",
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """A problem details response: ``type`` is ``about:blank`` (the status says what it is),
    ``errors`` (422) names each field with its reason."""
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="luotsi"')
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers)
