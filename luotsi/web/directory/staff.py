"""The firm's staff: the list, each person's profile and photo, and the specialties."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from luotsi.platform import permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.tenants.directory import models as directory_models
from luotsi.tenants.directory import staff
from luotsi.tenants.directory.regions import list_areas, list_regions, places
from luotsi.tenants.kinds import SPOKEN_LANGUAGES, SupervisionKind, language_name
from luotsi.web.deps import DB, FILES, WS, Req
from luotsi.web.forms import form_text, form_texts, query_text
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

PER_PAGE = 20
QUALIFICATION_ROWS = 3  # empty rows offered below the filled ones


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _filters_from_query(request: Req) -> staff.StaffFilter:
    query = request.query_params
    region = query.get("region", "")
    place = places().resolve(f"r{region}") if region.isdigit() else None
    return staff.StaffFilter(
        text=query_text(request, "q"),
        place=place,
        specialty_id=_uuid(query.get("specialty")),
        kind=query.get("kind", ""),
        status=query.get("status", "active"),
    )


async def _choices(db: DB) -> dict[str, Any]:
    """What the profile form and the filters offer: the firm's own words and the map."""
    specialties = [s for s, _count in await staff.list_specialties(db)]
    return {
        "specialties": specialties,
        "regions": await list_regions(db),
        "firm_areas": await list_areas(db),
        "kinds": list(SupervisionKind),
        "spoken_languages": [(code, language_name(code)) for code in SPOKEN_LANGUAGES],
    }


def _place_names(profile: directory_models.StaffProfile, area_names: dict[str, str]) -> list[str]:
    names = []
    for area in profile.areas:
        key = area.key
        names.append(area_names.get(key, "") if key.startswith("a") else places().name(key))
    return [n for n in names if n]


