"""What the staff pages show of an agreement's confidential content, and to whom.

The session page (assignments, the supervisor's notes) and the agreement page (limits of
confidentiality, goals and evaluations, handing notes over) get their content sections from
here. Content comes only from :mod:`luotsi.tenants.content`, and only for the agreement's own
supervisors (a note: its keeper): anyone else gets no section and no hint that one exists.

A section decrypts (and the content module audits the read) only when asked to ``show`` it: a
page re-shown for another form's error is answered with 422, which rolls the transaction back
and with it the audit of any read, so such a page shows a link to the content instead.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar.datastructures import FormMultiDict
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import parse_date
from luotsi.platform.members import get_member
from luotsi.platform.tenancy import Membership
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.content.access import TEXT_MAX_CHARS
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from luotsi.tenants.sessions.service import to_local
from luotsi.web.charts import progress_svg
from luotsi.web.deps import WS, Req
from luotsi.web.forms import form_text
from luotsi.web.templating import rating_label, render
from luotsi.web.workspace import content_reader

# A form field is cut well above the longest text the content module takes: an overlong
# text is refused with a message and shown again whole, never silently shortened.
FIELD_MAX_CHARS = 2 * TEXT_MAX_CHARS


def paragraphs(text: str) -> list[str]:
    """Plain text split at blank lines (line breaks inside a paragraph stay)."""
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def page(
    request: Req,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    private: bool = True,
) -> Any:
    """Render a page that may show content (never cached unless ``private`` is False)."""
    return render(request, template, context, block=block, status_code=status_code, private=private)


def text_field(form: FormMultiDict, name: str) -> str:
    return form_text(form, name, FIELD_MAX_CHARS)


def supervisee_names(agreement: Agreement) -> dict[uuid.UUID, str]:
    """The agreement's supervisees by id, in name order."""
    return {p.id: p.name for p in agreement.supervisee_people}


def works_with_content(ws: WS, agreement: Agreement) -> bool:
    """Whether the member is one of the agreement's own supervisors (its content is theirs)."""
    on_agreement = {s.membership_id for s in agreement.supervisors}
    return permissions.can_work_with_shared_content(ws.membership, on_agreement)


def erased_on(agreement: Agreement) -> date | None:
    """The day the retention rule erased the agreement's content, if it has."""
    if agreement.content_erased_at is None:
        return None
    return to_local(agreement.content_erased_at).date()


@dataclass(frozen=True)
class Draft:
    """A refused content form: which form (and object), what was typed, why it was refused."""

    form: str = ""  # e.g. "assignment", "edit-assignment", "goal", "evaluation"; "" for none
    target: uuid.UUID | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def at(self, form: str, target: uuid.UUID | None = None) -> Draft:
        """This draft if it belongs to that form (of that object), else an empty one."""
        return self if (self.form, self.target) == (form, target) else NO_DRAFT

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default) if self.form else default


NO_DRAFT = Draft()


def optional_uuid(raw: str, field_name: str, message: str) -> uuid.UUID | None:
    """A chosen id from a select ("" for none); :class:`Invalid` when it is no id at all."""
    if not raw.strip():
        return None
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        raise Invalid.field(field_name, message) from None


def due_date(raw: str) -> date | None:
    """An assignment's due date as typed; None when left empty."""
    if not raw.strip():
        return None
    day = parse_date(raw)
    if day is None:
        raise Invalid.field("due_on", _("Enter the due date, e.g. 17.12.2026."))
    return day


def _former(names: dict[uuid.UUID, str], person_id: uuid.UUID | None) -> str:
    if person_id is None:
        return ""
    return names.get(person_id) or _("A former supervisee")


# --- the session page -------------------------------------------------------------------------


async def _keeps_handed_over_notes(db: AsyncSession, ws: WS, session_id: uuid.UUID) -> bool:
    """Whether notes on this session were handed over to the member (a count, no content)."""
    count = await db.scalar(
        select(func.count())
        .select_from(content.SessionNote)
        .where(
            content.SessionNote.session_id == session_id,
            content.SessionNote.author_membership_id == ws.membership.id,
            content.SessionNote.handed_over_from.is_not(None),
        )
    )
    return bool(count)


