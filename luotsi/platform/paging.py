"""One page of a longer list, and what a pager needs to link to the others."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ExecutableOption

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int

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
        return self.number + 1 if self.number < self.pages else None


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
) -> Page[T]:
    """One page of ``entity`` rows matching ``conditions`` in ``order_by``, with what the
    loader ``options`` name; a page number past the end is the last page."""
    total = int(await db.scalar(select(func.count()).select_from(entity).where(*conditions)) or 0)
    number = max(1, min(page, Page.last_page(total, per_page)))
    rows = await db.scalars(
        select(entity)
        .where(*conditions)
        .order_by(*order_by)
        .offset((number - 1) * per_page)
        .limit(per_page)
        .options(*options)
    )
    return Page(list(rows.unique()), number, per_page, total)
