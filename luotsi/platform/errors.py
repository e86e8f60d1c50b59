"""Domain errors. Services raise these; the web layer translates them into responses."""

from __future__ import annotations

import math
from datetime import timedelta


class DomainError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""


class Forbidden(DomainError):
    """The actor is known and may see the object but not do this."""


class Invalid(DomainError):
    """Input that breaks a rule; ``errors`` maps a field name to a translated message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls({name: message})


class RateLimited(DomainError):
    """Too many attempts in a short time; ``retry_after`` says when the next one may pass."""

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"retry after {self.retry_after_seconds} s")

    @property
    def retry_after_minutes(self) -> int:
        return math.ceil(self.retry_after_seconds / 60)


class TenantNotSet(RuntimeError):
    """A tenant table was queried in a session that has no tenant: a programming error."""


class RawSQLRefused(TenantNotSet):
    """Raw SQL (``text()``, driver SQL) in a session that is not unscoped: it cannot be scoped."""
