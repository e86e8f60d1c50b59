"""One page of a longer list, and what a pager needs to link to the others."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.base import ExecutableOption

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int
    # ``total`` is a lower bound: more rows follow than were counted (see ``paginate``).
    more: bool = False

    @staticmethod
    def last_page(total: int, per_page: int) -> int:
        return max(1, -(-total // per_page))

    @property
    def pages(self) -> int:
        return self.last_page(self.total, self.per_page)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages or self.more else None


@dataclass(frozen=True)
class Sort:
    """A list's order as a column header chose it: ``?sort=name`` or ``?sort=-name``
    (descending). The list names its keys and what each orders by; anything else is the
    list's default order."""

    key: str
    descending: bool = False

    @classmethod
    def parse(cls, raw: str | None, keys: Collection[str], default: Sort) -> Sort:
        raw = (raw or "").strip()
        descending = raw.startswith("-")
        key = raw.removeprefix("-")
        return cls(key, descending) if key in keys else default

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def toggled(self, key: str) -> str:
        """The ``sort`` value of a header link: the other direction of the current column, or
        ``key`` ascending."""
        return Sort(key, not self.descending).param if key == self.key else key

    def aria(self, key: str) -> str:
        """The column header's ``aria-sort``."""
        if key != self.key:
            return "none"
        return "descending" if self.descending else "ascending"

    def order(self, columns: dict[str, Sequence[Any]], tie: Any) -> list[Any]:
        """ORDER BY: the chosen key's first column in its direction, the key's further columns
        (ties, e.g. the name) ascending, then ``tie`` (unique, so that pages never overlap)."""
        first, *rest = columns[self.key]
        return [first.desc() if self.descending else first.asc(), *rest, tie]


def page_number(raw: str | None) -> int:
    """A page number from a query string; anything odd is the first page."""
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


async def paginate(
    db: AsyncSession,
    entity: type[T],
    conditions: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    page: int,
    per_page: int,
    options: Sequence[ExecutableOption] = (),
    *,
    pages_ahead: int | None = None,
) -> Page[T]:
    """One page of ``entity`` rows matching ``conditions`` in ``order_by``, with what the
    loader ``options`` name; a page number past the end is the last page.

    ``pages_ahead`` counts the rows only that many pages from the one asked for: for a list that
    can hold a firm's hundreds of thousands of rows (counting them all was the sessions
    list's slowest statement), the page then says "more" instead of the exact total.
    """
    counted = select(func.count())
    if pages_ahead is None:
        counted = counted.select_from(entity).where(*conditions)
        ceiling = None
    else:
        ceiling = (page - 1 + pages_ahead) * per_page
        rows_ahead = select(literal(1)).select_from(entity).where(*conditions).limit(ceiling + 1)
        counted = counted.select_from(rows_ahead.subquery())
    total = int(await db.scalar(counted) or 0)
    more = ceiling is not None and total > ceiling
    total = min(total, ceiling) if ceiling is not None else total
    number = max(1, min(page, Page.last_page(total, per_page)))
    rows = await db.scalars(
        select(entity)
        .where(*conditions)
        .order_by(*order_by)
        .offset((number - 1) * per_page)
        .limit(per_page)
        .options(*options)
    )
    return Page(list(rows.unique()), number, per_page, total, more)


# --- keyset pages (the JSON API) ------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where the next page of a keyset list starts: after the row with this time and id.

    Opaque to clients (base64 of JSON); a cursor that does not decode is :class:`Invalid`.
    Keyset pages stay stable while rows are added: a row is never on two pages, and a row
    made after the first page comes on a later one."""

    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError("naive")
            return cls(moment.astimezone(UTC), uuid.UUID(row_id))
        except (ValueError, TypeError, UnicodeError, binascii.Error):
            raise Invalid.field("cursor", _("The cursor is not one this list gave.")) from None


async def keyset_page(
    db: AsyncSession,
    statement: Select[tuple[T]],
    at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    after: Cursor | None,
    limit: int,
) -> tuple[list[T], str | None]:
    """Up to ``limit`` rows of ``statement`` in (``at``, ``row_id``) order after ``after``,
    and the (encoded) cursor of the page after them (None on the last page)."""
    if after is not None:
        statement = statement.where(or_(at > after.at, and_(at == after.at, row_id > after.id)))
    rows = list((await db.scalars(statement.order_by(at, row_id).limit(limit + 1))).unique())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], Cursor(getattr(last, at.key), getattr(last, row_id.key)).encode()
