"""Small checks the client forms and services share."""

from __future__ import annotations

from luotsi.platform import i18n


def text_within(errors: dict[str, str], name: str, value: str, limit: int) -> str:
    """``value`` trimmed; a too-long one is noted in ``errors`` under ``name``."""
    value = value.strip()
    if len(value) > limit:
        errors[name] = i18n.too_long(limit)
    return value
