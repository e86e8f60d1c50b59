"""A staff member's working hours and absences, beside their profile: their own, or anyone's
for the office (colleagues get "not found", as for profile forms)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import audit, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import page_number
from luotsi.platform.tenancy import TENANT_OBJECT
from luotsi.tenants.directory import hours
from luotsi.tenants.directory.models import AbsenceKind, StaffProfile
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import record_in_workspace, requires

PER_PAGE = 20


def _week_from(form: Any) -> hours.WeekInput:
    return hours.WeekInput(
        own=form_text(form, "week") == "own",
        works={day for day in hours.WEEKDAYS if f"works_{day}" in form},
        starts={day: form_text(form, f"start_{day}") for day in hours.WEEKDAYS},
        ends={day: form_text(form, f"end_{day}") for day in hours.WEEKDAYS},
    )


def _absence_from(form: Any) -> hours.AbsenceInput:
    return hours.AbsenceInput(
        kind=form_text(form, "kind"),
        starts_on=form_text(form, "starts_on"),
        ends_on=form_text(form, "ends_on"),
        note=form_text(form, "note"),
    )


class WorkingHoursController(Controller):
    path = "/staff/{profile_id:uuid}/hours"
    guards = [requires(permissions.can_view_staff)]

    @get("/", name="working_hours")
    async def index(self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        usual = await hours.firm_week(db)
        week = hours.WeekInput.of(await hours.own_week(db, profile.membership_id), usual)
        return await self._page(request, db, ws, profile, week, hours.AbsenceInput(), usual)

    @post("/")
    async def save_week(self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        week = _week_from(await request.form())
        try:
            await hours.save_week(db, ws.membership, profile.membership, week)
        except Invalid as exc:
            usual = await hours.firm_week(db)
            return await self._page(
                request, db, ws, profile, week, hours.AbsenceInput(), usual, week_errors=exc.errors
            )
        await record_in_workspace(
            request, db, ws, audit.WORKING_HOURS_CHANGED, "membership", profile.membership_id
        )
        return redirect(request, self._url(ws, profile), flash="working_hours_saved")

    @post("/absences", name="add_absence")
    async def add_absence(
        self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]
    ) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        absence = _absence_from(await request.form())
        try:
            added = await hours.add_absence(db, ws.membership, profile.membership, absence)
        except Invalid as exc:
            usual = await hours.firm_week(db)
            week = hours.WeekInput.of(await hours.own_week(db, profile.membership_id), usual)
            return await self._page(
                request, db, ws, profile, week, absence, usual, errors=exc.errors
            )
        await record_in_workspace(
            request, db, ws, audit.ABSENCE_ADDED, hours.ABSENCE_OBJECT, added.id
        )
        return redirect(request, self._url(ws, profile), flash="absence_saved")

    @get("/absences/{absence_id:uuid}", name="edit_absence")
    async def edit_absence(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile_id: FromPath[uuid.UUID],
        absence_id: FromPath[uuid.UUID],
    ) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        absence = await hours.get_absence(db, ws.membership, profile.membership, absence_id)
        return self._absence_form(request, ws, profile, absence_id, hours.AbsenceInput.of(absence))

    @post("/absences/{absence_id:uuid}")
    async def change_absence(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile_id: FromPath[uuid.UUID],
        absence_id: FromPath[uuid.UUID],
    ) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        values = _absence_from(await request.form())
        try:
            await hours.change_absence(db, ws.membership, profile.membership, absence_id, values)
        except Invalid as exc:
            return self._absence_form(request, ws, profile, absence_id, values, exc.errors)
        await record_in_workspace(
            request, db, ws, audit.ABSENCE_CHANGED, hours.ABSENCE_OBJECT, absence_id
        )
        return redirect(request, self._url(ws, profile), flash="absence_saved")

    @get("/absences/{absence_id:uuid}/delete", name="confirm_delete_absence")
    async def confirm_delete_absence(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile_id: FromPath[uuid.UUID],
        absence_id: FromPath[uuid.UUID],
    ) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        absence = await hours.get_absence(db, ws.membership, profile.membership, absence_id)
        context = {"ws": ws, "profile": profile, "absence": absence, "back": self._url(ws, profile)}
        return render(request, "directory/absence_delete.html", context)

    @post("/absences/{absence_id:uuid}/delete", name="delete_absence")
    async def delete_absence(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile_id: FromPath[uuid.UUID],
        absence_id: FromPath[uuid.UUID],
    ) -> Any:
        profile = await hours.keeper_profile(db, ws.membership, profile_id)
        await hours.delete_absence(db, ws.membership, profile.membership, absence_id)
        await record_in_workspace(
            request, db, ws, audit.ABSENCE_DELETED, hours.ABSENCE_OBJECT, absence_id
        )
        return redirect(request, self._url(ws, profile), flash="absence_deleted")

    @staticmethod
    def _url(ws: WS, profile: StaffProfile) -> str:
        return ws.url(f"staff/{profile.id}/hours/")

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile: StaffProfile,
        week: hours.WeekInput,
        absence: hours.AbsenceInput,
        usual: dict[int, hours.Window],
        *,
        week_errors: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,  # the absence form's
    ) -> Any:
        absences = await hours.list_absences(
            db,
            ws.membership,
            profile.membership,
            page_number(request.query_params.get("page")),
            PER_PAGE,
        )
        context = {
            "ws": ws,
            "profile": profile,
            "week": week,
            "usual_runs": hours.week_runs(usual),
            "values": absence,
            "kinds": list(AbsenceKind),
            "absences": absences,
            "query": request.query_params,
            "url": self._url(ws, profile),
            "week_errors": week_errors or {},
            "errors": errors or {},
        }
        status = 422 if errors or week_errors else 200
        return render(request, "directory/hours.html", context, status_code=status)

    def _absence_form(
        self,
        request: Req,
        ws: WS,
        profile: StaffProfile,
        absence_id: uuid.UUID,
        values: hours.AbsenceInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "profile": profile,
            "absence_id": absence_id,
            "values": values,
            "kinds": list(AbsenceKind),
            "back": self._url(ws, profile),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "directory/absence_form.html", context, status_code=status)


class FirmHoursController(Controller):
    """``/settings/hours/``: the firm's usual week, worked by everyone without their own."""

    path = "/settings/hours"
    guards = [requires(permissions.can_set_firm_hours)]

    @get("/", name="firm_hours")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        usual = await hours.firm_week(db)
        own = usual != hours.DEFAULT_WEEK
        return self._page(request, ws, replace(hours.WeekInput.of(usual, usual), own=own))

    @post("/")
    async def save(self, request: Req, db: DB, ws: WS) -> Any:
        week = _week_from(await request.form())
        try:
            await hours.save_firm_week(db, ws.membership, week)
        except Invalid as exc:
            return self._page(request, ws, week, exc.errors)
        await record_in_workspace(
            request, db, ws, audit.WORKING_HOURS_CHANGED, TENANT_OBJECT, ws.tenant.id
        )
        return redirect(request, ws.url("settings/hours/"), flash="working_hours_saved")

    @staticmethod
    def _page(
        request: Req,
        ws: WS,
        week: hours.WeekInput,
        week_errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "week": week,
            "standard_runs": hours.week_runs(hours.DEFAULT_WEEK),
            "week_errors": week_errors or {},
        }
        status = 422 if week_errors else 200
        return render(request, "directory/firm_hours.html", context, status_code=status)
