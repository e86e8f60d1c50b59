"""The tables that hold confidential content, and the list of their encrypted columns.

Every column that holds content is ``LargeBinary`` ciphertext (:mod:`luotsi.platform.crypto`),
bound to its tenant, table, row and field, next to an integer column naming the master key
version that encrypted it. :data:`ENCRYPTED_FIELDS` lists them all: key rotation, retention and
the confidentiality tests walk it, so a new content column is added there or it is not content.

Only :mod:`luotsi.tenants.content` reads these tables. Other modules may count rows (the
dashboard's "assignments waiting"), never select a ciphertext column.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.crypto import Binding
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum


def _agreement_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "agreement_id"], ["agreements.tenant_id", "agreements.id"], ondelete="CASCADE"
    )


def _membership_fk(column: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], ["memberships.tenant_id", "memberships.id"])


def _person_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "person_id"], ["client_people.tenant_id", "client_people.id"]
    )


class SessionNote(TenantScoped, Base):
    """A supervisor's private note on one session; ``body`` is ciphertext.

    ``author_membership_id`` is the note's keeper: the supervisor who wrote it, or the one it
    was handed over to (``handed_over_from`` then names the writer). Only the keeper reads it.
    """

    __tablename__ = "session_notes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            ondelete="CASCADE",
        ),
        _membership_fk("author_membership_id"),
        _membership_fk("handed_over_from"),
        Index(
            "ix_session_notes_tenant_session_author",
            "tenant_id",
            "session_id",
            "author_membership_id",
        ),
        Index("ix_session_notes_tenant_key_version", "tenant_id", "key_version"),
    )

    session_id: Mapped[uuid.UUID]
    author_membership_id: Mapped[uuid.UUID]  # its keeper is deactivated on leaving, not deleted
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]  # the master key version of ``body`` (rotation finds old ones)
    handed_over_from: Mapped[uuid.UUID | None]  # the writer's membership, once handed over
    handed_over_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    def __repr__(self) -> str:
        return f"SessionNote(id={self.id}, session_id={self.session_id})"


class Assignment(TenantScoped, Base):
    """A between-session assignment (välitehtävä) set after a session.

    ``person_id`` None: for every supervisee of the agreement (a group's assignment); else for
    that supervisee alone. ``body`` is ciphertext.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        _agreement_fk(),
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            ondelete="CASCADE",
        ),
        _person_fk(),
        _membership_fk("author_membership_id"),
        Index("ix_assignments_tenant_agreement", "tenant_id", "agreement_id"),
        Index("ix_assignments_tenant_key_version", "tenant_id", "key_version"),
    )

    agreement_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID]  # the session after which it was set
    person_id: Mapped[uuid.UUID | None]  # a supervisee; None: all of them
    author_membership_id: Mapped[uuid.UUID]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    due_on: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class AssignmentResponse(TenantScoped, Base):
    """One supervisee's response to an assignment; ``body`` is ciphertext (maybe of "")."""

    __tablename__ = "assignment_responses"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "assignment_id"],
            ["assignments.tenant_id", "assignments.id"],
            ondelete="CASCADE",
        ),
        _person_fk(),
        UniqueConstraint("tenant_id", "assignment_id", "person_id"),
        Index("ix_assignment_responses_tenant_key_version", "tenant_id", "key_version"),
    )

    assignment_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID]  # the supervisee who responds
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    done_at: Mapped[datetime | None]  # marked done by the supervisee
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class GoalSource(LabelledEnum):
    """Whose goal it is: the supervisee's own development goal or the organisation's."""

    OWN = "own", N_("Own goal")
    ORGANISATION = "organisation", N_("Organisation's goal")