async def session_content(
    request: Req, db: AsyncSession, ws: WS, session: SupervisionSession, show: bool
) -> dict[str, Any]:
    """The session page's "Assignments" and "My notes" sections.

    Assignments: the agreement's own supervisors. Notes: the session's supervisor, who writes
    them, and a supervisor to whom notes on it were handed over, who reads and keeps them.
    """
    agreement = session.agreement
    erased = erased_on(agreement)
    reader = content_reader(request, ws)
    holder = permissions.can_write_session_notes(ws.membership, session.supervisor_id)
    notes_section = holder or await _keeps_handed_over_notes(db, ws, session.id)
    assignments_section = works_with_content(ws, agreement)
    notes = assignments = None
    if show and erased is None:
        if notes_section:
            notes = list(reversed(await content.read_notes(db, reader, session.id)))
        if assignments_section:
            assignments = await content.list_assignments(
                db, reader, agreement.id, session_id=session.id
            )
    return {
        "notes_section": notes_section,
        "can_add_notes": holder and erased is None,
        "notes": notes,  # newest first; None: not shown on this answer
        "assignments_section": assignments_section,
        "assignments": assignments,
        "content_erased_on": erased,
        "paragraphs": paragraphs,
        "response_rows": response_rows,
        "person_names": supervisee_names(agreement),
    }


def response_rows(
    assignment: content.AssignmentView, supervisees: list[ClientPerson]
) -> list[tuple[str, content.ResponseView | None]]:
    """Who the assignment is for, each with their response (None: none yet); responses of
    supervisees no longer on the agreement too."""
    names = {p.id: p.name for p in supervisees}
    ids = [assignment.person_id] if assignment.person_id else list(names)
    ids += [r.person_id for r in assignment.responses if r.person_id not in ids]
    return [(_former(names, i), assignment.response_of(i)) for i in ids]


# --- the agreement page -----------------------------------------------------------------------


@dataclass
class Track:
    """One supervisee's progress on one goal: the evaluations oldest first, and their chart."""

    person_id: uuid.UUID
    name: str
    evaluations: list[content.EvaluationView]
    chart: Markup


@dataclass
class GoalRow:
    goal: content.GoalView
    whose: str  # the supervisee of an own goal; "" for the organisation's
    tracks: list[Track]


def goal_rows(goals: Iterable[content.GoalView], people: dict[uuid.UUID, str]) -> list[GoalRow]:
    """Each goal with a track per supervisee it concerns: the one of an own goal, everyone on
    the agreement for an organisation's goal (and anyone evaluated on it since)."""
    rows = []
    for goal in goals:
        if goal.person_id is not None:
            ids = [goal.person_id]
        else:
            ids = list(people)
            ids += [e.person_id for e in goal.evaluations if e.person_id not in ids]
            ids = list(dict.fromkeys(ids))
        tracks = []
        for person_id in ids:
            name = _former(people, person_id)
            evaluations = goal.evaluations_of(person_id)
            chart = progress_svg(
                points=[(e.evaluated_on, e.rating) for e in evaluations],
                title=_("Progress of %(name)s") % {"name": name},
            )
            tracks.append(Track(person_id, name, evaluations, chart))
        rows.append(GoalRow(goal, _former(people, goal.person_id), tracks))
    return rows


def meeting_choices(sessions: Iterable[SupervisionSession]) -> list[SupervisionSession]:
    """Meetings an evaluation may be tied to: held (or not yet marked) by today, newest
    first."""
    today = clock.today()
    return [
        s
        for s in reversed(list(sessions))
        if s.status in (SessionStatus.HELD, SessionStatus.PLANNED)
        and to_local(s.starts_at).date() <= today
    ]


