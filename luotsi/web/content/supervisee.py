"""The supervisee's content in their portal, and their rights over their data.

Next to :mod:`luotsi.web.portal.supervisee` under ``/t/{slug}/me``: each agreement's own page
with the content it shares with the supervisor (the limits of confidentiality, assignments and
the supervisee's responses, goals and evaluations), a copy of their data to download, who has
opened their records, and their request to have their data erased.

Content comes only from :mod:`luotsi.tenants.content`, which checks who may see it and audits
every read and write. The app commits on 2xx and redirects; a refused form (422) that shows
content again commits here, so the audit of what it showed stays. Content is never put in a
flash message or a log line.

Owners and admins get the portal's explanation page for every page here (nothing of anyone's
content); the rest of the staff and HR contacts are refused; ids of another firm are 404.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import date, datetime
from typing import Any, cast

from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine

from luotsi.platform import audit, clock, i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.tenants import content
from luotsi.tenants.agreements.service import get_agreement
from luotsi.tenants.content.notes import NOTE_OBJECT
from luotsi.tenants.content.rights import PERSON_OBJECT
from luotsi.tenants.content.shared import (
    ASSIGNMENT_OBJECT,
    EVALUATION_OBJECT,
    GOAL_OBJECT,
    LIMITS_OBJECT,
    RESPONSE_OBJECT,
)
from luotsi.tenants.portal import supervisee as supervisee_portal
from luotsi.web.charts import progress_svg
from luotsi.web.content import supervision
from luotsi.web.content.supervision import NO_DRAFT, Draft, read_evaluation, text_field
from luotsi.web.deps import DB, WS, Req
from luotsi.web.middleware import origin
from luotsi.web.portal.supervisee import about_page, no_access_page
from luotsi.web.templating import attachment, redirect
from luotsi.web.workspace import OPEN_WHEN_SUSPENDED, content_reader

HISTORY_PER_PAGE = 50
# The access history in words: what was done, to which of their records.
ACTION_LABELS = {
    audit.CONTENT_READ: N_("Read"),
    audit.CONTENT_WRITTEN: N_("Wrote"),
    audit.CONTENT_DELETED: N_("Deleted"),
    audit.CONTENT_HANDED_OVER: N_("Handed over"),
    audit.CONTENT_ERASED: N_("Erased"),
    audit.DATA_EXPORTED: N_("Exported"),
    audit.ERASURE_REQUESTED: N_("Asked to erase"),
    audit.ERASURE_DECLINED: N_("Declined to erase"),
}
OBJECT_LABELS = {
    ASSIGNMENT_OBJECT: N_("assignment"),
    RESPONSE_OBJECT: N_("response"),
    GOAL_OBJECT: N_("goal"),
    EVALUATION_OBJECT: N_("evaluation"),
    LIMITS_OBJECT: N_("limits of confidentiality"),
    NOTE_OBJECT: N_("session note"),
    PERSON_OBJECT: N_("your data"),
    "agreement": N_("content of the agreement"),
}
# The file names of the copy, per language (no spaces, nothing outside ASCII).
EXPORT_NAMES = {"fi": "luotsi-omat-tiedot", "sv": "luotsi-mina-uppgifter", "en": "luotsi-my-data"}


def action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def object_label(object_type: str) -> str:
    return _(OBJECT_LABELS[object_type]) if object_type in OBJECT_LABELS else object_type


async def _form(request: Req) -> FormMultiDict:
    return cast(FormMultiDict, await request.form())


async def _not_theirs(request: Req, db: DB, ws: WS, agreement_id: uuid.UUID | None) -> Any:
    """A page for anyone but a supervisee: an agreement id answers like the staff pages (404
    unless of this firm and theirs to see), then owners and admins get the explanation."""
    if agreement_id is not None:
        await get_agreement(db, ws.membership, agreement_id)
    return about_page(request, ws)


async def _only_supervisees(db: DB, ws: WS, agreement_id: uuid.UUID | None = None) -> None:
    """The forms here are the supervisee's alone: the staff get 403 for their firm's
    agreements, 404 for any other id."""
    if permissions.can_use_supervisee_portal(ws.membership):
        return
    if agreement_id is not None:
        await get_agreement(db, ws.membership, agreement_id)
    raise Forbidden("supervisee_portal")


class SuperviseeContentController(Controller):
    path = "/me"

    # --- one agreement and its shared content ------------------------------------------------

    @get("/agreements/{agreement_id:uuid}", name="supervisee_agreement")
    async def agreement(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            return await _not_theirs(request, db, ws, agreement_id)
        return await self._agreementpage(request, db, ws, agreement_id)

    @post(
        "/agreements/{agreement_id:uuid}/assignments/{assignment_id:uuid}/response",
        name="supervisee_respond",
    )
    async def respond(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        assignment_id: FromPath[uuid.UUID],
    ) -> Any:
        await _only_supervisees(db, ws, agreement_id)
        form = await _form(request)
        text, done = text_field(form, "text"), form.get("done") == "1"
        draft = NO_DRAFT
        try:
            await content.respond_to_assignment(
                db, content_reader(request, ws), assignment_id, text, done=done
            )
        except Invalid as exc:
            values = {"text": text, "done": "1" if done else ""}
            draft = Draft("response", assignment_id, values, exc.errors)
        if draft is NO_DRAFT and not getattr(request, "htmx", False):
            return redirect(
                request,
                ws.url(f"me/agreements/{agreement_id}") + f"#assignment-{assignment_id}",
                flash="response_saved",
            )
        return await self._assignment_block(request, db, ws, agreement_id, assignment_id, draft)

    async def _assignment_block(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: uuid.UUID,
        assignment_id: uuid.UUID,
        draft: Draft,
    ) -> Any:
        """For htmx the assignment's block alone (saved, or refused with what was typed);
        without JavaScript the page with the refused form. The audit of showing it commits."""
        context = await self._agreement_context(request, db, ws, agreement_id, draft)
        one = next((a for a in context["assignments"] if a.id == assignment_id), None)
        if one is None:  # an assignment of another of their agreements: nothing is kept
            raise NotFound("assignment")
        context |= {"a": one, "saved": draft is NO_DRAFT}
        response = supervision.page(
            request,
            "content/supervisee/agreement.html",
            context,
            block="assignment",
            status_code=200 if draft is NO_DRAFT else 422,
        )
        await db.commit()
        return response

    @post("/agreements/{agreement_id:uuid}/goals", name="supervisee_add_goal")
    async def add_goal(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        await _only_supervisees(db, ws, agreement_id)
        text = text_field(await _form(request), "text")
        try:
            await content.add_goal(
                db, content_reader(request, ws), agreement_id, content.GoalSource.OWN, text
            )
        except Invalid as exc:
            draft = Draft("goal", None, {"text": text}, exc.errors)
            return await self._refused(request, db, ws, agreement_id, draft)
        return redirect(request, _goals_url(ws, agreement_id), flash="goal_added")

    @post(
        "/agreements/{agreement_id:uuid}/goals/{goal_id:uuid}/revise",
        name="supervisee_revise_goal",
    )
    async def revise_goal(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        await _only_supervisees(db, ws, agreement_id)
        text = text_field(await _form(request), "text")
        try:
            await content.revise_goal(db, content_reader(request, ws), goal_id, text)
        except Invalid as exc:
            draft = Draft("revise", goal_id, {"text": text}, exc.errors)
            return await self._refused(request, db, ws, agreement_id, draft)
        return redirect(request, _goals_url(ws, agreement_id, goal_id), flash="goal_revised")

    @post(
        "/agreements/{agreement_id:uuid}/goals/{goal_id:uuid}/evaluations",
        name="supervisee_evaluate",
    )
    async def evaluate(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        await _only_supervisees(db, ws, agreement_id)
        form = await _form(request)
        values = {name: text_field(form, name) for name in ("rating", "comment", "evaluated_on")}
        try:
            answer = read_evaluation({**values, "session": "", "person": ""})
            await content.record_evaluation(
                db,
                content_reader(request, ws),
                goal_id,
                answer.rating,
                values["comment"],
                evaluated_on=answer.evaluated_on,
            )
        except Invalid as exc:
            draft = Draft("evaluation", goal_id, values, exc.errors)
            return await self._refused(request, db, ws, agreement_id, draft)
        return redirect(request, _goals_url(ws, agreement_id, goal_id), flash="evaluation_recorded")

    async def _agreement_context(
        self, request: Req, db: DB, ws: WS, agreement_id: uuid.UUID, draft: Draft
    ) -> dict[str, Any]:
        view = await supervisee_portal.own_agreement(db, ws.membership, agreement_id)
        reader = content_reader(request, ws)
        goals = await content.list_goals(db, reader, agreement_id)
        person_id = view.person.id
        charts = {
            goal.id: progress_svg(
                points=[(e.evaluated_on, e.rating) for e in evaluations],
                title=_("Progress on the goal"),
            )
            for goal in goals
            if (evaluations := goal.evaluations_of(person_id))
        }
        return {
            "ws": ws,
            "view": view,
            "limits": await content.read_limits(db, reader, agreement_id),
            "assignments": await content.list_assignments(db, reader, agreement_id),
            "goals": goals,
            "charts": charts,
            "ratings": content.RATINGS,
            "today": clock.today(view.now),
            "draft": draft,
        }

    async def _agreementpage(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: uuid.UUID,
        draft: Draft = NO_DRAFT,
        status_code: int = 200,
    ) -> Any:
        try:
            context = await self._agreement_context(request, db, ws, agreement_id, draft)
        except Forbidden:
            return no_access_page(request, ws)
        return supervision.page(
            request, "content/supervisee/agreement.html", context, status_code=status_code
        )

    async def _refused(
        self, request: Req, db: DB, ws: WS, agreement_id: uuid.UUID, draft: Draft
    ) -> Any:
        """The page again with what they typed (422); the audit of showing it is committed
        (the refused write changed nothing)."""
        response = await self._agreementpage(request, db, ws, agreement_id, draft, status_code=422)
        await db.commit()
        return response

    # --- a copy of their data ----------------------------------------------------------------

    @get("/export", name="supervisee_export", opt=OPEN_WHEN_SUSPENDED)
    async def export(self, request: Req, db: DB, ws: WS) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            return await _not_theirs(request, db, ws, None)
        try:
            person = await supervisee_portal.supervisee_person(db, ws.membership)
        except Forbidden:
            return no_access_page(request, ws)
        return supervision.page(
            request, "content/supervisee/export.html", {"ws": ws, "person": person}
        )

    @get("/export/download", name="supervisee_export_download", opt=OPEN_WHEN_SUSPENDED)
    async def download(self, request: Req, db: DB, ws: WS) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            return await _not_theirs(request, db, ws, None)
        try:
            data = await content.export_own_data(db, content_reader(request, ws))
        except Forbidden:
            return no_access_page(request, ws)
        today = clock.today()
        name = f"{EXPORT_NAMES.get(i18n.current_language(), EXPORT_NAMES['fi'])}-{today}.zip"
        return attachment(export_zip(request, data), "application/zip", name)

    # --- who has opened their records --------------------------------------------------------

    @get("/history", name="supervisee_history")
    async def history(self, request: Req, db: DB, ws: WS) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            return await _not_theirs(request, db, ws, None)
        query = request.query_params
        try:
            history = await content.access_history(
                db,
                ws.membership,
                page=page_number(query.get("page")),
                per_page=HISTORY_PER_PAGE,
            )
        except Forbidden:
            return no_access_page(request, ws)
        context = {
            "ws": ws,
            "page": history.page,
            "lines": history.lines(),
            "query": query,
            "action_label": action_label,
            "object_label": object_label,
        }
        return supervision.page(
            request, "content/supervisee/history.html", context, block="history_list"
        )

    # --- erasure -----------------------------------------------------------------------------

    @get("/erasure", name="supervisee_erasure")
    async def erasure(self, request: Req, db: DB, ws: WS) -> Any:
        return await self._erasurepage(request, db, ws, "content/supervisee/erasure.html")

    @get("/erasure/confirm", name="supervisee_confirm_erasure")
    async def confirm_erasure(self, request: Req, db: DB, ws: WS) -> Any:
        return await self._erasurepage(request, db, ws, "content/supervisee/erasure_confirm.html")

    @post("/erasure", name="supervisee_request_erasure")
    async def request_erasure(self, request: Req, db: DB, ws: WS) -> Any:
        await _only_supervisees(db, ws)
        try:
            base_url = request.app.state["settings"].base_url
            await content.request_erasure(db, ws.membership, origin(request), base_url=base_url)
        except Invalid as exc:
            return await self._erasurepage(
                request,
                db,
                ws,
                "content/supervisee/erasure.html",
                errors=exc.errors,
                status_code=422,
            )
        return redirect(request, ws.url("me/erasure"), flash="erasure_requested")

    async def _erasurepage(
        self,
        request: Req,
        db: DB,
        ws: WS,
        template: str,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Any:
        if not permissions.can_use_supervisee_portal(ws.membership):
            return await _not_theirs(request, db, ws, None)
        try:
            latest = await content.latest_request_of(db, ws.membership)
        except Forbidden:
            return no_access_page(request, ws)
        pending = latest is not None and latest.status == content.ErasureStatus.PENDING
        context = {"ws": ws, "latest": latest, "pending": pending, "errors": errors or {}}
        return supervision.page(request, template, context, status_code=status_code)


def _goals_url(ws: WS, agreement_id: uuid.UUID, goal_id: uuid.UUID | None = None) -> str:
    anchor = f"#goal-{goal_id}" if goal_id else "#goals"
    return ws.url(f"me/agreements/{agreement_id}") + anchor


def export_zip(request: Req, data: dict[str, Any]) -> bytes:
    """The copy as a zip: ``data.json`` for machines and ``data.html`` to read and print."""
    engine = cast(JinjaTemplateEngine, request.app.template_engine)
    page = engine.engine.get_template("content/supervisee/export_data.html").render(
        data=data,
        on=_iso_date,
        at=_iso_datetime,
        language=i18n.current_language(),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        archive.writestr("data.html", page)
    return buffer.getvalue()


def _iso_date(value: str | None) -> str:
    return i18n.format_date(date.fromisoformat(value)) if value else "–"


def _iso_datetime(value: str | None) -> str:
    return i18n.format_datetime(datetime.fromisoformat(value)) if value else "–"