class Goal(TenantScoped, Base):
    """A goal of an agreement; ``body`` is ciphertext.

    An own goal belongs to one supervisee (``person_id``); an organisation's goal to the whole
    agreement (``person_id`` None) and each supervisee evaluates their progress on it.
    """

    __tablename__ = "goals"
    __table_args__ = (
        _agreement_fk(),
        _person_fk(),
        Index("ix_goals_tenant_agreement", "tenant_id", "agreement_id"),
        Index("ix_goals_tenant_key_version", "tenant_id", "key_version"),
    )

    agreement_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID | None]
    source: Mapped[GoalSource] = mapped_column(str_enum(GoalSource))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    created_by_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Evaluation(TenantScoped, Base):
    """A supervisee's progress on one goal, rated 1-5 with words, on one day.

    ``body`` is the ciphertext of ``{"rating": n, "comment": "..."}``: the rating is content
    too (how someone is doing at work), so it is encrypted with the words.
    """

    __tablename__ = "evaluations"
    __table_args__ = (
        _agreement_fk(),
        ForeignKeyConstraint(
            ["tenant_id", "goal_id"], ["goals.tenant_id", "goals.id"], ondelete="CASCADE"
        ),
        _person_fk(),
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
        ),
        Index("ix_evaluations_tenant_goal", "tenant_id", "goal_id"),
        Index("ix_evaluations_tenant_key_version", "tenant_id", "key_version"),
    )

    agreement_id: Mapped[uuid.UUID]
    goal_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID]  # the supervisee whose progress it is
    session_id: Mapped[uuid.UUID | None]  # the evaluation meeting, when there was one
    evaluated_on: Mapped[date]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    recorded_by_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ConfidentialityLimits(TenantScoped, Base):
    """The limits of confidentiality agreed in dialogue, one text per agreement (ciphertext)."""

    __tablename__ = "confidentiality_limits"
    __table_args__ = (
        _agreement_fk(),
        UniqueConstraint("tenant_id", "agreement_id"),
        Index("ix_confidentiality_limits_tenant_key_version", "tenant_id", "key_version"),
    )

    agreement_id: Mapped[uuid.UUID]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int]
    updated_by_user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class ErasureStatus(LabelledEnum):
    PENDING = "pending", N_("Waiting for the owner")
    DONE = "done", N_("Erased")
    DECLINED = "declined", N_("Declined")


class ErasureRequest(TenantScoped, Base):
    """A supervisee's request to erase their data, decided by the firm's owner."""

    __tablename__ = "erasure_requests"
    __table_args__ = (
        _person_fk(),
        Index("ix_erasure_requests_tenant_status", "tenant_id", "status"),
    )

    person_id: Mapped[uuid.UUID]  # erasure keeps the person's row (as "erased"), so this too
    person_name: Mapped[str] = mapped_column(String(120))  # as it was; cleared on erasure
    requested_by_user_id: Mapped[uuid.UUID | None]
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    status: Mapped[ErasureStatus] = mapped_column(
        str_enum(ErasureStatus), default=ErasureStatus.PENDING
    )
    decided_by_user_id: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")  # the owner's, when declined


@dataclass(frozen=True)
class EncryptedField:
    """One encrypted column and the column holding its key version."""

    model: type[Any]
    column: str
    version_column: str = "key_version"

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def binding(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> Binding:
        return Binding(tenant_id=tenant_id, table=self.table, row_id=row_id, field=self.column)


NOTE_BODY = EncryptedField(SessionNote, "body")
ASSIGNMENT_BODY = EncryptedField(Assignment, "body")
RESPONSE_BODY = EncryptedField(AssignmentResponse, "body")
GOAL_BODY = EncryptedField(Goal, "body")
EVALUATION_BODY = EncryptedField(Evaluation, "body")
LIMITS_BODY = EncryptedField(ConfidentialityLimits, "body")
ENCRYPTED_FIELDS: tuple[EncryptedField, ...] = (
    NOTE_BODY,
    ASSIGNMENT_BODY,
    RESPONSE_BODY,
    GOAL_BODY,
    EVALUATION_BODY,
    LIMITS_BODY,
)
