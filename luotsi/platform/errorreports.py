"""Error reports to Sentry (sentry-sdk) when ``LUOTSI_SENTRY_DSN`` is set, with no content.

An error is reported where it is logged: a ``log.exception(...)`` (the web app's 500 handler,
the worker's failures) sends the exception, tagged with the ids the log line carries (see
:func:`luotsi.platform.logs.report_to_sentry`). Nothing else is collected: no integration
reads requests, sessions, logs or HTTP calls, local variables and breadcrumbs are off, and
:func:`scrub_event` passes on only an allowlist of an event's parts, in case a later change
or a library adds something. An exception leaves without its message (messages repeat the
values they refused), with its type and stack (file, function, line and the line of code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from luotsi.platform.settings import Settings

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

# The tags an error report may carry: ids and names, never values.
REPORT_TAGS = (
    "event",
    "request_id",
    "tenant_id",
    "user_id",
    "job",
    "outbox_id",
    "route",
    "method",
)
# The parts of an event that leave the process; any other (request, user, extra, message,
# logentry, transaction...) does not.
_EVENT_KEYS = {
    "event_id",
    "timestamp",
    "level",
    "platform",
    "logger",
    "sdk",
    "release",
    "environment",
    "server_name",
    "modules",
    "exception",
    "threads",
    "tags",
    "contexts",
    "breadcrumbs",
}
_CONTEXTS = {"runtime", "os", "trace"}
_EXCEPTION_KEYS = {"type", "module", "stacktrace", "mechanism"}
_MECHANISM_KEYS = {"type", "handled"}
_FRAME_KEYS = {
    "filename",
    "abs_path",
    "module",
    "function",
    "lineno",
    "colno",
    "in_app",
    "context_line",
    "pre_context",
    "post_context",
}
_BREADCRUMB_KEYS = {"type", "category", "level", "timestamp"}


def init_error_reports(settings: Settings) -> None:
    """Start reporting errors to Sentry if a DSN is configured (once per process)."""
    if not settings.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.atexit import AtexitIntegration
    from sentry_sdk.integrations.dedupe import DedupeIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        # No integration that reads requests, logs or outgoing calls: only what is logged as
        # an error is reported, by luotsi.platform.logs.
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[DedupeIntegration(), AtexitIntegration(callback=_quiet)],
        # Nothing that integrations could collect (none runs, but say so): no user, cookies,
        # headers, bodies, queries, SQL parameters or frame variables.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "off"}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
            "gen_ai": {"inputs": False, "outputs": False},
        },
        include_local_variables=False,
        max_request_body_size="never",
        max_breadcrumbs=0,
        before_send=scrub_event,
        before_breadcrumb=lambda crumb, hint: None,
        traces_sample_rate=None,
        environment="debug" if settings.debug else "production",
    )


def _quiet(pending: int, timeout: float) -> None:
    """At exit, wait for pending reports without printing (the default prints to stderr)."""


def scrub_event(event: Event, hint: Hint) -> Event:
    """The event as it may leave: the allowlisted parts only, exceptions without their
    messages, frames without their variables, breadcrumbs without messages or data."""
    kept: dict[str, Any] = {key: value for key, value in event.items() if key in _EVENT_KEYS}
    if "exception" in kept:
        kept["exception"] = {
            "values": [_exception(value) for value in kept["exception"].get("values") or []]
        }
    if "threads" in kept:
        kept["threads"] = {
            "values": [
                {
                    **{
                        k: v for k, v in thread.items() if k in {"id", "name", "crashed", "current"}
                    },
                    **(
                        {"stacktrace": _stacktrace(thread["stacktrace"])}
                        if thread.get("stacktrace")
                        else {}
                    ),
                }
                for thread in kept["threads"].get("values") or []
            ]
        }
    if "tags" in kept:
        tags = kept["tags"]
        pairs = tags.items() if isinstance(tags, dict) else tags
        kept["tags"] = {str(k): str(v) for k, v in pairs if k in REPORT_TAGS}
    if "contexts" in kept:
        kept["contexts"] = {k: v for k, v in kept["contexts"].items() if k in _CONTEXTS}
    if "breadcrumbs" in kept:
        crumbs = kept["breadcrumbs"]
        values = crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs
        kept["breadcrumbs"] = {
            "values": [{k: v for k, v in c.items() if k in _BREADCRUMB_KEYS} for c in values]
        }
    return kept  # type: ignore[return-value]


def _exception(value: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in value.items() if k in _EXCEPTION_KEYS}
    if "stacktrace" in kept:
        kept["stacktrace"] = _stacktrace(kept["stacktrace"])
    if "mechanism" in kept:
        kept["mechanism"] = {k: v for k, v in kept["mechanism"].items() if k in _MECHANISM_KEYS}
    return kept


def _stacktrace(stacktrace: dict[str, Any]) -> dict[str, Any]:
    frames = stacktrace.get("frames") or []
    return {"frames": [{k: v for k, v in frame.items() if k in _FRAME_KEYS} for frame in frames]}
