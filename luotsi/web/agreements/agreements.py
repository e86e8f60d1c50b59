"""Agreements in the workspace: the list, drafts, status changes and continuation reviews."""

from __future__ import annotations

import uuid
from dataclasses import fields
from typing import Any, cast

from litestar import Controller, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from luotsi.billing import agreements as billing_agreements
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Sort, page_number
from luotsi.tenants import content
from luotsi.tenants.agreements import acceptance as agreement_acceptance
from luotsi.tenants.agreements import drafts as agreement_drafts
from luotsi.tenants.agreements import models as agreement_models
from luotsi.tenants.agreements import quota as agreement_quota
from luotsi.tenants.agreements import reviews as agreement_reviews
from luotsi.tenants.agreements import service as agreement_service
from luotsi.tenants.agreements import summaries as agreement_summaries
from luotsi.tenants.agreements.drafts import AgreementInput
from luotsi.tenants.agreements.models import AgreementStatus, ReviewDecision
from luotsi.tenants.agreements.reviews import ReviewInput
from luotsi.tenants.agreements.summaries import AgreementFilter
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions import service as session_service
from luotsi.web.content import supervision
from luotsi.web.deps import DB, FILES, WS, Req
from luotsi.web.forms import MAX_SEARCH, form_text, form_texts, form_value, query_text
from luotsi.web.templating import FLASH_MESSAGES, attachment, redirect, render
from luotsi.web.workspace import content_reader, requires

PER_PAGE = 20
STATUS_ACTIONS = ("pause", "resume", "withdraw", "paper")
MANAGE = [requires(permissions.can_manage_agreements)]


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


async def _read(request: Req, cls: type[Any]) -> Any:
    """A dataclass of the posted form: text fields, lists of checkboxes and booleans."""
    form = await request.form()
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.default_factory is list:  # checkboxes sharing a name
            values[f.name] = form_texts(form, f.name, MAX_SEARCH)
        elif isinstance(f.default, bool):  # one checkbox: present when ticked
            values[f.name] = f.name in form
        else:
            values[f.name] = form_text(form, f.name)
    return cls(**values)


async def _form(request: Req) -> FormMultiDict:
    return cast(FormMultiDict, await request.form())


def agreement_filters(request: Req, ws: WS) -> AgreementFilter:
    """The agreement list's filters from its query string (also its export's)."""
    query = request.query_params
    status = query.get("status", "current")
    return AgreementFilter(
        status=status if status in agreement_summaries.STATUS_FILTERS else "current",
        kind=query.get("kind", ""),
        org_id=_uuid(query.get("org")),
        supervisor_id=_uuid(query.get("supervisor"))
        if permissions.can_manage_agreements(ws.membership)
        else None,
        text=query_text(request, "q"),
    )


def agreement_sort(request: Req) -> Sort:
    """The agreement list's order from its query string (also its export's)."""
    return Sort.parse(
        request.query_params.get("sort"),
        agreement_summaries.AGREEMENT_SORTS,
        agreement_summaries.AGREEMENT_DEFAULT_SORT,
    )


