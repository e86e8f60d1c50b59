"""Domain errors. Services raise these; the web layer translates them into responses."""

from __future__ import annotations


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
    def __init__(self, retry_after_minutes: int) -> None:
        super().__init__(f"retry after {retry_after_minutes} min")
        self.retry_after_minutes = retry_after_minutes


class TenantNotSet(RuntimeError):
    """A tenant table was queried in a session that has no tenant: a programming error."""
