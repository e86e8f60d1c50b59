"""Sessions: planning series, marking them, the calendars and the ICS feeds."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.sessions import calendars
from luotsi.tenants.sessions import changes as session_changes
from luotsi.tenants.sessions import planning as session_planning
from luotsi.tenants.sessions import service as session_service
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession
from luotsi.web.content import supervision
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import (
    MAX_CHOICES,
    MAX_SEARCH,
    form_text,
    form_texts,
    ids_of,
    query_text,
    read_form,
)
from luotsi.web.templating import FLASH_MESSAGES, redirect, render
from luotsi.web.workspace import content_reader, requires

PER_PAGE = 25
VIEWS = ("week", "month")


_WAITING = "sessions/?when=past&status=planned"  # the sessions waiting to be marked
_UPCOMING = "sessions/?when=upcoming&status=planned"


def session_filters(request: Req) -> session_service.SessionFilter:
    """The session list's filters from its query string (also its export's)."""
    when = request.query_params.get("when")
    return session_service.SessionFilter(
        when=when if when in ("upcoming", "past", "all") else "upcoming",
        status=query_text(request, "status"),
        supervisor=query_text(request, "supervisor"),
        text=query_text(request, "q"),
    )


def _chosen(request: Req) -> list[uuid.UUID]:
    """The sessions chosen on the list (checkboxes named ``session``)."""
    return ids_of(request.query_params.getall("session", [])[:MAX_CHOICES])


async def _bulk_page(
    request: Req,
    db: DB,
    ws: WS,
    action: str,
    sessions: list[SupervisionSession],
    chosen: int,
    back: str,
) -> Any:
    """The confirmation of a bulk action: the sessions it applies to, and how many not."""
    context = {
        "ws": ws,
        "action": action,
        "sessions": sessions,
        "chosen": chosen,
        "back": ws.url(back),
        "names": await session_service.supervisor_names(db),
        **session_helpers(),
    }
    return render(request, "sessions/bulk.html", context)


def _mailing(request: Req) -> session_service.Mailing:
    return session_service.Mailing.from_settings(request.app.state["settings"])


def weekday_date(value: date | datetime) -> str:
    """ "torstai 3.12.2026": the weekday matters when planning. The stand-alone name ("cccc"):
    Finnish "EEEE" is the in-sentence "torstaina", and CLDR even gives "sunnuntai" for Sunday."""
    if isinstance(value, datetime):
        value = value.astimezone(HELSINKI).date()
    return f"{i18n.format_date(value, 'cccc')} {i18n.format_date(value)}"


def requested_time(query: Any) -> dict[str, str]:
    """The ``date`` and ``time`` asked for in the address (by the calendar), those valid."""
    wanted = {}
    with contextlib.suppress(ValueError):
        wanted["date"] = date.fromisoformat(query.get("date", "")).isoformat()
    at = session_service.parse_time(query.get("time", ""))
    if at is not None:
        wanted["time"] = at.strftime("%H:%M")
    return wanted


def iso_week(day: date) -> str:
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def session_helpers() -> dict[str, Any]:
    """Template helpers for times (Helsinki) shared by every page here."""
    return {
        "time_of": session_service.format_time,
        "weekday_date": weekday_date,
        "ends_at": session_service.ends_at,
        "week_of": lambda value: iso_week(session_service.to_local(value).date()),
        "week_of_day": lambda day: iso_week(day),
        "statuses": list(SessionStatus),
        "meeting_kinds": list(MeetingKind),
    }


async def _agreement_context(db: DB, ws: WS, agreement: Agreement) -> dict[str, Any]:
    names = await session_service.supervisor_names(db)
    return {
        "agreement": agreement,
        "agreement_url": ws.url(f"agreements/{agreement.id}"),
        "agreement_supervisors": [
            (s.membership_id, names.get(s.membership_id, "")) for s in agreement.supervisors
        ],
        "supervisee_names": [link.person.name for link in agreement.supervisees],
        "active": agreement.status == AgreementStatus.ACTIVE,
        "counts": await session_service.session_counts(db, agreement),
    }


def _last(items: list[SupervisionSession]) -> SupervisionSession | None:
    return items[-1] if items else None


class SessionsController(Controller):
    """Workspace: sessions of agreements, planning a series, status changes."""

    path = "/sessions"
    guards = [requires(permissions.can_work_on_agreements)]

    # --- the list ---------------------------------------------------------------------------

    @get("/", name="sessions")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        filters = session_filters(request)
        page = await session_service.list_sessions(
            db, ws.membership, filters, page_number(query.get("page")), PER_PAGE
        )
        # The filter's choices name the supervisors the member may pick (everyone, for the
        # office); the page's rows need the names of theirs only, most of them among those.
        supervisors = await calendars.calendar_supervisors(db, ws.membership)
        names = dict(supervisors)
        if unnamed := {s.supervisor_id for s in page.items} - names.keys():
            names |= await session_service.supervisor_names(db, only=unnamed)
        context = {
            "ws": ws,
            "page": page,
            "filters": filters,
            "query": query,
            "supervisors": supervisors,
            "names": names,
            # Planned sessions can be chosen for a bulk action (marking held, reminding).
            "choosable": {s.id for s in page.items if s.status == SessionStatus.PLANNED},
            **session_helpers(),
        }
        return render(request, "sessions/index.html", context, block="results")

    # --- bulk actions on chosen sessions ---------------------------------------------------

    @get("/held", name="confirm_mark_held")
    async def confirm_many_held(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = _chosen(request)
        sessions = await session_changes.markable_sessions(db, ws.membership, chosen)
        return await _bulk_page(request, db, ws, "held", sessions, len(chosen), _WAITING)

    @post("/held", name="mark_held")
    async def many_held(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = ids_of(form_texts(await request.form(), "session", 40))
        marked = await session_changes.mark_many_held(db, ws.membership, chosen)
        flash = "sessions_held" if marked else "sessions_none_held"
        return redirect(request, ws.url(_WAITING), flash=flash)

    @get("/remind", name="confirm_send_reminders")
    async def confirm_reminders(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = _chosen(request)
        sessions = await calendars.remindable_sessions(db, ws.membership, chosen)
        return await _bulk_page(request, db, ws, "remind", sessions, len(chosen), _UPCOMING)

    @post("/remind", name="send_reminders")
    async def reminders(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = ids_of(form_texts(await request.form(), "session", 40))
        sent = await calendars.send_reminders_now(db, ws.membership, ws.tenant, chosen)
        flash = "reminders_sent" if sent else "reminders_none_sent"
        return redirect(request, ws.url(_UPCOMING), flash=flash)

    # --- planning a series ------------------------------------------------------------------

    @get("/plan/{agreement_id:uuid}", name="plan_sessions")
    async def plan(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await session_service.agreement_for_work(db, ws.membership, agreement_id)
        existing = await session_service.sessions_of_agreement(db, ws.membership, agreement)
        today = clock.today()
        values = session_planning.SeriesInput.defaults(
            agreement, ws.membership, _last(existing), today
        )
        return await self._plan_page(request, db, ws, agreement, values, existing=existing)

    @post("/plan/{agreement_id:uuid}")
    async def preview(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await session_service.agreement_for_work(db, ws.membership, agreement_id)
        values = await read_form(request, session_planning.SeriesInput)
        try:
            preview = await session_planning.preview_series(db, ws.membership, agreement.id, values)
        except Invalid as exc:
            return await self._plan_page(request, db, ws, agreement, values, errors=exc.errors)
        return await self._plan_page(request, db, ws, agreement, values, preview=preview)

    @post("/plan/{agreement_id:uuid}/confirm")
    async def confirm(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await session_service.agreement_for_work(db, ws.membership, agreement_id)
        values = await read_form(request, session_planning.SeriesInput)
        form = await request.form()
        ticked = form.getall("include") if "include" in form else []
        include = [int(v) for v in ticked if isinstance(v, str) and v.isdigit()]
        digest = form.get("digest", "")
        try:
            await session_planning.plan_series(
                db,
                ws.membership,
                agreement.id,
                values,
                include,
                digest if isinstance(digest, str) else "",
                _mailing(request),
            )
        except session_planning.SeriesChanged as exc:
            return await self._plan_page(
                request, db, ws, agreement, values, preview=exc.preview, errors=exc.errors
            )
        except Invalid as exc:
            return await self._plan_page(request, db, ws, agreement, values, errors=exc.errors)
        return redirect(request, ws.url(f"sessions/plan/{agreement.id}"), flash="sessions_planned")

    async def _plan_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement: Agreement,
        values: session_planning.SeriesInput,
        *,
        preview: session_planning.SeriesPreview | None = None,
        errors: dict[str, str] | None = None,
        existing: list[SupervisionSession] | None = None,
    ) -> Any:
        if existing is None:
            existing = await session_service.sessions_of_agreement(db, ws.membership, agreement)
        context = {
            "ws": ws,
            "values": values,
            "preview": preview,
            "errors": errors or {},
            "existing": existing,
            **await _agreement_context(db, ws, agreement),
            **session_helpers(),
        }
        status = 422 if errors else 200
        return render(request, "sessions/plan.html", context, block="planner", status_code=status)

    # --- one-off meetings -------------------------------------------------------------------

    @get("/new", name="choose_agreement_for_meeting")
    async def choose_agreement(self, request: Req, db: DB, ws: WS) -> Any:
        """From an empty time in the calendar: which agreement the meeting is for."""
        wanted = requested_time(request.query_params)
        supervisor = ids_of([request.query_params.get("supervisor", "")])
        if supervisor:
            wanted["supervisor"] = str(supervisor[0])
        agreements = await session_service.agreements_to_plan_on(
            db, ws.membership, supervisor[0] if supervisor else None
        )
        chosen = request.query_params.get("agreement", "")
        for agreement in agreements:
            if str(agreement.id) == chosen:
                url = ws.url(f"sessions/new/{agreement.id}") + "?" + urlencode(wanted)
                return redirect(request, url)
        context = {
            "ws": ws,
            "agreements": agreements,
            "wanted": wanted,
            "day": date.fromisoformat(wanted["date"]) if "date" in wanted else None,
            "error": _("Choose the agreement.") if chosen else "",
            **session_helpers(),
        }
        status = 422 if chosen else 200
        return render(request, "sessions/choose_agreement.html", context, status_code=status)

    @get("/new/{agreement_id:uuid}", name="new_session")
    async def new(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await session_service.agreement_for_work(db, ws.membership, agreement_id)
        existing = await session_service.sessions_of_agreement(db, ws.membership, agreement)
        values = session_planning.MeetingInput.defaults(agreement, ws.membership, _last(existing))
        values = replace(values, **requested_time(request.query_params))
        query = request.query_params
        if query.get("kind", "") in {k.value for k in MeetingKind}:
            values.kind = query["kind"]
        if query.get("supervisor") in {str(s.membership_id) for s in agreement.supervisors}:
            values.supervisor = query["supervisor"]
        return await self._meeting_form(request, db, ws, agreement, values)

    @post("/new/{agreement_id:uuid}")
    async def create(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await session_service.agreement_for_work(db, ws.membership, agreement_id)
        values = await read_form(request, session_planning.MeetingInput)
        try:
            session = await session_planning.plan_meeting(
                db, ws.membership, agreement.id, values, _mailing(request)
            )
        except Invalid as exc:
            return await self._meeting_form(request, db, ws, agreement, values, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="session_planned")

    async def _meeting_form(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement: Agreement,
        values: session_planning.MeetingInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "values": values,
            "errors": errors or {},
            **await _agreement_context(db, ws, agreement),
            **session_helpers(),
        }
        status = 422 if errors else 200
        return render(request, "sessions/form.html", context, status_code=status)

    # --- one session ------------------------------------------------------------------------

    @get("/{session_id:uuid}", name="session")
    async def show(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        return await self._session_page(request, db, ws, session)

    # --- content: the supervisor's notes and the assignments (only through tenants.content) ---

    @post("/{session_id:uuid}/notes", name="add_session_note")
    async def add_note(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        if not permissions.can_write_session_notes(ws.membership, session.supervisor_id):
            raise NotFoundException()  # no hint that notes exist
        if supervision.erased_on(session.agreement):
            return self._erased(request, ws, session)
        text = supervision.text_field(await _form(request), "text")
        try:
            await content.write_note(db, content_reader(request, ws), session.id, text)
        except Invalid as exc:
            # write_note refuses the text before changing anything: what the 422 commits is
            # only the audit of showing the author's notes again.
            draft = supervision.Draft("note", None, {"text": text}, exc.errors)
            return await self._content_refused(request, db, ws, session, draft, "my_notes")
        return await self._content_saved(
            request, db, ws, session, "my_notes", "#my-notes", "note_saved"
        )

    @post("/{session_id:uuid}/notes/{note_id:uuid}/edit", name="edit_session_note")
    async def edit_note(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        note_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._note_session(db, ws, session_id, note_id)
        if supervision.erased_on(session.agreement):
            return self._erased(request, ws, session)
        text = supervision.text_field(await _form(request), "text")
        try:
            await content.edit_note(db, content_reader(request, ws), note_id, text)
        except Invalid as exc:
            draft = supervision.Draft("edit-note", note_id, {"text": text}, exc.errors)
            return await self._content_refused(request, db, ws, session, draft, "my_notes")
        return await self._content_saved(
            request, db, ws, session, "my_notes", f"#note-{note_id}", "note_saved"
        )

    @get("/{session_id:uuid}/notes/{note_id:uuid}/delete", name="confirm_delete_session_note")
    async def confirm_delete_note(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        note_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._note_session(db, ws, session_id, note_id)
        notes = await content.read_notes(
            db, content_reader(request, ws), session.id, note_id=note_id
        )
        note = next((n for n in notes if n.id == note_id), None)
        if note is None:
            raise NotFoundException()
        context = {"ws": ws, "session": session, "note": note, **session_helpers()}
        return supervision.page(request, "content/supervision/delete_note.html", context)

    @post("/{session_id:uuid}/notes/{note_id:uuid}/delete", name="delete_session_note")
    async def delete_note(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        note_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._note_session(db, ws, session_id, note_id)
        await content.delete_note(db, content_reader(request, ws), note_id)
        return redirect(request, ws.url(f"sessions/{session.id}#my-notes"), flash="note_deleted")

    @post("/{session_id:uuid}/assignments", name="set_assignment")
    async def set_assignment(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await self._assignment_session(db, ws, session_id)
        if supervision.erased_on(session.agreement):
            return self._erased(request, ws, session)
        form = await _form(request)
        values = {name: supervision.text_field(form, name) for name in ("text", "due_on", "person")}
        try:
            await content.set_assignment(
                db,
                content_reader(request, ws),
                session.id,
                values["text"],
                due_on=supervision.due_date(values["due_on"]),
                person_id=supervision.optional_uuid(
                    values["person"], "person", _("Choose a supervisee of this agreement.")
                ),
            )
        except Invalid as exc:
            draft = supervision.Draft("assignment", None, values, exc.errors)
            return await self._content_refused(request, db, ws, session, draft, "assignments")
        return await self._content_saved(
            request, db, ws, session, "assignments", "#assignments", "assignment_set"
        )

    @post("/{session_id:uuid}/assignments/{assignment_id:uuid}/edit", name="edit_assignment")
    async def edit_assignment(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        assignment_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._assignment_session(db, ws, session_id, assignment_id)
        if supervision.erased_on(session.agreement):
            return self._erased(request, ws, session)
        form = await _form(request)
        values = {name: supervision.text_field(form, name) for name in ("text", "due_on")}
        try:
            due_on = supervision.due_date(values["due_on"])
            if due_on is None:
                raise Invalid.field("due_on", _("Choose the due date."))
            await content.edit_assignment(
                db, content_reader(request, ws), assignment_id, values["text"], due_on
            )
        except Invalid as exc:
            draft = supervision.Draft("edit-assignment", assignment_id, values, exc.errors)
            return await self._content_refused(request, db, ws, session, draft, "assignments")
        return await self._content_saved(
            request,
            db,
            ws,
            session,
            "assignments",
            f"#assignment-{assignment_id}",
            "assignment_saved",
        )

    @get(
        "/{session_id:uuid}/assignments/{assignment_id:uuid}/delete",
        name="confirm_delete_assignment",
    )
    async def confirm_delete_assignment(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        assignment_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._assignment_session(db, ws, session_id, assignment_id)
        found = await content.list_assignments(
            db,
            content_reader(request, ws),
            session.agreement_id,
            session_id=session.id,
            assignment_id=assignment_id,
        )
        assignment = next((a for a in found if a.id == assignment_id), None)
        if assignment is None:
            raise NotFoundException()
        context = {
            "ws": ws,
            "session": session,
            "assignment": assignment,
            "supervisees": session.agreement.supervisee_people,
            "paragraphs": supervision.paragraphs,
            **session_helpers(),
        }
        return supervision.page(request, "content/supervision/delete_assignment.html", context)

    @post("/{session_id:uuid}/assignments/{assignment_id:uuid}/delete", name="delete_assignment")
    async def delete_assignment(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session_id: FromPath[uuid.UUID],
        assignment_id: FromPath[uuid.UUID],
    ) -> Any:
        session = await self._assignment_session(db, ws, session_id, assignment_id)
        await content.delete_assignment(db, content_reader(request, ws), assignment_id)
        return redirect(
            request, ws.url(f"sessions/{session.id}#assignments"), flash="assignment_deleted"
        )

    async def _note_session(
        self, db: DB, ws: WS, session_id: uuid.UUID, note_id: uuid.UUID
    ) -> SupervisionSession:
        """The session of a note named in a URL; whether the member keeps the note is for
        the content module to say (404 otherwise, as for any other note)."""
        session = await session_service.get_session(db, ws.membership, session_id)
        if not await supervision.note_is_on(db, session.id, note_id):
            raise NotFoundException()
        return session

    async def _assignment_session(
        self, db: DB, ws: WS, session_id: uuid.UUID, assignment_id: uuid.UUID | None = None
    ) -> SupervisionSession:
        """The session of an assignment form: its agreement's own supervisors only."""
        session = await session_service.get_session(db, ws.membership, session_id)
        if not supervision.works_with_content(ws, session.agreement):
            raise NotFoundException()  # no hint that assignments exist
        if assignment_id is not None and not await supervision.assignment_is_on(
            db, session.id, assignment_id
        ):
            raise NotFoundException()
        return session

    async def _content_refused(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session: SupervisionSession,
        draft: supervision.Draft,
        block: str,
    ) -> Any:
        """The page (htmx: the section) again with what was typed, 422. The content module
        refuses before changing anything, so committing keeps only the audit of re-showing
        the content."""
        response = await self._session_page(request, db, ws, session, draft=draft, block=block)
        await db.commit()
        return response

    async def _content_saved(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session: SupervisionSession,
        block: str,
        anchor: str,
        flash: str,
    ) -> Any:
        """After a content form: htmx gets the section with a note of what was done."""
        if getattr(request, "htmx", False):
            done = _(FLASH_MESSAGES[flash])
            return await self._session_page(request, db, ws, session, block=block, done=done)
        return redirect(request, ws.url(f"sessions/{session.id}") + anchor, flash=flash)

    def _erased(self, request: Req, ws: WS, session: SupervisionSession) -> Any:
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="content_erased")

    @post("/{session_id:uuid}/held")
    async def held(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        minutes = await _field(request, "actual_minutes")
        try:
            await session_changes.mark_held(db, ws.membership, session.id, minutes)
        except Invalid as exc:
            return await self._session_page(
                request, db, ws, session, exc.errors, actual_minutes=minutes
            )
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="session_held")

    @get("/{session_id:uuid}/cancel", name="cancel_session")
    async def cancel_form(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        now = clock.now().astimezone(HELSINKI)
        values = session_changes.CancelInput(
            by="client", date=now.date().isoformat(), time=now.strftime("%H:%M")
        )
        return await self._cancel_page(request, db, ws, session, values)

    @post("/{session_id:uuid}/cancel")
    async def cancel(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        values = await read_form(request, session_changes.CancelInput)
        try:
            await session_changes.cancel_session(
                db, ws.membership, session.id, values, _mailing(request)
            )
        except Invalid as exc:
            return await self._cancel_page(request, db, ws, session, values, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="session_cancelled")

    async def _cancel_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session: SupervisionSession,
        values: session_changes.CancelInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        notice = timedelta(hours=session.agreement.cancellation_hours)
        context = {
            "ws": ws,
            "session": session,
            "values": values,
            "errors": errors or {},
            "late_from": session.starts_at - notice,
            "billable_kind": session_changes.billable_kind(session),
            **session_helpers(),
        }
        status = 422 if errors else 200
        return render(request, "sessions/cancel.html", context, status_code=status)

    @get("/{session_id:uuid}/no-show", name="no_show_session")
    async def no_show_form(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        return await self._no_show_page(request, ws, session)

    @post("/{session_id:uuid}/no-show")
    async def no_show(self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        try:
            await session_changes.mark_no_show(db, ws.membership, session.id)
        except Invalid as exc:
            return await self._no_show_page(request, ws, session, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="session_no_show")

    async def _no_show_page(
        self,
        request: Req,
        ws: WS,
        session: SupervisionSession,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "session": session,
            "errors": errors or {},
            "billable_kind": session_changes.billable_kind(session),
            **session_helpers(),
        }
        status = 422 if errors else 200
        return render(request, "sessions/no_show.html", context, status_code=status)

    @get("/{session_id:uuid}/reschedule", name="reschedule_session")
    async def reschedule_form(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        # The calendar sends a meeting moved there with its new date and time.
        values = replace(
            session_changes.RescheduleInput.of(session), **requested_time(request.query_params)
        )
        return await self._reschedule_page(request, ws, session, values)

    @post("/{session_id:uuid}/reschedule")
    async def reschedule(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        values = await read_form(request, session_changes.RescheduleInput)
        try:
            await session_changes.reschedule_session(
                db, ws.membership, session.id, values, _mailing(request)
            )
        except Invalid as exc:
            return await self._reschedule_page(request, ws, session, values, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="session_rescheduled")

    async def _reschedule_page(
        self,
        request: Req,
        ws: WS,
        session: SupervisionSession,
        values: session_changes.RescheduleInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {"ws": ws, "session": session, "values": values, "errors": errors or {}}
        status = 422 if errors else 200
        return render(
            request,
            "sessions/reschedule.html",
            {**context, **session_helpers()},
            status_code=status,
        )

    @post("/{session_id:uuid}/manager-request")
    async def request_manager(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        try:
            await session_changes.request_manager_invitation(db, ws.membership, session.id)
        except Invalid as exc:
            return await self._session_page(request, db, ws, session, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="manager_requested")

    @post("/{session_id:uuid}/manager-request/drop")
    async def drop_manager_request(
        self, request: Req, db: DB, ws: WS, session_id: FromPath[uuid.UUID]
    ) -> Any:
        session = await session_service.get_session(db, ws.membership, session_id)
        try:
            await session_changes.drop_manager_request_as_staff(db, ws.membership, session.id)
        except Invalid as exc:
            return await self._session_page(request, db, ws, session, exc.errors)
        return redirect(request, ws.url(f"sessions/{session.id}"), flash="manager_request_dropped")

    async def _session_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        session: SupervisionSession,
        errors: dict[str, str] | None = None,
        *,
        actual_minutes: str | None = None,
        draft: supervision.Draft = supervision.NO_DRAFT,
        block: str | None = None,
        done: str = "",
    ) -> Any:
        """The session page; for an htmx content form, only that form's section (``block``).

        The content sections exist only for those the content is for (see
        :func:`supervision.session_content`). Content is decrypted (and the read audited)
        unless another form's ``errors`` are shown: that 422 rolls the transaction back, and
        with it the audit of any read, so it shows links to the content instead.
        """
        agreement = session.agreement
        names = await session_service.supervisor_names(db)
        supervisees = agreement.supervisee_people
        inviter = next((p for p in supervisees if p.id == session.manager_invited_by), None)
        sections = await supervision.session_content(request, db, ws, session, show=not errors)
        context = {
            "ws": ws,
            "session": session,
            "agreement": agreement,
            "agreement_url": ws.url(f"agreements/{agreement.id}"),
            "supervisor_name": names.get(session.supervisor_id, ""),
            "supervisor_names": names,
            "supervisees": supervisees,
            "manager_takes_part": session_service.manager_takes_part(session),
            "inviter": inviter,
            "manager_requested": session.id
            in await session_changes.pending_manager_requests(db, [session.id]),
            "participants": await session_service.participants(db, session),
            "history": await session_changes.session_history(db, session),
            "errors": errors or {},
            "actual_minutes": actual_minutes or str(session.duration_minutes),
            "planned": session.status == SessionStatus.PLANNED,
            **sections,
            "draft": draft,
            "done": done,
            **session_helpers(),
        }
        status = 422 if errors or draft.errors else 200
        private = sections["notes_section"] or sections["assignments_section"]
        return supervision.page(
            request,
            "sessions/session.html",
            context,
            block=block,
            status_code=status,
            private=private,
        )


async def _form(request: Req) -> FormMultiDict:
    return cast(FormMultiDict, await request.form())


async def _field(request: Req, name: str) -> str:
    return form_text(await request.form(), name, MAX_SEARCH)
