"""Structured logs: one JSON object a line (or readable lines in debug), with the ids of the
request, the firm and the user bound where they become known.

What a log line may carry: ids (request, tenant, user, rows), names of events, routes as
templates (``/pay/{slug}/{token}``, never the path: paths carry tokens), statuses, counts and
durations. Never content, e-mail addresses, names or anything a person typed. An exception is
logged by its type and stack only (:func:`exception_without_message`): library messages
repeat the values they refused (asyncpg names the parameter it could not encode).

:func:`bind_ids` puts an id on every later line of the current request or task;
:func:`ids_bound` does it for the length of a block (the worker's message or job).
"""

from __future__ import annotations

import logging
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from luotsi.platform.errorreports import REPORT_TAGS
from luotsi.platform.settings import Settings

# The ids bound to a request or task: the only context that travels into every line (and as
# tags into an error report).
BOUND_IDS = ("request_id", "tenant_id", "user_id", "job", "outbox_id")


def bind_ids(**ids: uuid.UUID | str | None) -> None:
    """Put ``ids`` on every later log line of this request or task (``None``: remove)."""
    _check_names(ids)
    structlog.contextvars.bind_contextvars(
        **{name: str(value) for name, value in ids.items() if value is not None}
    )
    structlog.contextvars.unbind_contextvars(
        *(name for name, value in ids.items() if value is None)
    )


@contextmanager
def ids_bound(**ids: uuid.UUID | str | None) -> Iterator[None]:
    """Put ``ids`` on the log lines of the block (``None``: none of that id), whatever the
    block binds itself; the previous ones come back after it."""
    saved = structlog.contextvars.get_contextvars()
    bind_ids(**ids)
    try:
        yield
    finally:
        structlog.contextvars.unbind_contextvars(*ids)
        structlog.contextvars.bind_contextvars(**{k: saved[k] for k in ids if k in saved})


def _check_names(ids: dict[str, Any]) -> None:
    unknown = set(ids) - set(BOUND_IDS)
    if unknown:
        raise ValueError(f"not a bound id: {', '.join(sorted(unknown))}")


def report_to_sentry(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """An error logged with its exception (``log.exception``) is reported to Sentry when
    error reports are on, tagged with the line's ids (see :mod:`luotsi.platform.errorreports`)."""
    exc_info = event_dict.get("exc_info")
    if not exc_info or event_dict.get("level") not in ("error", "critical"):
        return event_dict
    import sentry_sdk

    if not sentry_sdk.is_initialized():
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    with sentry_sdk.new_scope() as scope:
        for name in REPORT_TAGS:
            if event_dict.get(name) is not None:
                scope.set_tag(name, str(event_dict[name]))
        sentry_sdk.capture_exception(exc_info)
    return event_dict


def exception_without_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Render ``exc_info`` as the exception's type and stack, without its message (which may
    repeat a value someone typed), for each exception of the chain."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if isinstance(exc, BaseException):
        event_dict["exception"] = "".join(_stack_of(exc))
    return event_dict


def _stack_of(exc: BaseException) -> list[str]:
    lines: list[str] = []
    summary: traceback.TracebackException | None = traceback.TracebackException.from_exception(
        exc, capture_locals=False
    )
    chain: list[traceback.TracebackException] = []
    while summary is not None:
        chain.append(summary)
        summary = summary.__cause__ or (
            None if summary.__suppress_context__ else summary.__context__
        )
    for summary in reversed(chain):
        if lines:
            lines.append("\nwhile handling it, or because of it:\n\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(summary.stack.format())
        lines.append(f"{_name(summary)}\n")
    return lines


def _name(summary: traceback.TracebackException) -> str:
    exc_type = summary.exc_type
    if exc_type is None:
        return "Exception"
    module = exc_type.__module__
    qualname = exc_type.__qualname__
    return qualname if module in ("builtins", "__main__") else f"{module}.{qualname}"


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library's logging (uvicorn's, SQLAlchemy's) for
    this process: the same renderer, on standard output, at ``settings.log_level``."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if settings.log_json:
        render: list[Processor] = [
            report_to_sentry,
            exception_without_message,
            structlog.processors.JSONRenderer(),
        ]
    else:  # a developer's terminal: whole tracebacks
        render = [
            report_to_sentry,
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    structlog.configure(
        processors=[*shared, *render],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "luotsi", False):
            root.removeHandler(old)
    handler.luotsi = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every URL it calls at info (the Stripe SDK's calls, with their queries).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
