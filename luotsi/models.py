"""Imports every model so the metadata is complete (migrations, tests)."""

from luotsi.platform.identity import AuthToken, LoginAttempt, User, UserSession
from luotsi.platform.members import Invitation
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Membership, Tenant

__all__ = [
    "AuthToken",
    "Invitation",
    "LoginAttempt",
    "Membership",
    "OutboxMessage",
    "Tenant",
    "User",
    "UserSession",
]
