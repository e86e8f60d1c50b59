"""An agreement's shared content: assignments and responses, goals, evaluations, limits.

Seen by the agreement's supervisors and its supervisees (:func:`.access.agreement_access`);
what belongs to one supervisee only by that supervisee among a group. Every value decrypted or
written adds an audit row whose context is the supervisee it belongs to, or the agreement, so
a supervisee can later see who opened their records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import audit, clock
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.content.access import Access, Reader, agreement_access, clean_text
from luotsi.tenants.content.models import (
    ASSIGNMENT_BODY,
    EVALUATION_BODY,
    GOAL_BODY,
    LIMITS_BODY,
    RESPONSE_BODY,
    Assignment,
    AssignmentResponse,
    ConfidentialityLimits,
    Evaluation,
    Goal,
    GoalSource,
)
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from luotsi.tenants.sessions.service import check_in_period, to_local

ASSIGNMENT_OBJECT = "assignment"
RESPONSE_OBJECT = "assignment_response"
GOAL_OBJECT = "goal"
EVALUATION_OBJECT = "evaluation"
LIMITS_OBJECT = "confidentiality_limits"
RATINGS = (1, 2, 3, 4, 5)
GOAL_MAX_CHARS = 2_000
COMMENT_MAX_CHARS = 4_000


# --- what the callers get ----------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseView:
    id: uuid.UUID
    person_id: uuid.UUID
    text: str
    done_at: datetime | None
    updated_at: datetime


@dataclass
class AssignmentView:
    id: uuid.UUID
    agreement_id: uuid.UUID
    session_id: uuid.UUID
    person_id: uuid.UUID | None  # None: for everyone on the agreement
    text: str
    due_on: date
    created_at: datetime
    updated_at: datetime
    responses: list[ResponseView] = field(default_factory=list)

    def response_of(self, person_id: uuid.UUID) -> ResponseView | None:
        return next((r for r in self.responses if r.person_id == person_id), None)


@dataclass(frozen=True)
class EvaluationView:
    id: uuid.UUID
    goal_id: uuid.UUID
    person_id: uuid.UUID
    session_id: uuid.UUID | None
    evaluated_on: date
    rating: int
    comment: str


@dataclass
class GoalView:
    id: uuid.UUID
    agreement_id: uuid.UUID
    person_id: uuid.UUID | None  # None: the organisation's goal for everyone on the agreement
    source: GoalSource
    text: str
    created_at: datetime
    updated_at: datetime
    evaluations: list[EvaluationView] = field(default_factory=list)  # oldest first

    def evaluations_of(self, person_id: uuid.UUID) -> list[EvaluationView]:
        return [e for e in self.evaluations if e.person_id == person_id]


@dataclass(frozen=True)
class LimitsView:
    text: str
    updated_at: datetime


# --- assignments ------------------------------------------------------------------------------


def _supervisors_only(access: Access) -> None:
    if not access.is_supervisor:
        raise NotFound("agreement")


async def _default_due_on(db: AsyncSession, session: SupervisionSession, cadence: int) -> date:
    """The next planned session's day, or a cadence after this one when none is planned."""
    following = await db.scalar(
        select(SupervisionSession.starts_at)
        .where(
            SupervisionSession.agreement_id == session.agreement_id,
            SupervisionSession.starts_at > session.starts_at,
            SupervisionSession.status == SessionStatus.PLANNED,
        )
        .order_by(SupervisionSession.starts_at)
        .limit(1)
    )
    if following is not None:
        return to_local(following).date()
    return to_local(session.starts_at).date() + timedelta(weeks=cadence)


def _check_person(access: Access, person_id: uuid.UUID | None) -> None:
    if person_id is not None and person_id not in access.supervisee_ids:
        raise Invalid.field("person", _("Choose a supervisee of this agreement."))


