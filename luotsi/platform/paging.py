"""One page of a longer list, and what a pager needs to link to the others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

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


def page_number(raw: str | None) -> int:
    """A page number from a query string; anything odd is the first page."""
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1
