"""Reading submitted forms into plain values."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from litestar import Request

T = TypeVar("T")
MAX_FIELD = 10_000


async def read_form(request: Request[Any, Any, Any], cls: type[T]) -> T:
    """Fill a dataclass of ``str`` fields from the posted form; missing fields stay empty."""
    data = await request.form()
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = data.get(f.name, "")
        values[f.name] = raw[:MAX_FIELD] if isinstance(raw, str) else ""
    return cls(**values)


async def form_value(request: Request[Any, Any, Any], name: str) -> str:
    raw = (await request.form()).get(name, "")
    return raw[:MAX_FIELD] if isinstance(raw, str) else ""