class AgreementsController(Controller):
    """Workspace: list, draft, send for acceptance, status changes, reviews, the PDF."""

    path = "/agreements"
    guards = [requires(permissions.can_work_on_agreements)]

    @get("/", name="agreements")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        filters, sort = agreement_filters(request, ws), agreement_sort(request)
        page = await agreement_summaries.search_agreements(
            db,
            ws.membership,
            filters,
            page_number(request.query_params.get("page")),
            PER_PAGE,
            sort,
        )
        manager = permissions.can_manage_agreements(ws.membership)
        context = {
            "ws": ws,
            "page": page,
            "filters": filters,
            "sort": sort,
            "query": request.query_params,
            "statuses": list(AgreementStatus),
            "kinds": list(SupervisionKind),
            "orgs": await agreement_service.org_choices(db, include_archived=True),
            "staff": await agreement_service.staff_choices(db) if manager else [],
            "can_manage": manager,
        }
        return render(request, "agreements/index.html", context, block="results")

    @get("/new", name="new_agreement", guards=MANAGE)
    async def new(self, request: Req, db: DB, ws: WS) -> Any:
        """The draft form; for htmx, only the chosen organisation's people."""
        values = AgreementInput(org_id=query_text(request, "org_id"))
        return await self._form(request, db, ws, None, values, block="people")

    @post("/", guards=MANAGE)
    async def create(self, request: Req, db: DB, ws: WS) -> Any:
        values: AgreementInput = await _read(request, AgreementInput)
        if await form_value(request, "pick_org"):  # "show the organisation's people"
            return await self._form(request, db, ws, None, values)
        try:
            agreement = await agreement_drafts.create_agreement(db, ws.membership, values)
        except Invalid as exc:
            return await self._form(request, db, ws, None, values, exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement.id}"), flash="agreement_created")

    @get("/{agreement_id:uuid}", name="agreement")
    async def show(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        return await self._page(request, db, ws, agreement_id)

    @get(
        "/{agreement_id:uuid}/edit",
        name="edit_agreement",
        guards=MANAGE,
    )
    async def edit(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await agreement_service.get_agreement(db, ws.membership, agreement_id)
        values = AgreementInput.of(agreement)
        return await self._form(request, db, ws, agreement, values)

    @post("/{agreement_id:uuid}/edit", guards=MANAGE)
    async def update(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        agreement = await agreement_service.get_agreement(db, ws.membership, agreement_id)
        values: AgreementInput = await _read(request, AgreementInput)
        if agreement.status == AgreementStatus.DRAFT and await form_value(request, "pick_org"):
            return await self._form(request, db, ws, agreement, values)
        try:
            await agreement_drafts.update_draft(db, ws.membership, agreement_id, values)
        except Invalid as exc:
            if "status" in exc.errors:  # not a draft: nothing here may change
                return await self._form(
                    request, db, ws, agreement, AgreementInput.of(agreement), status_code=409
                )
            return await self._form(request, db, ws, agreement, values, exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement_id}"), flash="agreement_saved")

    @post("/{agreement_id:uuid}/send", name="send_agreement", guards=MANAGE)
    async def send(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        base_url = request.app.state["settings"].base_url
        try:
            await agreement_acceptance.send_for_acceptance(
                db, ws.membership, agreement_id, base_url=base_url
            )
        except Invalid as exc:
            return await self._page(request, db, ws, agreement_id, errors=exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement_id}"), flash="agreement_sent")

    @get("/{agreement_id:uuid}/status", name="agreement_status", guards=MANAGE)
    async def status(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        """Confirmation before a status change: pause, resume, withdraw, accepted on paper."""
        action = request.query_params.get("action", "")
        return await self._status_page(request, db, ws, agreement_id, action)

    @post("/{agreement_id:uuid}/pause", name="pause_agreement", guards=MANAGE)
    async def pause(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        note = await form_value(request, "note")
        try:
            await agreement_service.pause_agreement(db, ws.membership, agreement_id, note)
        except Invalid as exc:
            return await self._status_page(request, db, ws, agreement_id, "pause", exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement_id}"), flash="agreement_paused")

    @post("/{agreement_id:uuid}/resume", name="resume_agreement", guards=MANAGE)
    async def resume(self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]) -> Any:
        note = await form_value(request, "note")
        try:
            await agreement_service.resume_agreement(db, ws.membership, agreement_id, note)
        except Invalid as exc:
            return await self._status_page(request, db, ws, agreement_id, "resume", exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement_id}"), flash="agreement_resumed")

    @post("/{agreement_id:uuid}/withdraw", name="withdraw_agreement", guards=MANAGE)
    async def withdraw(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        try:
            await agreement_acceptance.withdraw_from_acceptance(db, ws.membership, agreement_id)
        except Invalid as exc:
            return await self._status_page(request, db, ws, agreement_id, "withdraw", exc.errors)
        return redirect(request, ws.url(f"agreements/{agreement_id}"), flash="agreement_withdrawn")

    @post(
        "/{agreement_id:uuid}/accepted-on-paper", name="agreement_accepted_on_paper", guards=MANAGE
    )
    async def accepted_on_paper(
        self, request: Req, db: DB, files: FILES, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        form = await request.form()
        try:
            await agreement_acceptance.mark_accepted_on_paper(
                db,
                files,
                ws.membership,
                agreement_id,
                confirmed="confirm" in form,
                note=form_text(form, "note"),
                base_url=request.app.state["settings"].base_url,
            )
        except Invalid as exc:
            return await self._status_page(request, db, ws, agreement_id, "paper", exc.errors)
        return redirect(
            request, ws.url(f"agreements/{agreement_id}"), flash="agreement_accepted_on_paper"
        )

    @post("/{agreement_id:uuid}/reviews", name="record_review")
    async def record_review(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        await agreement_service.get_agreement(db, ws.membership, agreement_id)
        values: ReviewInput = await _read(request, ReviewInput)
        try:
            await agreement_reviews.record_review(db, ws.membership, agreement_id, values)
        except Invalid as exc:
            return await self._page(request, db, ws, agreement_id, review=values, errors=exc.errors)
        return redirect(
            request, ws.url(f"agreements/{agreement_id}#reviews"), flash="review_recorded"
        )

    # --- supervision content: its own supervisors only (through tenants.content) ------------

    @post("/{agreement_id:uuid}/limits", name="write_confidentiality_limits")
    async def write_limits(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id)
        if supervision.erased_on(agreement):
            return self._erased(request, ws, agreement_id)
        text = supervision.text_field(await _form(request), "text")
        try:
            await content.write_limits(db, content_reader(request, ws), agreement_id, text)
        except Invalid as exc:
            draft = supervision.Draft("limits", None, {"text": text}, exc.errors)
            return await self._content_refused(request, db, ws, agreement_id, draft)
        return await self._content_saved(request, db, ws, agreement_id, "#limits", "limits_saved")

    @post("/{agreement_id:uuid}/goals", name="add_goal")
    async def add_goal(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id)
        if supervision.erased_on(agreement):
            return self._erased(request, ws, agreement_id)
        form = await _form(request)
        values = {name: supervision.text_field(form, name) for name in ("source", "text", "person")}
        try:
            source = supervision.goal_source(values["source"])
            person_id = supervision.optional_uuid(
                values["person"], "person", _("Choose a supervisee of this agreement.")
            )
            goal = await content.add_goal(
                db,
                content_reader(request, ws),
                agreement_id,
                source,
                values["text"],
                person_id=person_id,
            )
        except Invalid as exc:
            draft = supervision.Draft("goal", None, values, exc.errors)
            return await self._content_refused(request, db, ws, agreement_id, draft)
        return await self._content_saved(
            request, db, ws, agreement_id, f"#goal-{goal.id}", "goal_added"
        )

    @post("/{agreement_id:uuid}/goals/{goal_id:uuid}/revise", name="revise_goal")
    async def revise_goal(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id, goal_id=goal_id)
        if supervision.erased_on(agreement):
            return self._erased(request, ws, agreement_id)
        text = supervision.text_field(await _form(request), "text")
        try:
            await content.revise_goal(db, content_reader(request, ws), goal_id, text)
        except Invalid as exc:
            draft = supervision.Draft("revise", goal_id, {"text": text}, exc.errors)
            return await self._content_refused(request, db, ws, agreement_id, draft)
        return await self._content_saved(
            request, db, ws, agreement_id, f"#goal-{goal_id}", "goal_revised"
        )

    @get("/{agreement_id:uuid}/goals/{goal_id:uuid}/delete", name="confirm_delete_goal")
    async def confirm_delete_goal(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id, goal_id=goal_id)
        return await self._delete_goal_page(request, db, ws, agreement, goal_id)

    @post("/{agreement_id:uuid}/goals/{goal_id:uuid}/delete", name="delete_goal")
    async def delete_goal(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id, goal_id=goal_id)
        try:
            await content.delete_goal(db, content_reader(request, ws), goal_id)
        except Invalid as exc:  # evaluated: it stays; nothing was changed
            response = await self._delete_goal_page(request, db, ws, agreement, goal_id, exc.errors)
            await db.commit()
            return response
        return redirect(request, ws.url(f"agreements/{agreement_id}#goals"), flash="goal_deleted")

    async def _delete_goal_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement: agreement_models.Agreement,
        goal_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        goals = await content.list_goals(
            db, content_reader(request, ws), agreement.id, goal_id=goal_id
        )
        goal = next((g for g in goals if g.id == goal_id), None)
        if goal is None:
            raise NotFoundException()
        (row,) = supervision.goal_rows([goal], supervision.supervisee_names(agreement))
        context = {
            "ws": ws,
            "agreement": agreement,
            "row": row,
            "errors": errors or {},
            "paragraphs": supervision.paragraphs,
        }
        return supervision.page(
            request,
            "content/supervision/delete_goal.html",
            context,
            status_code=422 if errors else 200,
        )

    @post("/{agreement_id:uuid}/goals/{goal_id:uuid}/evaluations", name="record_evaluation")
    async def record_evaluation(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        goal_id: FromPath[uuid.UUID],
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id, goal_id=goal_id)
        if supervision.erased_on(agreement):
            return self._erased(request, ws, agreement_id)
        form = await _form(request)
        names = ("rating", "comment", "evaluated_on", "session", "person")
        values = {name: supervision.text_field(form, name) for name in names}
        try:
            answer = supervision.read_evaluation(values)
            await content.record_evaluation(
                db,
                content_reader(request, ws),
                goal_id,
                answer.rating,
                values["comment"],
                evaluated_on=answer.evaluated_on,
                person_id=answer.person_id,
                session_id=answer.session_id,
            )
        except Invalid as exc:
            draft = supervision.Draft("evaluation", goal_id, values, exc.errors)
            return await self._content_refused(request, db, ws, agreement_id, draft)
        return await self._content_saved(
            request, db, ws, agreement_id, f"#goal-{goal_id}", "evaluation_recorded"
        )

    @get(
        "/{agreement_id:uuid}/evaluations/{evaluation_id:uuid}/delete",
        name="confirm_delete_evaluation",
    )
    async def confirm_delete_evaluation(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        evaluation_id: FromPath[uuid.UUID],
    ) -> Any:
        agreement = await self._content_agreement(db, ws, agreement_id)
        goals = await content.list_goals(
            db, content_reader(request, ws), agreement.id, evaluation_id=evaluation_id
        )
        found = supervision.find_evaluation(goals, evaluation_id)
        if found is None:
            raise NotFoundException()
        goal, evaluation = found
        context = {
            "ws": ws,
            "agreement": agreement,
            "goal": goal,
            "evaluation": evaluation,
            "person": supervision.supervisee_names(agreement).get(evaluation.person_id, ""),
            "meeting": next(
                (
                    s
                    for s in await session_service.sessions_of_agreement(
                        db, ws.membership, agreement
                    )
                    if s.id == evaluation.session_id
                ),
                None,
            ),
            "paragraphs": supervision.paragraphs,
        }
        return supervision.page(request, "content/supervision/delete_evaluation.html", context)

    @post(
        "/{agreement_id:uuid}/evaluations/{evaluation_id:uuid}/delete",
        name="delete_evaluation",
    )
    async def delete_evaluation(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: FromPath[uuid.UUID],
        evaluation_id: FromPath[uuid.UUID],
    ) -> Any:
        await self._content_agreement(db, ws, agreement_id, evaluation_id=evaluation_id)
        await content.delete_evaluation(db, content_reader(request, ws), evaluation_id)
        return redirect(
            request, ws.url(f"agreements/{agreement_id}#goals"), flash="evaluation_deleted"
        )

    @post("/{agreement_id:uuid}/notes/hand-over", name="hand_over_notes")
    async def hand_over_notes(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        """Two steps: the first answer explains and asks to confirm; the second hands over."""
        agreement = await self._content_agreement(db, ws, agreement_id)
        form = await _form(request)
        values = {"recipient": supervision.text_field(form, "recipient")}
        try:
            recipient = await supervision.hand_over_recipient(db, agreement, values["recipient"])
            if form.get("confirm") != "1":
                count = await content.notes_to_hand_over(db, ws.membership, agreement_id)
                if not count:
                    raise Invalid.field(
                        "recipient", _("You have no notes on this agreement to hand over.")
                    )
                context = {
                    "ws": ws,
                    "agreement": agreement,
                    "count": count,
                    "recipient": recipient,
                    "recipient_name": recipient.user.name,
                }
                return supervision.page(
                    request, "content/supervision/hand_over.html", context, private=False
                )
            await content.hand_over_notes(db, content_reader(request, ws), agreement_id, recipient)
        except Invalid as exc:
            draft = supervision.Draft("hand-over", None, values, exc.errors)
            return await self._content_refused(request, db, ws, agreement_id, draft)
        return redirect(
            request,
            ws.url(f"agreements/{agreement_id}#supervision-content"),
            flash="notes_handed_over",
        )

    async def _content_agreement(
        self,
        db: DB,
        ws: WS,
        agreement_id: uuid.UUID,
        *,
        goal_id: uuid.UUID | None = None,
        evaluation_id: uuid.UUID | None = None,
    ) -> agreement_models.Agreement:
        """The agreement of a content form: its own supervisors only, and the goal or
        evaluation in the URL must be the agreement's; 404 otherwise, as for what is not."""
        agreement = await agreement_service.get_agreement(db, ws.membership, agreement_id)
        if not supervision.works_with_content(ws, agreement):
            raise NotFoundException()  # no hint that content exists
        if goal_id is not None and not await supervision.goal_is_on(db, agreement.id, goal_id):
            raise NotFoundException()
        if evaluation_id is not None and not await supervision.evaluation_is_on(
            db, agreement.id, evaluation_id
        ):
            raise NotFoundException()
        return agreement

    async def _content_refused(
        self, request: Req, db: DB, ws: WS, agreement_id: uuid.UUID, draft: supervision.Draft
    ) -> Any:
        """The page (htmx: the content section) again with what was typed, 422. The content
        module refuses before changing anything: committing keeps only the audit of
        re-showing the content."""
        response = await self._page(
            request, db, ws, agreement_id, draft=draft, block="supervision_content"
        )
        await db.commit()
        return response

    async def _content_saved(
        self, request: Req, db: DB, ws: WS, agreement_id: uuid.UUID, anchor: str, flash: str
    ) -> Any:
        """After a content form: htmx gets the content section with a note of what was done."""
        if getattr(request, "htmx", False):
            done = _(FLASH_MESSAGES[flash])
            return await self._page(
                request, db, ws, agreement_id, block="supervision_content", done=done
            )
        return redirect(request, ws.url(f"agreements/{agreement_id}") + anchor, flash=flash)

    def _erased(self, request: Req, ws: WS, agreement_id: uuid.UUID) -> Any:
        url = ws.url(f"agreements/{agreement_id}#supervision-content")
        return redirect(request, url, flash="content_erased")

    @get("/{agreement_id:uuid}/pdf", name="agreement_pdf")
    async def pdf(
        self, db: DB, files: FILES, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        filename, data = await agreement_acceptance.agreement_pdf(
            db, files, ws.membership, agreement_id
        )
        return attachment(data, "application/pdf", filename)

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: uuid.UUID,
        *,
        review: ReviewInput | None = None,
        errors: dict[str, str] | None = None,
        draft: supervision.Draft = supervision.NO_DRAFT,
        block: str | None = None,
        done: str = "",
    ) -> Any:
        """The agreement page; for an htmx content form, only the content section.

        The content section exists only for the agreement's own supervisors. It decrypts
        content unless another form's ``errors`` are shown: that 422 rolls the transaction
        back, and with it the audit of any read, so it shows a link to the content instead.
        """
        agreement = await agreement_service.get_agreement(db, ws.membership, agreement_id)
        agreement_sessions = await session_service.sessions_of_agreement(
            db, ws.membership, agreement
        )
        overview = await agreement_summaries.agreement_overview(
            db, agreement, agreement_quota.quota_report(agreement, agreement_sessions)
        )
        today = clock.today()
        supervision_context = await supervision.agreement_content(
            request, db, ws, agreement, agreement_sessions, show=not errors, draft=draft
        )
        invoicing = None
        if permissions.can_manage_billing(ws.membership):  # money is for the office only
            invoicing = await billing_agreements.agreement_invoicing(
                db, ws.membership, agreement_id
            )
        context = {
            "ws": ws,
            "o": overview,
            "invoicing": invoicing,
            "agreement": agreement,
            "review": review or ReviewInput(held_on=today.isoformat()),
            "decisions": list(ReviewDecision),
            "today": today,
            "max_end": agreement_service.max_end_date(agreement.start_date),
            "can_manage": permissions.can_manage_agreements(ws.membership),
            "can_review": agreement_reviews.can_record_review(ws.membership, agreement),
            "can_work": permissions.can_work_on_agreements(ws.membership),
            "sessions": agreement_sessions,
            "event_label": agreement_models.event_label,
            "response_label": agreement_models.response_label,
            "now": clock.now(),
            "errors": errors or {},
            **supervision_context,
            "done": done,
        }
        status = 422 if errors or draft.errors else 200
        return supervision.page(
            request,
            "agreements/agreement.html",
            context,
            block=block,
            status_code=status,
            private=supervision_context["content_section"],
        )

    async def _form(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement: agreement_models.Agreement | None,
        values: AgreementInput,
        errors: dict[str, str] | None = None,
        *,
        block: str | None = None,
        status_code: int | None = None,
    ) -> Any:
        org_id = _uuid(values.org_id)
        context = {
            "ws": ws,
            "agreement": agreement,
            "editable": agreement is None or agreement.status == AgreementStatus.DRAFT,
            "not_editable": agreement_drafts.not_editable_message(),
            "values": values,
            "errors": errors or {},
            "kinds": list(SupervisionKind),
            "pricings": list(agreement_models.Pricing),
            "orgs": await agreement_service.org_choices(db),
            "staff": await agreement_service.staff_choices(db),
            "people": await agreement_service.people_choices(db, org_id),
            "org_chosen": org_id is not None,
        }
        status = status_code or (422 if errors else 200)
        return render(request, "agreements/form.html", context, block=block, status_code=status)

    async def _status_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        agreement_id: uuid.UUID,
        action: str,
        errors: dict[str, str] | None = None,
    ) -> Any:
        agreement = await agreement_service.get_agreement(db, ws.membership, agreement_id)
        status = agreement.status
        possible = {
            "pause": status == AgreementStatus.ACTIVE,
            "resume": status == AgreementStatus.PAUSED,
            "withdraw": status == AgreementStatus.PENDING,
            "paper": status in (AgreementStatus.DRAFT, AgreementStatus.PENDING),
        }
        action = action if action in STATUS_ACTIONS else ""
        context = {
            "ws": ws,
            "agreement": agreement,
            "possible": possible,
            "shown": [action] if action else [a for a in STATUS_ACTIONS if possible[a]],
            "errors": errors or {},
        }
        return render(
            request,
            "agreements/status.html",
            context,
            status_code=422 if errors else 200,
        )
