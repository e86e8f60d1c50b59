"""Continuation reviews of agreements: when the next is due, recording one, and reminders.

A review is the only way an agreement is extended or ended (supervisee, supervisor and manager
decide together); the ``review_reminders`` job e-mails the parties when one is due.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ColumnElement,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import parse_date
from luotsi.platform.identity import User
from luotsi.platform.jobs import JobContext, claimed, scheduled
from luotsi.platform.notifications import EmailRenderer, NotificationKind, notify, words_of
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    Agreement,
    AgreementStatus,
    EventKind,
    Review,
    ReviewDecision,
)
from luotsi.tenants.agreements.service import (
    MAX_NOTE,
    REVIEW_DUE_SOON_DAYS,
    firm_email,
    get_agreement,
    mail_language,
    max_end_date,
    queue_firm_email,
    record_event,
    set_status,
    visible_to,
)


def next_review_due(agreement: Agreement, reviews: Iterable[Review]) -> date:
    """When the next continuation review is due (see :func:`review_due_after`).

    ``reviews`` are the agreement's reviews in any order; others are ignored.
    """
    held = [r.held_on for r in reviews if r.agreement_id == agreement.id]
    return review_due_after(agreement, max(held) if held else None)


def review_state(due: date, today: date) -> str:
    """``overdue`` (past), ``due`` (within two weeks) or ``""``."""
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=REVIEW_DUE_SOON_DAYS):
        return "due"
    return ""


async def last_reviews(
    db: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, date]:
    """The date of the latest review per agreement (agreements without one are missing)."""
    if not agreement_ids:
        return {}
    rows = await db.execute(
        select(Review.agreement_id, func.max(Review.held_on))
        .where(Review.agreement_id.in_(agreement_ids))
        .group_by(Review.agreement_id)
    )
    return dict(rows.tuples().all())


def review_due_after(agreement: Agreement, last_review: date | None) -> date:
    """The last review's date (or the start date) plus the review interval, at the latest the
    end date: continuation must be decided before the agreement runs out."""
    since = last_review or agreement.start_date
    due: date = since + relativedelta(months=agreement.review_interval_months)
    return min(due, agreement.end_date)


REVIEWED_STATUSES = (AgreementStatus.PENDING, AgreementStatus.ACTIVE, AgreementStatus.PAUSED)


def running_review_due(agreement: Agreement, last_review: date | None) -> date | None:
    """The next review of an agreement that is still running (see :func:`review_due_after`);
    None for a draft or an ended agreement. What the portals show."""
    if agreement.status not in REVIEWED_STATUSES:
        return None
    return review_due_after(agreement, last_review)


def reviews_due_conditions(
    actor: Membership, within_days: int, today: date | None
) -> list[ColumnElement[bool]]:
    """Active agreements ``actor`` may see whose review is due within ``within_days`` days or
    overdue."""
    horizon = (today or clock.today()) + timedelta(days=within_days)
    return [
        Agreement.status == AgreementStatus.ACTIVE,
        *visible_to(actor),
        Agreement.review_due_on <= horizon,
    ]


def ending_conditions(
    actor: Membership, days: int, today: date | None
) -> list[ColumnElement[bool]]:
    """Active or paused agreements ``actor`` may see that end within ``days`` days."""
    today = today or clock.today()
    return [
        Agreement.status.in_((AgreementStatus.ACTIVE, AgreementStatus.PAUSED)),
        Agreement.end_date >= today,
        Agreement.end_date <= today + timedelta(days=days),
        *visible_to(actor),
    ]


# --- continuation reviews -------------------------------------------------------------------


@dataclass
class ReviewInput:
    """A review as typed into the form; :func:`record_review` validates it."""

    held_on: str = ""
    decision: str = ReviewDecision.CONTINUE.value
    new_end_date: str = ""
    supervisee_present: bool = True
    supervisor_present: bool = True
    manager_present: bool = True
    note: str = ""


def can_record_review(actor: Membership, agreement: Agreement) -> bool:
    """Staff who can see the agreement record its reviews while it is active or paused."""
    return permissions.can_work_on_agreements(actor) and agreement.is_running


async def record_review(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: ReviewInput,
    *,
    today: date | None = None,
) -> Review:
    """Record a three-party continuation review and apply its decision.

    The only way an agreement's end date changes or an agreement ends. ``continue`` changes
    nothing (the review clock restarts from the review date); ``extend`` moves the end date to
    a later one within three years of the start; ``end`` ends the agreement on the review date
    (or its end date, if that is earlier).
    """
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_work_on_agreements(actor), "agreement")
    if not agreement.is_running:
        raise Invalid.field(
            "status", _("Reviews are recorded for active and paused agreements only.")
        )
    today = today or clock.today()
    errors: dict[str, str] = {}
    held_on = parse_date(data.held_on)
    if held_on is None:
        errors["held_on"] = _("Enter the date the review was held, e.g. 2.11.2026.")
    elif held_on > today:
        errors["held_on"] = _("Record a review once it has been held; the date is in the future.")
    elif held_on < agreement.start_date:
        errors["held_on"] = _("The review date is before the agreement started.")
    decision = (
        ReviewDecision(data.decision)
        if data.decision in {d.value for d in ReviewDecision}
        else None
    )
    if decision is None:
        errors["decision"] = _("Choose the decision.")
    new_end = None
    if decision == ReviewDecision.EXTEND:
        new_end = parse_date(data.new_end_date)
        limit = max_end_date(agreement.start_date)
        if new_end is None:
            errors["new_end_date"] = _("Enter the new end date, e.g. 31.8.2028.")
        elif new_end <= agreement.end_date:
            errors["new_end_date"] = _(
                "The new end date must be after the current one, %(date)s."
            ) % {"date": i18n.format_date(agreement.end_date)}
        elif new_end > limit:
            errors["new_end_date"] = _(
                "An agreement runs at most three years from its start: %(date)s at the latest."
            ) % {"date": i18n.format_date(limit)}
    if not (data.supervisee_present or data.supervisor_present or data.manager_present):
        errors["present"] = _("Tick who took part in the review.")
    note = data.note.strip()
    if len(note) > MAX_NOTE:
        errors["note"] = i18n.too_long(MAX_NOTE)
    if errors:
        raise Invalid(errors)
    assert held_on is not None and decision is not None

    review = Review(
        agreement_id=agreement.id,
        held_on=held_on,
        decision=decision,
        new_end_date=new_end,
        supervisee_present=data.supervisee_present,
        supervisor_present=data.supervisor_present,
        manager_present=data.manager_present,
        note=note,
        recorded_by=actor.user_id,
    )
    db.add(review)
    record_event(db, agreement, EventKind.REVIEWED, actor=actor, note=decision.label)
    if decision == ReviewDecision.EXTEND and new_end is not None:
        old = agreement.end_date
        agreement.end_date = new_end
        record_event(
            db,
            agreement,
            EventKind.EXTENDED,
            actor=actor,
            note=f"{i18n.format_date(old)} → {i18n.format_date(new_end)}",
        )
    elif decision == ReviewDecision.END:
        agreement.end_date = min(agreement.end_date, held_on)
        set_status(agreement, AgreementStatus.ENDED, actor.user_id)
        record_event(
            db, agreement, EventKind.ENDED, actor=actor, note=i18n.format_date(agreement.end_date)
        )
    await db.flush()
    return review


async def list_reviews(db: AsyncSession, agreement: Agreement) -> list[Review]:
    """The agreement's reviews, the latest first."""
    rows = await db.scalars(
        select(Review)
        .where(Review.agreement_id == agreement.id)
        .order_by(Review.held_on.desc(), Review.created_at.desc())
    )
    return list(rows)