async def agreement_content(
    request: Req,
    db: AsyncSession,
    ws: WS,
    agreement: Agreement,
    sessions: list[SupervisionSession],
    show: bool,
    draft: Draft = NO_DRAFT,
) -> dict[str, Any]:
    """The agreement page's "Supervision content" section: its own supervisors only."""
    if not works_with_content(ws, agreement):
        return {"content_section": False}
    erased = erased_on(agreement)
    people = supervisee_names(agreement)
    context: dict[str, Any] = {
        "content_section": True,
        "content_shown": show and erased is None,
        "content_erased_on": erased,
        "draft": draft,
        "people": people,
        "ratings": [(r, rating_label(r)) for r in content.RATINGS],
        "paragraphs": paragraphs,
        "today": clock.today(),
        "meetings": meeting_choices(sessions),
        "meeting_of": {s.id: s for s in sessions},
    }
    if not context["content_shown"]:
        return context
    reader = content_reader(request, ws)
    shown = await content.agreement_content(db, reader, agreement.id)
    context |= {
        "limits": shown.limits,
        "goal_rows": goal_rows(shown.goals, people),
        "notes_kept": await content.notes_to_hand_over(db, ws.membership, agreement.id),
        "recipients": [
            (s.membership_id, s.name)
            for s in agreement.supervisors
            if s.membership_id != ws.membership.id and s.membership.is_staff
        ],
    }
    return context


def find_evaluation(
    goals: Iterable[content.GoalView], evaluation_id: uuid.UUID
) -> tuple[content.GoalView, content.EvaluationView] | None:
    for goal in goals:
        for evaluation in goal.evaluations:
            if evaluation.id == evaluation_id:
                return goal, evaluation
    return None


# --- reading the forms ------------------------------------------------------------------------


def goal_source(raw: str) -> content.GoalSource:
    try:
        return content.GoalSource(raw)
    except ValueError:
        raise Invalid.field("source", _("Choose whose goal it is.")) from None


@dataclass(frozen=True)
class EvaluationAnswer:
    rating: int
    evaluated_on: date
    session_id: uuid.UUID | None
    person_id: uuid.UUID | None


def read_evaluation(values: dict[str, str]) -> EvaluationAnswer:
    """The evaluation form's choices, every refusal at once (the comment is the module's)."""
    errors: dict[str, str] = {}
    rating = 0
    try:
        rating = content.parse_rating(values["rating"])
    except Invalid as exc:
        errors |= exc.errors
    day = parse_date(values["evaluated_on"])
    if day is None:
        errors["evaluated_on"] = _("Enter the date of the evaluation, e.g. 2.11.2026.")
    chosen: dict[str, uuid.UUID | None] = {}
    for name, message in (
        ("session", _("Choose a meeting of this agreement.")),
        ("person", _("Choose a supervisee of this agreement.")),
    ):
        try:
            chosen[name] = optional_uuid(values[name], name, message)
        except Invalid as exc:
            errors |= exc.errors
    if errors or day is None:
        raise Invalid(errors)
    return EvaluationAnswer(rating, day, chosen["session"], chosen["person"])


async def hand_over_recipient(db: AsyncSession, agreement: Agreement, raw: str) -> Membership:
    """The supervisor chosen to receive the notes; the content module checks who may."""
    refused = Invalid.field("recipient", _("Choose another supervisor of the agreement."))
    try:
        chosen = uuid.UUID(raw.strip())
    except ValueError:
        raise refused from None
    if chosen not in {s.membership_id for s in agreement.supervisors}:
        raise refused
    try:
        return await get_member(db, chosen)
    except NotFound:
        raise refused from None


# --- whether an id in a URL belongs where the URL puts it (counts only, never content) -------


async def _exists(db: AsyncSession, model: Any, object_id: uuid.UUID, **where: uuid.UUID) -> bool:
    conditions = [model.id == object_id] + [getattr(model, k) == v for k, v in where.items()]
    return bool(await db.scalar(select(func.count()).select_from(model).where(*conditions)))


async def note_is_on(db: AsyncSession, session_id: uuid.UUID, note_id: uuid.UUID) -> bool:
    return await _exists(db, content.SessionNote, note_id, session_id=session_id)


async def assignment_is_on(
    db: AsyncSession, session_id: uuid.UUID, assignment_id: uuid.UUID
) -> bool:
    return await _exists(db, content.Assignment, assignment_id, session_id=session_id)


async def goal_is_on(db: AsyncSession, agreement_id: uuid.UUID, goal_id: uuid.UUID) -> bool:
    return await _exists(db, content.Goal, goal_id, agreement_id=agreement_id)


async def evaluation_is_on(
    db: AsyncSession, agreement_id: uuid.UUID, evaluation_id: uuid.UUID
) -> bool:
    return await _exists(db, content.Evaluation, evaluation_id, agreement_id=agreement_id)
