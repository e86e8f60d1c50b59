"""Reading submitted forms and query strings into plain values.

Input is never cut short: a value longer than its limit refuses the request with a 400 that
names the limit. Services then check each field's own, tighter limit and answer with a form
error (:func:`luotsi.platform.i18n.too_long`).
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import date
from typing import Any, TypeVar

from litestar import Request
from litestar.exceptions import ClientException

from luotsi.billing.runs import parse_period
from luotsi.platform import clock, i18n
from luotsi.platform.errors import Invalid

T = TypeVar("T")
MAX_FIELD = 10_000  # characters in any one form field
MAX_SEARCH = 100  # characters in a search or filter of a list page
MAX_CHOICES = 100  # values of one repeated field (checkboxes sharing a name)


def refuse_too_long(limit: int) -> ClientException:
    message = i18n.gettext(
        "A value you sent is longer than %(n)d characters. Shorten it and try again."
    )
    return ClientException(detail=i18n.interpolate(message, {"n": limit}))


def checked(raw: object, limit: int = MAX_FIELD) -> str:
    """A submitted value as text ("" when it is not text), refused when over ``limit``."""
    value = raw if isinstance(raw, str) else ""
    if len(value) > limit:
        raise refuse_too_long(limit)
    return value


def form_text(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    """One field of a parsed form."""
    return checked(form.get(name, ""), limit)


def form_texts(form: Any, name: str, limit: int = MAX_FIELD) -> list[str]:
    """Every value of a repeated field (checkboxes sharing a name)."""
    values = form.getall(name) if name in form else []
    if len(values) > MAX_CHOICES:
        message = i18n.gettext("At most %(n)d choices can be sent at once.")
        raise ClientException(detail=i18n.interpolate(message, {"n": MAX_CHOICES}))
    return [checked(value, limit) for value in values if isinstance(value, str)]


def query_text(request: Request[Any, Any, Any], name: str, limit: int = MAX_SEARCH) -> str:
    """One query parameter (a search or a filter)."""
    return checked(request.query_params.get(name, ""), limit)


async def read_form(request: Request[Any, Any, Any], cls: type[T]) -> T:
    """Fill a dataclass of ``str`` fields from the posted form; missing fields stay empty."""
    data = await request.form()
    values = {f.name: form_text(data, f.name) for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**values)


async def form_value(request: Request[Any, Any, Any], name: str) -> str:
    return form_text(await request.form(), name)


def ids_of(values: list[str]) -> list[uuid.UUID]:
    """The ids among chosen checkbox values, in their order; a value no form of ours sends
    chooses nothing."""
    found: list[uuid.UUID] = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


def month_range(
    request: Request[Any, Any, Any], first: date
) -> tuple[str, str, date, date, dict[str, str]]:
    """The months ``from`` and ``to`` of a query (``2026-01``) as typed, the first day of the
    one and the last day of the other, and errors by field. Not asked: from ``first``'s month
    until this month."""
    today = clock.today()
    raw_from = query_text(request, "from", 20) or f"{first.year}-{first.month:02d}"
    raw_to = query_text(request, "to", 20) or f"{today.year}-{today.month:02d}"
    errors: dict[str, str] = {}
    start = end = today
    try:
        start = parse_period(raw_from)[0]
    except Invalid as exc:
        errors["from"] = exc.errors["period"]
    try:
        end = parse_period(raw_to)[1]
    except Invalid as exc:
        errors["to"] = exc.errors["period"]
    return raw_from, raw_to, start, end, errors
