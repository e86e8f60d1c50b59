"""What operations sees of the web app: a request id, an access log line and request metrics
for every request, and the endpoints for probes and scrapes.

:func:`observe_requests` wraps the whole app (unknown routes and errors included). It names
each request with an id, taken from the ``X-Request-ID`` header when that is a short token
(a proxy's or load balancer's), otherwise new, bound to every log line of the request and
returned in the response's ``X-Request-ID``. When the response is over it logs one line with
the method, the route template (never the path: paths carry tokens), the status and the
duration, and counts the request in the Prometheus metrics.

``GET /healthz`` says the process answers (nothing else is checked: a database outage must
not restart every node). ``GET /readyz`` runs the readiness checks
(:mod:`luotsi.platform.health`): 200 (ready, or degraded when a check that does not gate
fails), or 503 with the reasons. ``GET /metrics`` is mounted only
with ``LUOTSI_METRICS_TOKEN`` and answers a scraper that sends it as a bearer token. None of
them passes through sign-in, CSRF (they only read: no CSRF cookie either) or a firm, and a
successful probe or scrape is logged at debug level only (a probe every few seconds per node
would drown the log).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from luotsi.platform.health import Probe, check_readiness
from luotsi.platform.logs import bind_ids
from luotsi.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition
from luotsi.web.middleware import OPERATIONS_PATHS

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
# A request id from outside is used only if it is a short token (no spaces, no markup).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# What the metrics and the log call a request that matched no route (a 404 or a bad host).
UNMATCHED = "unmatched"
# Methods by name; any other is "OTHER", so a client cannot add label values at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_of(scope: Scope) -> str:
    """The request's id: the caller's ``X-Request-ID`` if sane, else a new one."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if SANE_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def observe_requests(app: ASGIApp) -> ASGIApp:
    """``app`` with a request id, an access log line and request metrics per request."""

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        structlog.contextvars.clear_contextvars()
        bind_ids(request_id=request_id)
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            given = scope.get("method", "")
            method = given if given in METHODS else "OTHER"
            labels = (route, method, f"{status // 100}xx")
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_LATENCY.labels(*labels).observe(seconds)
            quiet = route in OPERATIONS_PATHS and status < 400
            (log.debug if quiet else log.info)(
                "request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()

    return observed


def probe(request: Request[Any, Any, Any]) -> Probe:
    return Probe(request.app.state["sessionmaker"], request.app.state["settings"])


NO_STORE = {"cache-control": "no-store"}
# Reads only: no CSRF cookie is handed to a prober (and nothing they do could be forged).
PROBE_OPT = {"exclude_from_csrf": True}


@get("/healthz", name="healthz", include_in_schema=False, sync_to_thread=False, opt=PROBE_OPT)
def healthz() -> Response[dict[str, str]]:
    """The process is alive and serving."""
    return Response({"status": "ok"}, headers=NO_STORE)


@get("/readyz", name="readyz", include_in_schema=False, opt=PROBE_OPT)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Whether this node can serve: every readiness check, with its result."""
    readiness = await check_readiness(probe(request))
    return Response(
        {"status": readiness.status, "checks": readiness.checks},
        status_code=200 if readiness.ready else 503,
        headers=NO_STORE,
    )


@get("/metrics", name="metrics", include_in_schema=False, opt=PROBE_OPT)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus' scrape, for the holder of ``LUOTSI_METRICS_TOKEN`` (mounted only with one)."""
    expected = f"Bearer {request.app.state['settings'].metrics_token}".encode()
    given = request.headers.get("authorization", "").encode("latin-1")
    if not secrets.compare_digest(given, expected):
        return Response(
            b"", status_code=401, headers={"www-authenticate": 'Bearer realm="metrics"'}
        )
    body = await exposition(probe(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)
