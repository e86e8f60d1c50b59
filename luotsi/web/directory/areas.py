"""The firm's own areas, built from regions and municipalities."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.tenants.directory import models as directory_models
from luotsi.tenants.directory import regions
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import MAX_SEARCH, form_text, form_texts
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires


async def _form_context(db: Any, chosen: set[str], **extra: Any) -> dict[str, Any]:
    """The area form: every region to tick, and the chosen municipalities by name."""
    chosen_municipalities = sorted(
        ((key[1:], regions.places().name(key)) for key in chosen if key.startswith("m")),
        key=lambda pair: pair[1],
    )
    return {
        "regions": await regions.list_regions(db),
        "chosen": chosen,
        "chosen_municipalities": chosen_municipalities,
        **extra,
    }


class AreasController(Controller):
    path = "/areas"
    guards = [requires(permissions.can_manage_areas)]

    @get("/", name="areas")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        areas = await regions.list_areas(db)
        names = {area.id: _names(area) for area in areas}
        return render(request, "directory/areas.html", {"ws": ws, "areas": areas, "names": names})

    @get("/new", name="new_area")
    async def new(self, request: Req, db: DB, ws: WS) -> Any:
        context = await _form_context(db, set(), ws=ws, area=None)
        return render(request, "directory/area_form.html", context)

    @post("/new")
    async def create(self, request: Req, db: DB, ws: WS) -> Any:
        return await self._save(request, db, ws, None)

    @get("/{area_id:uuid}", name="edit_area")
    async def edit(self, request: Req, db: DB, ws: WS, area_id: FromPath[uuid.UUID]) -> Any:
        area = await regions.get_area(db, area_id)
        chosen = {f"r{p.region_code}" for p in area.parts if p.region_code} | {
            f"m{p.municipality_code}" for p in area.parts if p.municipality_code
        }
        context = await _form_context(db, chosen, ws=ws, area=area, name=area.name)
        return render(request, "directory/area_form.html", context)

    @post("/{area_id:uuid}")
    async def update(self, request: Req, db: DB, ws: WS, area_id: FromPath[uuid.UUID]) -> Any:
        return await self._save(request, db, ws, area_id)

    @get("/{area_id:uuid}/delete", name="confirm_delete_area")
    async def confirm_delete(
        self, request: Req, db: DB, ws: WS, area_id: FromPath[uuid.UUID]
    ) -> Any:
        area = await regions.get_area(db, area_id)
        return render(request, "directory/area_delete.html", {"ws": ws, "area": area})

    @post("/{area_id:uuid}/delete", name="delete_area")
    async def delete(self, request: Req, db: DB, ws: WS, area_id: FromPath[uuid.UUID]) -> Any:
        await regions.delete_area(db, ws.membership, area_id)
        return redirect(request, ws.url("areas/"), flash="area_deleted")

    async def _save(self, request: Req, db: DB, ws: WS, area_id: uuid.UUID | None) -> Any:
        form = await request.form()
        name = form_text(form, "name")
        region_codes = form_texts(form, "region", MAX_SEARCH)
        municipality_codes = form_texts(form, "municipality", MAX_SEARCH)
        place_names = form_text(form, "place_names", regions.MAX_PLACE_NAMES)
        try:
            await regions.save_area(
                db, ws.membership, name, region_codes, municipality_codes, area_id, place_names
            )
        except Invalid as exc:
            area = await regions.get_area(db, area_id) if area_id else None
            chosen = {f"r{c}" for c in region_codes} | {f"m{c}" for c in municipality_codes}
            context = await _form_context(
                db, chosen, ws=ws, area=area, name=name, place_names=place_names, errors=exc.errors
            )
            return render(request, "directory/area_form.html", context, status_code=422)
        return redirect(request, ws.url("areas/"), flash="area_saved")


def _names(area: directory_models.FirmArea) -> list[str]:
    """The regions and municipalities of an area, named in the reader's language."""
    index = regions.places()
    return [
        index.name(f"r{p.region_code}" if p.region_code else f"m{p.municipality_code}")
        for p in area.parts
    ]
