"""``/api/v1/sessions``: sessions and meetings as dates, statuses and counts (never content).

Planning, moving, cancelling and marking held go through the pages' own service functions, with
their rules: within the agreement and its quota, not over the supervisor's other meetings, on a
working day within working hours unless ``anyway``; the participants get the same invitations.
Reads need ``sessions_read``, changes ``sessions_write``; changes are audited as the token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select

from luotsi.platform.apitokens import record_api_write
from luotsi.platform.errors import Invalid
from luotsi.tenants.sessions import changes, planning
from luotsi.tenants.sessions import service as session_service
from luotsi.tenants.sessions.models import SupervisionSession
from luotsi.web.api.access import (
    CALLER,
    needs,
    oldest_first,
    problem_responses,
    refuse_control_characters,
)
from luotsi.web.api.schemas import (
    SessionCancellation,
    SessionHeld,
    SessionIn,
    SessionOut,
    SessionPage,
    SessionPatch,
    whole_minutes_local,
)
from luotsi.web.deps import DB, Req
from luotsi.web.middleware import origin

READ = [needs("sessions_read")]
WRITE = [needs("sessions_write")]


def _mailing(request: Req) -> session_service.Mailing:
    return session_service.Mailing.from_settings(request.app.state["settings"])


def _place(remote: bool) -> str:
    return "remote" if remote else "address"


# The planning forms' field names and the API's.
_FIELDS = {
    "date": "starts_at",
    "time": "starts_at",
    "minutes": "duration_minutes",
    "supervisor": "supervisor_id",
    "place": "remote",
}


@contextmanager
def api_fields() -> Iterator[None]:
    """A refusal by the planning rules, naming the API's fields instead of the form's."""
    try:
        yield
    except Invalid as exc:
        errors: dict[str, str] = {}
        for name, message in exc.errors.items():
            errors.setdefault(_FIELDS.get(name, name), message)
        raise Invalid(errors) from None


class SessionsController(Controller):
    path = "/sessions"
    tags = ["sessions"]

    @get("/", guards=READ, responses=problem_responses(422))
    async def list_sessions(
        self,
        db: DB,
        caller: CALLER,
        agreement_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> SessionPage:
        """Sessions and meetings in the order they were planned; ``agreement_id``: one
        agreement's."""
        statement = select(SupervisionSession).where(
            *session_service.visible_sessions(caller.actor)
        )
        if agreement_id is not None:
            statement = statement.where(SupervisionSession.agreement_id == agreement_id)
        rows, after = await oldest_first(db, statement, SupervisionSession, cursor, limit)
        return SessionPage([SessionOut.of(s) for s in rows], after)

    @get("/{session_id:uuid}", guards=READ, responses=problem_responses())
    async def get_session(
        self, db: DB, caller: CALLER, session_id: FromPath[uuid.UUID]
    ) -> SessionOut:
        return SessionOut.of(await session_service.get_session(db, caller.actor, session_id))

    @patch("/{session_id:uuid}", guards=WRITE, responses=problem_responses(409, 422))
    async def reschedule(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[SessionPatch],
    ) -> SessionOut:
        """Move a planned meeting (its time, length or place), as the reschedule page does."""
        refuse_control_characters(data)
        session = await session_service.get_session(db, caller.actor, session_id)
        values = changes.RescheduleInput.of(session)
        errors: dict[str, str] = {}
        if data.starts_at is not None:
            values.date, values.time = whole_minutes_local(data.starts_at, "starts_at", errors)
        if errors:
            raise Invalid(errors)
        if data.duration_minutes is not None:
            values.minutes = str(data.duration_minutes)
        if data.remote is not None:
            values.place = _place(data.remote)
        values.address = values.address if data.address is None else data.address
        values.meeting_url = values.meeting_url if data.meeting_url is None else data.meeting_url
        values.anyway = "on" if data.anyway else ""
        with api_fields():
            session = await changes.reschedule_session(
                db, caller.actor, session.id, values, _mailing(request)
            )
        await record_api_write(db, caller, "session", session.id, origin(request))
        return SessionOut.of(session)

    @post(
        "/{session_id:uuid}/cancel",
        guards=WRITE,
        status_code=200,
        responses=problem_responses(409, 422),
    )
    async def cancel(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[SessionCancellation],
    ) -> SessionOut:
        """Cancel a planned meeting; by the client late, and billable, within the agreement's
        cancellation hours."""
        values = changes.CancelInput(by=data.by)
        errors: dict[str, str] = {}
        if data.cancelled_at is not None:
            values.date, values.time = _minute_of(data.cancelled_at, errors)
        if errors:
            raise Invalid(errors)
        with api_fields():
            session = await changes.cancel_session(
                db, caller.actor, session_id, values, _mailing(request)
            )
        await record_api_write(db, caller, "session", session.id, origin(request))
        return SessionOut.of(session)

    @post(
        "/{session_id:uuid}/held",
        guards=WRITE,
        status_code=200,
        responses=problem_responses(409, 422),
    )
    async def held(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        session_id: FromPath[uuid.UUID],
        data: JSONBody[SessionHeld],
    ) -> SessionOut:
        """Record that a planned meeting took place (on its day or later), and how long it
        lasted: its planned length unless ``actual_minutes`` says otherwise (1-240)."""
        session = await session_service.get_session(db, caller.actor, session_id)
        minutes = data.actual_minutes or session.duration_minutes
        session = await changes.mark_held(db, caller.actor, session.id, str(minutes))
        await record_api_write(db, caller, "session", session.id, origin(request))
        return SessionOut.of(session)


def _minute_of(value: datetime, errors: dict[str, str]) -> tuple[str, str]:
    """A cancellation time to the minute (the form's precision); seconds are dropped."""
    if value.tzinfo is None:
        return whole_minutes_local(value, "cancelled_at", errors)
    return whole_minutes_local(value.replace(second=0, microsecond=0), "cancelled_at", errors)


class AgreementSessionsController(Controller):
    path = "/agreements/{agreement_id:uuid}/sessions"
    tags = ["sessions"]

    @post("/", guards=WRITE, responses=problem_responses(422))
    async def plan(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        agreement_id: FromPath[uuid.UUID],
        data: JSONBody[SessionIn],
    ) -> SessionOut:
        """Plan a session, evaluation meeting or review meeting for an active agreement, as
        the planning page does (and invite its participants)."""
        refuse_control_characters(data)
        errors: dict[str, str] = {}
        day, at = whole_minutes_local(data.starts_at, "starts_at", errors)
        if errors:
            raise Invalid(errors)
        agreement = await session_service.agreement_for_work(db, caller.actor, agreement_id)
        values = planning.MeetingInput(
            kind=data.kind,
            date=day,
            time=at,
            minutes=str(data.duration_minutes or agreement.session_minutes),
            place=_place(data.remote),
            address=data.address,
            meeting_url=data.meeting_url,
            supervisor=str(data.supervisor_id or ""),
            anyway="on" if data.anyway else "",
        )
        with api_fields():
            session = await planning.plan_meeting(
                db, caller.actor, agreement.id, values, _mailing(request)
            )
        await record_api_write(db, caller, "session", session.id, origin(request))
        return SessionOut.of(session)
