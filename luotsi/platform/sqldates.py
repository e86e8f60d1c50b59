"""Date arithmetic in SQL that answers exactly as ``dateutil.relativedelta`` does in Python.

``add_months(day, months)`` is ``day + relativedelta(months=months)``: the same day of the
month, or the month's last day when it has no such day (31.1. + 1 month = 28.2. or 29.2.).
PostgreSQL's ``date + interval`` already clamps so; SQLite's ``date(..., '+1 months')``
overflows into the next month (31.1. -> 3.3.), so on SQLite the clamp is spelled out. With it
a query can filter and order by a computed date (a review's due day) and use a LIMIT, instead
of loading every row to compute the date in Python.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class add_months(FunctionElement[date]):
    """``day + relativedelta(months=months)`` for a date and an integer column or value."""

    type = Date()
    name = "add_months"
    inherit_cache = True


@compiles(add_months)
def _add_months_postgresql(element: add_months, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST({day} + make_interval(months => {months}) AS DATE)"


@compiles(add_months, "sqlite")
def _add_months_sqlite(element: add_months, compiler: Any, **kw: Any) -> str:
    day, months = (compiler.process(clause, **kw) for clause in element.clauses)
    first = f"date({day}, 'start of month', printf('%+d months', {months}))"
    last = f"date({first}, '+1 month', '-1 day')"
    same_day = f"date({first}, printf('+%d days', CAST(strftime('%d', {day}) AS INTEGER) - 1))"
    return f"min({same_day}, {last})"