class StaffController(Controller):
    path = "/staff"
    guards = [requires(permissions.can_view_staff)]

    @get("/", name="staff")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        await staff.ensure_profiles(db)
        filters = _filters_from_query(request)
        page = await staff.search_staff(
            db, filters, page_number(request.query_params.get("page")), PER_PAGE
        )
        choices = await _choices(db)
        area_names = {f"a{a.id}": a.name for a in choices["firm_areas"]}
        context = {
            "ws": ws,
            "page": page,
            "filters": filters,
            "query": request.query_params,
            "place_names": {p.id: _place_names(p, area_names) for p in page.items},
            "own": await _own_profile_id(db, ws),
            **choices,
        }
        return render(request, "directory/staff.html", context, block="results")

    @get("/{profile_id:uuid}", name="staff_profile")
    async def show(self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]) -> Any:
        profile = await staff.get_profile(db, profile_id)
        area_names = {f"a{a.id}": a.name for a in await list_areas(db)}
        context = {
            "ws": ws,
            "profile": profile,
            "place_names": _place_names(profile, area_names),
            "can_edit": permissions.can_edit_staff_profile(ws.membership, profile.membership),
        }
        return render(request, "directory/staff_profile.html", context)

    @get("/{profile_id:uuid}/edit", name="edit_staff_profile")
    async def edit(self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]) -> Any:
        profile = await self._editable(db, ws, profile_id)
        return await self._form(request, db, ws, profile, _saved_values(profile))

    @post("/{profile_id:uuid}/edit")
    async def update(self, request: Req, db: DB, ws: WS, profile_id: FromPath[uuid.UUID]) -> Any:
        profile = await self._editable(db, ws, profile_id)
        form = await request.form()
        names = form_texts(form, "qualification_name")
        years = form_texts(form, "qualification_year")
        values = staff.ProfileInput(
            display_name=form_text(form, "display_name"),
            title=form_text(form, "title"),
            phone=form_text(form, "phone"),
            public_email=form_text(form, "public_email"),
            bio_fi=form_text(form, "bio_fi"),
            bio_sv=form_text(form, "bio_sv"),
            bio_en=form_text(form, "bio_en"),
            languages=form_texts(form, "languages"),
            kinds=form_texts(form, "kinds"),
            qualifications=list(zip(names, years + [""] * (len(names) - len(years)), strict=False)),
            place_keys=form_texts(form, "region")
            + form_texts(form, "municipality")
            + form_texts(form, "area"),
            place_names=form_text(form, "place_names"),
            remote_anywhere="remote_anywhere" in form,
            specialty_ids=form_texts(form, "specialties"),
            visible="visible" in form,
            active="active" in form,
            supervises="supervises" in form,
        )
        try:
            await staff.save_profile(db, ws.membership, profile, values)
        except Invalid as exc:
            return await self._form(request, db, ws, profile, values, exc.errors)
        return redirect(request, ws.url(f"staff/{profile.id}"), flash="profile_saved")

    @post("/{profile_id:uuid}/photo", name="upload_staff_photo")
    async def upload_photo(
        self, request: Req, db: DB, files: FILES, ws: WS, profile_id: FromPath[uuid.UUID]
    ) -> Any:
        profile = await self._editable(db, ws, profile_id)
        form = await request.form()
        upload = form.get("photo")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        try:
            await staff.set_photo(db, files, ws.membership, profile, data)
        except Invalid as exc:
            return await self._form(request, db, ws, profile, _saved_values(profile), exc.errors)
        return redirect(request, ws.url(f"staff/{profile.id}/edit"), flash="photo_saved")

    @post("/{profile_id:uuid}/photo/delete", name="delete_staff_photo")
    async def delete_photo(
        self, request: Req, db: DB, files: FILES, ws: WS, profile_id: FromPath[uuid.UUID]
    ) -> Any:
        profile = await self._editable(db, ws, profile_id)
        await staff.remove_photo(db, files, ws.membership, profile)
        return redirect(request, ws.url(f"staff/{profile.id}/edit"), flash="photo_removed")

    @get("/{profile_id:uuid}/photo", name="staff_photo")
    async def photo(
        self, db: DB, files: FILES, ws: WS, profile_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        profile = await staff.get_profile(db, profile_id)
        data = await staff.photo_bytes(files, profile)
        return Response(
            data,
            media_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    async def _editable(
        self, db: DB, ws: WS, profile_id: uuid.UUID
    ) -> directory_models.StaffProfile:
        profile = await staff.get_profile(db, profile_id)
        if not permissions.can_edit_staff_profile(ws.membership, profile.membership):
            raise NotFound("profile")  # colleagues' forms are not theirs to see
        return profile

    async def _form(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile: directory_models.StaffProfile,
        values: staff.ProfileInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        qualifications = list(values.qualifications) + [("", "")] * QUALIFICATION_ROWS
        context = {
            "ws": ws,
            "profile": profile,
            "values": values,
            "qualification_rows": qualifications,
            "chosen_places": set(values.place_keys),
            "chosen_municipalities": sorted(
                ((k, places().name(k)) for k in set(values.place_keys) if k.startswith("m")),
                key=lambda pair: pair[1],
            ),
            "errors": errors or {},
            **await _choices(db),
        }
        status = 422 if errors else 200
        return render(request, "directory/staff_form.html", context, status_code=status)


def _saved_values(profile: directory_models.StaffProfile) -> staff.ProfileInput:
    """The saved profile as form values."""
    return staff.ProfileInput(
        display_name=profile.display_name,
        title=profile.title,
        phone=profile.phone_display,
        public_email=profile.public_email,
        bio_fi=profile.bio_fi,
        bio_sv=profile.bio_sv,
        bio_en=profile.bio_en,
        languages=sorted(profile.languages),
        kinds=sorted(profile.kinds),
        qualifications=[(q.name, str(q.year or "")) for q in profile.qualifications],
        place_keys=[a.key for a in profile.areas],
        remote_anywhere=profile.remote_anywhere,
        specialty_ids=[str(link.specialty_id) for link in profile.specialty_links],
        visible=profile.visible,
        active=profile.active,
        supervises=profile.supervises,
    )


async def _own_profile_id(db: DB, ws: WS) -> uuid.UUID | None:
    try:
        return (await staff.profile_of_membership(db, ws.membership.id)).id
    except NotFound:
        return None


class SpecialtiesController(Controller):
    path = "/specialties"
    guards = [requires(permissions.can_manage_specialties)]

    @get("/", name="specialties")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        return await self._list(request, db, ws)

    @post("/")
    async def create(self, request: Req, db: DB, ws: WS) -> Any:
        form = await request.form()
        name = form_text(form, "name")
        try:
            await staff.create_specialty(db, ws.membership, name)
        except Invalid as exc:
            return await self._list(request, db, ws, name=name, errors=exc.errors)
        return redirect(request, ws.url("specialties/"), flash="specialty_saved")

    @get("/{specialty_id:uuid}", name="edit_specialty")
    async def edit(self, request: Req, db: DB, ws: WS, specialty_id: FromPath[uuid.UUID]) -> Any:
        specialty = await staff.get_specialty(db, specialty_id)
        return await self._edit_page(request, db, ws, specialty, specialty.name)

    @post("/{specialty_id:uuid}")
    async def rename(self, request: Req, db: DB, ws: WS, specialty_id: FromPath[uuid.UUID]) -> Any:
        form = await request.form()
        name = form_text(form, "name")
        try:
            await staff.rename_specialty(db, ws.membership, specialty_id, name)
        except Invalid as exc:
            specialty = await staff.get_specialty(db, specialty_id)
            return await self._edit_page(request, db, ws, specialty, name, exc.errors)
        return redirect(request, ws.url("specialties/"), flash="specialty_saved")

    @post("/{specialty_id:uuid}/merge", name="merge_specialty")
    async def merge(self, request: Req, db: DB, ws: WS, specialty_id: FromPath[uuid.UUID]) -> Any:
        form = await request.form()
        target = _uuid(form_text(form, "target"))
        try:
            if target is None:
                raise Invalid.field("target", _("Choose the specialty to merge into."))
            await staff.merge_specialty(db, ws.membership, specialty_id, target)
        except Invalid as exc:
            specialty = await staff.get_specialty(db, specialty_id)
            return await self._edit_page(request, db, ws, specialty, specialty.name, exc.errors)
        return redirect(request, ws.url("specialties/"), flash="specialty_merged")

    @get("/{specialty_id:uuid}/delete", name="confirm_delete_specialty")
    async def confirm_delete(
        self, request: Req, db: DB, ws: WS, specialty_id: FromPath[uuid.UUID]
    ) -> Any:
        specialty = await staff.get_specialty(db, specialty_id)
        used = dict((s.id, n) for s, n in await staff.list_specialties(db)).get(specialty.id, 0)
        context = {"ws": ws, "specialty": specialty, "used": used}
        return render(request, "directory/specialty_delete.html", context)

    @post("/{specialty_id:uuid}/delete", name="delete_specialty")
    async def delete(self, request: Req, db: DB, ws: WS, specialty_id: FromPath[uuid.UUID]) -> Any:
        await staff.delete_specialty(db, ws.membership, specialty_id)
        return redirect(request, ws.url("specialties/"), flash="specialty_deleted")

    async def _list(
        self, request: Req, db: DB, ws: WS, name: str = "", errors: dict[str, str] | None = None
    ) -> Any:
        context = {
            "ws": ws,
            "specialties": await staff.list_specialties(db),
            "name": name,
            "errors": errors or {},
        }
        return render(
            request, "directory/specialties.html", context, status_code=422 if errors else 200
        )

    async def _edit_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        specialty: directory_models.Specialty,
        name: str,
        errors: dict[str, str] | None = None,
    ) -> Any:
        others = [s for s, _n in await staff.list_specialties(db) if s.id != specialty.id]
        context = {
            "ws": ws,
            "specialty": specialty,
            "name": name,
            "others": others,
            "errors": errors or {},
        }
        return render(
            request, "directory/specialty_form.html", context, status_code=422 if errors else 200
        )