async def set_assignment(
    db: AsyncSession,
    reader: Reader,
    session_id: uuid.UUID,
    text: str,
    *,
    due_on: date | None = None,
    person_id: uuid.UUID | None = None,
) -> AssignmentView:
    """Set an assignment after a session (the agreement's supervisors only).

    ``due_on`` defaults to the next planned session's day; ``person_id`` None sets it for
    everyone on the agreement.
    """
    session = await db.scalar(select(SupervisionSession).where(SupervisionSession.id == session_id))
    if session is None:
        raise NotFound("session")
    access = await agreement_access(db, reader.actor, session.agreement_id)
    _supervisors_only(access)
    access.check_writable()
    clean = clean_text(text)
    _check_person(access, person_id)
    if due_on is None:
        due_on = await _default_due_on(db, session, access.agreement.cadence_weeks)
    elif due_on < to_local(session.starts_at).date():
        raise Invalid.field("due_on", _("The due date cannot be before the session."))
    row_id = uuid.uuid4()
    body, version = reader.seal(ASSIGNMENT_BODY, row_id, clean)
    now = clock.now()
    row = Assignment(
        id=row_id,
        agreement_id=session.agreement_id,
        session_id=session.id,
        person_id=person_id,
        author_membership_id=reader.actor.id,
        body=body,
        key_version=version,
        due_on=due_on,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    context = access.context_for(person_id)
    await reader.audit(db, audit.CONTENT_WRITTEN, ASSIGNMENT_OBJECT, [row.id], context)
    return AssignmentView(
        row.id, row.agreement_id, row.session_id, person_id, clean, due_on, now, now
    )


async def _assignment(
    db: AsyncSession, reader: Reader, assignment_id: uuid.UUID
) -> tuple[Assignment, Access]:
    row = await db.scalar(select(Assignment).where(Assignment.id == assignment_id))
    if row is None:
        raise NotFound("assignment")
    access = await agreement_access(db, reader.actor, row.agreement_id)
    if not access.sees(row.person_id):
        raise NotFound("assignment")
    return row, access


async def edit_assignment(
    db: AsyncSession, reader: Reader, assignment_id: uuid.UUID, text: str, due_on: date
) -> None:
    """Change an assignment's text and due date (its supervisors only)."""
    row, access = await _assignment(db, reader, assignment_id)
    _supervisors_only(access)
    access.check_writable()
    clean = clean_text(text)
    session_start = await db.scalar(
        select(SupervisionSession.starts_at).where(SupervisionSession.id == row.session_id)
    )
    if session_start is not None and due_on < to_local(session_start).date():
        raise Invalid.field("due_on", _("The due date cannot be before the session."))
    row.body, row.key_version = reader.seal(ASSIGNMENT_BODY, row.id, clean)
    row.due_on = due_on
    await db.flush()
    context = access.context_for(row.person_id)
    await reader.audit(db, audit.CONTENT_WRITTEN, ASSIGNMENT_OBJECT, [row.id], context)


async def delete_assignment(db: AsyncSession, reader: Reader, assignment_id: uuid.UUID) -> None:
    """Delete an assignment and its responses (its supervisors only)."""
    row, access = await _assignment(db, reader, assignment_id)
    _supervisors_only(access)
    responses = (
        await db.execute(
            select(AssignmentResponse.id, AssignmentResponse.person_id).where(
                AssignmentResponse.assignment_id == row.id
            )
        )
    ).all()
    await db.execute(delete(AssignmentResponse).where(AssignmentResponse.assignment_id == row.id))
    await db.delete(row)
    await db.flush()
    context = access.context_for(row.person_id)
    await reader.audit(db, audit.CONTENT_DELETED, ASSIGNMENT_OBJECT, [row.id], context)
    # Each response is its supervisee's record (as when it is read), even on a group's task.
    for response_id, person_id in responses:
        await reader.audit(db, audit.CONTENT_DELETED, RESPONSE_OBJECT, [response_id], person_id)


async def list_assignments(
    db: AsyncSession,
    reader: Reader,
    agreement_id: uuid.UUID,
    *,
    session_id: uuid.UUID | None = None,
    assignment_id: uuid.UUID | None = None,
) -> list[AssignmentView]:
    """The agreement's assignments the actor may see (of one session, or only one, if given),
    newest first. Only what is returned is decrypted and audited.

    A supervisor sees every response; a supervisee their own only.
    """
    access = await agreement_access(db, reader.actor, agreement_id)
    query = select(Assignment).where(Assignment.agreement_id == agreement_id)
    if session_id is not None:
        query = query.where(Assignment.session_id == session_id)
    if assignment_id is not None:
        query = query.where(Assignment.id == assignment_id)
    rows = [
        row
        for row in await db.scalars(
            query.order_by(Assignment.created_at.desc(), Assignment.id.desc())
        )
        if access.sees(row.person_id)
    ]
    responses = await db.scalars(
        select(AssignmentResponse)
        .where(AssignmentResponse.assignment_id.in_([row.id for row in rows]))
        .order_by(AssignmentResponse.created_at)
    )
    by_assignment: dict[uuid.UUID, list[AssignmentResponse]] = {}
    for response in responses:
        if access.sees(response.person_id):
            by_assignment.setdefault(response.assignment_id, []).append(response)
    views = []
    for row in rows:
        view = AssignmentView(
            row.id,
            row.agreement_id,
            row.session_id,
            row.person_id,
            reader.open(ASSIGNMENT_BODY, row.id, row.body),
            row.due_on,
            row.created_at,
            row.updated_at,
        )
        context = access.context_for(row.person_id)
        await reader.audit(db, audit.CONTENT_READ, ASSIGNMENT_OBJECT, [row.id], context)
        for response in by_assignment.get(row.id, []):
            text = reader.open(RESPONSE_BODY, response.id, response.body)
            view.responses.append(
                ResponseView(
                    response.id, response.person_id, text, response.done_at, response.updated_at
                )
            )
            await reader.audit(
                db, audit.CONTENT_READ, RESPONSE_OBJECT, [response.id], response.person_id
            )
        views.append(view)
    return views


async def respond_to_assignment(
    db: AsyncSession, reader: Reader, assignment_id: uuid.UUID, text: str, *, done: bool
) -> ResponseView:
    """The acting supervisee writes (or rewrites) their response, and marks it done or not.

    Only a supervisee the assignment is for responds; an empty text is fine when marking done.
    """
    row, access = await _assignment(db, reader, assignment_id)
    if access.person_id is None:
        raise NotFound("assignment")
    access.check_writable()
    clean = clean_text(text, "response", required=not done)
    response = await db.scalar(
        select(AssignmentResponse).where(
            AssignmentResponse.assignment_id == row.id,
            AssignmentResponse.person_id == access.person_id,
        )
    )
    now = clock.now()
    if response is None:
        response = AssignmentResponse(
            id=uuid.uuid4(),
            assignment_id=row.id,
            person_id=access.person_id,
            created_at=now,
        )
        db.add(response)
    response.body, response.key_version = reader.seal(RESPONSE_BODY, response.id, clean)
    response.done_at = (response.done_at or now) if done else None
    response.updated_at = now
    await db.flush()
    await reader.audit(db, audit.CONTENT_WRITTEN, RESPONSE_OBJECT, [response.id], access.person_id)
    return ResponseView(response.id, access.person_id, clean, response.done_at, now)


# --- goals and evaluations --------------------------------------------------------------------


async def add_goal(
    db: AsyncSession,
    reader: Reader,
    agreement_id: uuid.UUID,
    source: GoalSource,
    text: str,
    *,
    person_id: uuid.UUID | None = None,
) -> GoalView:
    """Write a goal: an own goal of one supervisee, or the organisation's for the agreement.

    A supervisee writes their own goals (``person_id`` is theirs whatever is passed) and may
    write down the organisation's; a supervisor writes either, naming the supervisee of an own
    goal (in an individual agreement it is the one supervisee).
    """
    access = await agreement_access(db, reader.actor, agreement_id)
    access.check_writable()
    clean = clean_text(text, max_chars=GOAL_MAX_CHARS)
    if source == GoalSource.ORGANISATION:
        person_id = None
    elif access.person_id is not None:
        person_id = access.person_id
    elif person_id is None and len(access.supervisee_ids) == 1:
        (person_id,) = access.supervisee_ids
    if source == GoalSource.OWN and person_id is None:
        raise Invalid.field("person", _("Choose whose goal it is."))
    _check_person(access, person_id)
    row_id = uuid.uuid4()
    body, version = reader.seal(GOAL_BODY, row_id, clean)
    now = clock.now()
    row = Goal(
        id=row_id,
        agreement_id=agreement_id,
        person_id=person_id,
        source=source,
        body=body,
        key_version=version,
        created_by_user_id=reader.actor.user_id,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    await reader.audit(
        db, audit.CONTENT_WRITTEN, GOAL_OBJECT, [row.id], access.context_for(person_id)
    )
    return GoalView(row.id, agreement_id, person_id, source, clean, now, now)


def _check_goal_editor(access: Access, goal: Goal) -> None:
    """The organisation's goals are shared by the whole agreement: its supervisors revise or
    remove them; a supervisee revises their own goals only."""
    if not access.is_supervisor and goal.person_id is None:
        raise Invalid.field(
            "goal", _("The organisation's goals are revised together with your supervisor.")
        )


async def _goal(db: AsyncSession, reader: Reader, goal_id: uuid.UUID) -> tuple[Goal, Access]:
    row = await db.scalar(select(Goal).where(Goal.id == goal_id))
    if row is None:
        raise NotFound("goal")
    access = await agreement_access(db, reader.actor, row.agreement_id)
    if not access.sees(row.person_id):
        raise NotFound("goal")
    return row, access


async def revise_goal(db: AsyncSession, reader: Reader, goal_id: uuid.UUID, text: str) -> None:
    """Rewrite a goal's text (its evaluations stay with it)."""
    row, access = await _goal(db, reader, goal_id)
    _check_goal_editor(access, row)
    access.check_writable()
    clean = clean_text(text, max_chars=GOAL_MAX_CHARS)
    row.body, row.key_version = reader.seal(GOAL_BODY, row.id, clean)
    await db.flush()
    context = access.context_for(row.person_id)
    await reader.audit(db, audit.CONTENT_WRITTEN, GOAL_OBJECT, [row.id], context)


async def delete_goal(db: AsyncSession, reader: Reader, goal_id: uuid.UUID) -> None:
    """Delete a goal that has not been evaluated yet (an evaluated goal is history)."""
    row, access = await _goal(db, reader, goal_id)
    _check_goal_editor(access, row)
    evaluated = await db.scalar(select(Evaluation.id).where(Evaluation.goal_id == row.id).limit(1))
    if evaluated is not None:
        raise Invalid.field("goal", _("An evaluated goal stays; revise its text instead."))
    await db.delete(row)
    await db.flush()
    context = access.context_for(row.person_id)
    await reader.audit(db, audit.CONTENT_DELETED, GOAL_OBJECT, [row.id], context)


_GOAL_ORDER = (
    Goal.source,  # "organisation" < "own"
    Goal.created_at,
    Goal.id,
    Evaluation.evaluated_on,
    Evaluation.created_at,
)
"""Goals the organisation's first, then in the order written; each one's evaluations oldest
first."""


async def list_goals(
    db: AsyncSession,
    reader: Reader,
    agreement_id: uuid.UUID,
    *,
    goal_id: uuid.UUID | None = None,
    evaluation_id: uuid.UUID | None = None,
) -> list[GoalView]:
    """The agreement's goals the actor may see, organisation's first, each with its
    evaluations (a supervisee's own only) oldest first. ``goal_id`` keeps one goal;
    ``evaluation_id`` one evaluation and its goal. Only what is returned is decrypted and
    audited."""
    access = await agreement_access(db, reader.actor, agreement_id)
    goals = select(Goal).where(Goal.agreement_id == agreement_id)
    joined = [Evaluation.goal_id == Goal.id, Evaluation.agreement_id == agreement_id]
    if goal_id is not None:
        goals = goals.where(Goal.id == goal_id)
    if evaluation_id is not None:
        joined.append(Evaluation.id == evaluation_id)
        goals = goals.where(
            Goal.id.in_(select(Evaluation.goal_id).where(Evaluation.id == evaluation_id))
        )
    # Each goal with its evaluations, in one statement.
    found = await db.execute(
        goals.outerjoin(Evaluation, and_(*joined)).add_columns(Evaluation).order_by(*_GOAL_ORDER)
    )
    return await _goal_views(db, reader, access, found.tuples())


async def _goal_views(
    db: AsyncSession,
    reader: Reader,
    access: Access,
    rows: Iterable[tuple[Goal | None, Evaluation | None]],
) -> list[GoalView]:
    """The goals and evaluations of ``rows`` (each goal with one of its evaluations, in
    :data:`_GOAL_ORDER`) that the actor may see, decrypted and audited."""
    goals: list[Goal] = []
    by_goal: dict[uuid.UUID, list[Evaluation]] = {}
    for row, evaluation in rows:
        if row is None or not access.sees(row.person_id):
            continue
        if row.id not in by_goal:
            goals.append(row)
            by_goal[row.id] = []
        if evaluation is not None and access.sees(evaluation.person_id):
            by_goal[row.id].append(evaluation)
    views = []
    for row in goals:
        text = reader.open(GOAL_BODY, row.id, row.body)
        view = GoalView(
            row.id,
            row.agreement_id,
            row.person_id,
            row.source,
            text,
            row.created_at,
            row.updated_at,
        )
        await reader.audit(
            db, audit.CONTENT_READ, GOAL_OBJECT, [row.id], access.context_for(row.person_id)
        )
        for evaluation in by_goal[row.id]:
            view.evaluations.append(_evaluation_view(reader, evaluation))
            await reader.audit(
                db, audit.CONTENT_READ, EVALUATION_OBJECT, [evaluation.id], evaluation.person_id
            )
        views.append(view)
    return views


def _evaluation_view(reader: Reader, row: Evaluation) -> EvaluationView:
    values = json.loads(reader.open(EVALUATION_BODY, row.id, row.body))
    return EvaluationView(
        row.id,
        row.goal_id,
        row.person_id,
        row.session_id,
        row.evaluated_on,
        int(values["rating"]),
        str(values["comment"]),
    )


def parse_rating(raw: str) -> int:
    try:
        rating = int(raw)
    except (TypeError, ValueError):
        rating = 0
    if rating not in RATINGS:
        raise Invalid.field("rating", _("Choose a rating from 1 to 5."))
    return rating


async def record_evaluation(
    db: AsyncSession,
    reader: Reader,
    goal_id: uuid.UUID,
    rating: int,
    comment: str,
    *,
    evaluated_on: date,
    person_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
) -> EvaluationView:
    """Record a supervisee's progress on a goal: 1-5 and words, on a day (and a meeting).

    Either party records it (they evaluate together). A supervisee records their own; a
    supervisor names the supervisee for an organisation's goal of a group. The day is within
    the agreement's term and not in the future.
    """
    goal, access = await _goal(db, reader, goal_id)
    access.check_writable()
    if rating not in RATINGS:
        raise Invalid.field("rating", _("Choose a rating from 1 to 5."))
    clean = clean_text(comment, "comment", required=False, max_chars=COMMENT_MAX_CHARS)
    if access.person_id is not None:
        person_id = access.person_id
    elif goal.person_id is not None:
        person_id = goal.person_id
    elif person_id is None and len(access.supervisee_ids) == 1:
        (person_id,) = access.supervisee_ids
    if person_id is None:
        raise Invalid.field("person", _("Choose whose progress it is."))
    _check_person(access, person_id)
    if evaluated_on > to_local(clock.now()).date():
        raise Invalid.field("evaluated_on", _("An evaluation cannot be dated in the future."))
    errors: dict[str, str] = {}
    check_in_period(access.agreement, evaluated_on, "evaluated_on", errors)
    if errors:
        raise Invalid(errors)
    if session_id is not None:
        found = await db.scalar(
            select(SupervisionSession.id).where(
                SupervisionSession.id == session_id,
                SupervisionSession.agreement_id == goal.agreement_id,
            )
        )
        if found is None:
            raise Invalid.field("session", _("Choose a meeting of this agreement."))
    row_id = uuid.uuid4()
    payload = json.dumps({"rating": rating, "comment": clean}, ensure_ascii=False)
    body, version = reader.seal(EVALUATION_BODY, row_id, payload)
    row = Evaluation(
        id=row_id,
        agreement_id=goal.agreement_id,
        goal_id=goal.id,
        person_id=person_id,
        session_id=session_id,
        evaluated_on=evaluated_on,
        body=body,
        key_version=version,
        recorded_by_user_id=reader.actor.user_id,
    )
    db.add(row)
    await db.flush()
    await reader.audit(db, audit.CONTENT_WRITTEN, EVALUATION_OBJECT, [row.id], person_id)
    return EvaluationView(row.id, goal.id, person_id, session_id, evaluated_on, rating, clean)


async def delete_evaluation(db: AsyncSession, reader: Reader, evaluation_id: uuid.UUID) -> None:
    """Remove an evaluation recorded by mistake (either party who may see it)."""
    row = await db.scalar(select(Evaluation).where(Evaluation.id == evaluation_id))
    if row is None:
        raise NotFound("evaluation")
    access = await agreement_access(db, reader.actor, row.agreement_id)
    if not access.sees(row.person_id):
        raise NotFound("evaluation")
    await db.delete(row)
    await db.flush()
    await reader.audit(db, audit.CONTENT_DELETED, EVALUATION_OBJECT, [row.id], row.person_id)


# --- limits of confidentiality ----------------------------------------------------------------


async def read_limits(
    db: AsyncSession, reader: Reader, agreement_id: uuid.UUID
) -> LimitsView | None:
    """The limits of confidentiality of the agreement, or None when not written yet."""
    access = await agreement_access(db, reader.actor, agreement_id)
    row = await db.scalar(
        select(ConfidentialityLimits).where(ConfidentialityLimits.agreement_id == agreement_id)
    )
    return await _limits_view(db, reader, access, row)


async def _limits_view(
    db: AsyncSession, reader: Reader, access: Access, row: ConfidentialityLimits | None
) -> LimitsView | None:
    if row is None:
        return None
    text = reader.open(LIMITS_BODY, row.id, row.body)
    await reader.audit(db, audit.CONTENT_READ, LIMITS_OBJECT, [row.id], access.agreement.id)
    return LimitsView(text, row.updated_at)


@dataclass(frozen=True)
class AgreementContent:
    """What the agreement page shows of its shared content."""

    limits: LimitsView | None
    goals: list[GoalView]


async def agreement_content(
    db: AsyncSession, reader: Reader, agreement_id: uuid.UUID
) -> AgreementContent:
    """The limits of confidentiality and the goals with their evaluations (as
    :func:`read_limits` and :func:`list_goals`), in one statement: the agreement's one row of
    limits beside each goal and evaluation."""
    access = await agreement_access(db, reader.actor, agreement_id)
    found = await db.execute(
        select(ConfidentialityLimits, Goal, Evaluation)
        .select_from(Agreement)
        .outerjoin(ConfidentialityLimits, ConfidentialityLimits.agreement_id == Agreement.id)
        .outerjoin(Goal, Goal.agreement_id == Agreement.id)
        .outerjoin(
            Evaluation,
            and_(Evaluation.goal_id == Goal.id, Evaluation.agreement_id == Agreement.id),
        )
        .where(Agreement.id == agreement_id)
        .order_by(*_GOAL_ORDER)
    )
    rows = list(found.tuples())
    limits = await _limits_view(db, reader, access, rows[0][0] if rows else None)
    goals = await _goal_views(db, reader, access, ((goal, ev) for _l, goal, ev in rows))
    return AgreementContent(limits, goals)


async def write_limits(
    db: AsyncSession, reader: Reader, agreement_id: uuid.UUID, text: str
) -> LimitsView:
    """Record the limits agreed in dialogue (a supervisor of the agreement writes them down)."""
    access = await agreement_access(db, reader.actor, agreement_id)
    _supervisors_only(access)
    access.check_writable()
    clean = clean_text(text)
    row = await db.scalar(
        select(ConfidentialityLimits).where(ConfidentialityLimits.agreement_id == agreement_id)
    )
    if row is None:
        row = ConfidentialityLimits(id=uuid.uuid4(), agreement_id=agreement_id)
        db.add(row)
    row.body, row.key_version = reader.seal(LIMITS_BODY, row.id, clean)
    row.updated_by_user_id = reader.actor.user_id
    row.updated_at = clock.now()
    await db.flush()
    await reader.audit(db, audit.CONTENT_WRITTEN, LIMITS_OBJECT, [row.id], agreement_id)
    return LimitsView(clean, row.updated_at)