# --- review reminders -----------------------------------------------------------------------


def _review_context(agreement: Agreement, due: date, today: date, *, staff: bool) -> Any:
    return {
        "agreement": agreement,
        "due": due,
        "end": agreement.end_date,
        "overdue": due < today,
        "staff": staff,
    }


def _staff_reminder(tenant: Tenant, agreement: Agreement, due: date, today: date) -> EmailRenderer:
    def reminder(_member: Membership, user: User) -> dict[str, Any]:
        context = _review_context(agreement, due, today, staff=True)
        return firm_email(tenant, "review_reminder", user.email, user.locale, **context)

    return reminder


@scheduled("review_reminders", 3600)
async def send_review_reminders(job: JobContext) -> int:
    """Notify the supervisors (by e-mail too if they chose so) and e-mail the HR contact when
    a review is due within two weeks.

    Once per due date (``Agreement.review_reminder_for``); a review moves the due date, so the
    next one is reminded of in its turn. Reads (and on PostgreSQL locks) only the agreements
    whose reminder is due, through ``review_due_on``. Returns how many were reminded of.
    """
    db, today = job.db, clock.today(job.now)
    query = (
        select(Agreement)
        .where(
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.review_due_on <= today + timedelta(days=REVIEW_DUE_SOON_DAYS),
            or_(
                Agreement.review_reminder_for.is_(None),
                Agreement.review_reminder_for != Agreement.review_due_on,
            ),
        )
        .order_by(Agreement.review_due_on, Agreement.id)
        .options(*AGREEMENT_WHOLE)
    )
    due_now = list((await db.scalars(claimed(db, query, Agreement))).unique())
    for agreement in due_now:
        due = agreement.review_due_on
        assert due is not None
        await notify(
            db,
            job.tenant,
            [link.membership_id for link in agreement.supervisors],
            NotificationKind.REVIEW_DUE,
            f"agreements/{agreement.id}",
            words_of(organisation=agreement.org.name, due=due),
            base_url=job.settings.base_url,
            subject=f"{agreement.id}:{due.isoformat()}",
            email=_staff_reminder(job.tenant, agreement, due, today),
        )
        hr = agreement.hr_contact
        if hr is not None and hr.email and hr.archived_at is None:
            queue_firm_email(
                db,
                job.tenant,
                "review_reminder",
                hr.email,
                mail_language(agreement.org),
                **_review_context(agreement, due, today, staff=False),
            )
        agreement.review_reminder_for = due
    await db.flush()
    return len(due_now)
