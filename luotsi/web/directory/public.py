"""The firm's public directory at ``/f/{slug}/`` and the workspace page that describes the firm.

The public pages show only what the firm publishes: visible, active supervisors and the firm's
description. Filters travel in the query string, so every view can be shared as a link; a
filter the page cannot use (an unknown place, a stale specialty) is dropped with a note, never
an error.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from markupsafe import Markup

from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Page, page_number
from luotsi.platform.phones import format_phone
from luotsi.tenants.directory.models import FirmProfile, ServiceArea, Specialty, StaffProfile
from luotsi.tenants.directory.public import (
    DirectoryChoices,
    directory_choices,
    firm_profile,
    save_firm_profile,
)
from luotsi.tenants.directory.regions import Place, fold, places
from luotsi.tenants.directory.staff import (
    StaffFilter,
    get_public_profile,
    photo_bytes,
    search_staff,
)
from luotsi.tenants.kinds import SPOKEN_LANGUAGES, SupervisionKind, language_name
from luotsi.web.deps import DB, FILES, FIRM, WS, Req
from luotsi.web.directory.inquiries import inquiry_form_context
from luotsi.web.forms import form_text, query_text
from luotsi.web.public import PublicFirm
from luotsi.web.templating import redirect, render, wants_fragment
from luotsi.web.workspace import requires

PER_PAGE = 20
MAX_PLACE_TEXT = 100
PHOTO_MAX_AGE = 600  # seconds: a photo hidden from the directory leaves shared caches soon


# --- the filters ----------------------------------------------------------------------------


@dataclass
class DirectoryQuery:
    """The directory's filters as the visitor gave them, checked against what exists."""

    place_text: str = ""  # as typed or picked (kept in links only when it names a place)
    place: Place | None = None
    specialty: Specialty | None = None
    kind: SupervisionKind | None = None
    language: str = ""
    page: int = 1
    notes: list[str] = field(default_factory=list)  # what was ignored, in words
    suggestions: list[Place] = field(default_factory=list)  # for an unknown place

    @property
    def active(self) -> bool:
        return bool(self.place or self.specialty or self.kind or self.language)

    def staff_filter(self) -> StaffFilter:
        return StaffFilter(
            place=self.place,
            specialty_id=self.specialty.id if self.specialty else None,
            kind=self.kind.value if self.kind else "",
            language=self.language,
            public=True,
        )

    def params(self, **changes: str) -> dict[str, str]:
        """The usable filters as query parameters (the ignored ones are left out)."""
        values = {
            "place": self.place_text if self.place else "",
            "specialty": str(self.specialty.id) if self.specialty else "",
            "kind": self.kind.value if self.kind else "",
            "language": self.language,
            **changes,
        }
        return {k: v for k, v in values.items() if v}

    def url(self, firm: PublicFirm, **changes: str) -> str:
        query = urlencode(self.params(**changes))
        return firm.url() + (f"?{query}" if query else "")

    def page_url(self, firm: PublicFirm, number: int) -> str:
        return self.url(firm, page=str(number) if number > 1 else "")


def read_query(request: Req, choices: DirectoryChoices) -> DirectoryQuery:
    """The filters of a directory request; a value that cannot be used is dropped with a note."""
    raw = request.query_params
    query = DirectoryQuery(page=page_number(raw.get("page")))
    text = " ".join(str(raw.get("place") or "").split())
    if len(text) > MAX_PLACE_TEXT:
        message = _(
            "The place is longer than %(n)d characters, so supervisors everywhere are shown."
        )
        query.notes.append(i18n.interpolate(message, {"n": MAX_PLACE_TEXT}))
    elif text:
        query.place_text = text
        query.place = places().resolve(text)
        if query.place is None:
            query.notes.append(
                _("No place is called “%(text)s”, so supervisors everywhere are shown.")
                % {"text": text}
            )
            query.suggestions = places().search(text, limit=5)
    specialty = str(raw.get("specialty") or "")
    if specialty:
        known = {str(s.id): s for s in choices.specialties}
        try:
            query.specialty = known.get(str(uuid.UUID(specialty)))
        except ValueError:
            query.specialty = None
        if query.specialty is None:
            query.notes.append(_("That specialty is not on offer; all specialties are shown."))
    kind = str(raw.get("kind") or "")
    if kind:
        query.kind = next((k for k in SupervisionKind if k.value == kind), None)
        if query.kind is None:
            query.notes.append(_("That form of supervision is unknown; all forms are shown."))
    language = str(raw.get("language") or "")
    if language:
        if language in SPOKEN_LANGUAGES:
            query.language = language
        else:
            query.notes.append(_("That language is unknown; all languages are shown."))
    return query


# --- what the pages show --------------------------------------------------------------------


def area_namer() -> Callable[[ServiceArea], str]:
    """Names of a supervisor's service areas in the reader's language (a firm's area by its
    name, loaded with it)."""
    index = places()

    def name(area: ServiceArea) -> str:
        if area.firm_area_id is not None:
            return area.firm_area.name if area.firm_area else ""
        return index.name(area.key)

    return name


def area_names(profile: StaffProfile, area_name: Callable[[ServiceArea], str]) -> list[str]:
    """A supervisor's areas as a reader scans them: the firm's areas, regions, municipalities."""
    rank = {"a": 0, "r": 1, "m": 2}
    areas = sorted(profile.areas, key=lambda a: (rank[a.key[0]], fold(area_name(a))))
    return [name for name in map(area_name, areas) if name]


def bio_of(profile: StaffProfile) -> tuple[str, str]:
    """The bio to show and its language: the reader's, else the first one written."""
    for lang in (i18n.current_language(), "fi", "sv", "en"):
        text = str(getattr(profile, f"bio_{lang}", "") or "")
        if text.strip():
            return text, lang
    return "", i18n.current_language()


def paragraphs(text: str) -> list[str]:
    """Paragraphs of a text typed in a textarea (an empty line between them; CRLF or LF)."""
    return [p.strip() for p in re.split(r"\r?\n\s*\n", text) if p.strip()]


def summary(text: str, limit: int = 160) -> str:
    """One line of at most ``limit`` characters, cut at a word, for a meta description."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",.;:-–")
    return cut + "…"


def json_ld(data: dict[str, Any]) -> Markup:
    """Schema.org data for a ``<script type="application/ld+json">`` element.

    ``<``, ``>`` and ``&`` are escaped as JSON unicode escapes: text a firm or a supervisor
    wrote (say ``</script>``) can then never end the element and become markup.
    """
    text = json.dumps(_compact(data), ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return Markup(text)  # noqa: S704 - escaped above for the script element


def _compact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in ("", None, [], {})}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _absolute(request: Req, path: str) -> str:
    return request.app.state["settings"].base_url.rstrip("/") + path


def _photo_path(firm: PublicFirm, profile: StaffProfile) -> str:
    version = int(profile.photo_updated_at.timestamp()) if profile.photo_updated_at else 0
    return firm.url(f"people/{profile.id}/photo") + f"?v={version}"


def _organisation(request: Req, firm: PublicFirm) -> dict[str, Any]:
    return {
        "@type": "Organization",
        "name": firm.tenant.name,
        "url": _absolute(request, firm.url()),
        "email": firm.profile.public_email,
        "telephone": firm.profile.public_phone,
    }


def _firm_data(
    request: Req, firm: PublicFirm, description: str, people: list[StaffProfile]
) -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        **_organisation(request, firm),
        "description": summary(description, 500),
        "employee": [
            {
                "@type": "Person",
                "name": p.display_name,
                "jobTitle": p.title,
                "url": _absolute(request, firm.url(f"people/{p.id}")),
            }
            for p in people
        ],
    }


def _person(
    request: Req, firm: PublicFirm, profile: StaffProfile, area_name: Callable[[ServiceArea], str]
) -> dict[str, Any]:
    bio, _lang = bio_of(profile)
    areas = area_names(profile, area_name)
    if profile.remote_anywhere:
        areas.append(_("Remote, anywhere in Finland"))
    return {
        "@context": "https://schema.org",
        "@type": "Person",
        "name": profile.display_name,
        "jobTitle": profile.title,
        "url": _absolute(request, firm.url(f"people/{profile.id}")),
        "telephone": profile.phone,
        "email": profile.public_email,
        "image": _absolute(request, _photo_path(firm, profile)) if profile.has_photo else "",
        "description": summary(bio, 300),
        "knowsLanguage": profile.language_list,
        "areaServed": areas,
        "worksFor": _organisation(request, firm),
    }


def _common(firm: PublicFirm, area_name: Callable[[ServiceArea], str]) -> dict[str, Any]:
    return {
        "firm": firm,
        "area_names": lambda profile: area_names(profile, area_name),
        "language_name": language_name,
        "photo_path": lambda profile: _photo_path(firm, profile),
        "format_phone": format_phone,
    }


# --- public pages ---------------------------------------------------------------------------


class DirectoryController(Controller):
    """Public: the firm page with its filterable supervisor list, and each supervisor's page."""

    path = "/"

    @get("/", name="public_directory")
    async def firm_page(self, request: Req, db: DB, firm: FIRM) -> Any:
        choices = await directory_choices(db)
        query = read_query(request, choices)
        results: Page[StaffProfile] = await search_staff(
            db, query.staff_filter(), query.page, PER_PAGE
        )
        area_name = area_namer()
        description = firm.profile.description(i18n.current_language())
        context = {
            **_common(firm, area_name),
            "description_paragraphs": paragraphs(description),
            "query": query,
            "results": results,
            "choices": choices,
            "kind_choices": _with_current(choices.kinds, query.kind),
            "language_choices": _with_current(choices.languages, query.language or None),
            "meta_description": summary(description)
            or _(
                "Work supervisors of %(firm)s: find one by place, specialty, form of "
                "supervision and language."
            )
            % {"firm": firm.tenant.name},
            "canonical": _absolute(request, firm.url()),
            "json_ld": json_ld(_firm_data(request, firm, description, results.items)),
            **inquiry_form_context(request, firm),
        }
        return render(
            request,
            "directory/public/firm.html",
            {**context, "fragment": wants_fragment(request)},
            block="results",
        )

    @get("/places", name="public_directory_places")
    async def place_options(self, request: Req, firm: FIRM) -> Any:
        """``<option>``s for the place box's ``<datalist>``, refreshed by htmx while typing."""
        text = query_text(request, "q", MAX_PLACE_TEXT) or query_text(
            request, "place", MAX_PLACE_TEXT
        )
        response = render(
            request, "directory/public/_place_options.html", {"labels": places().suggest(text)}
        )
        response.headers["Cache-Control"] = "private, max-age=3600"  # labels follow the language
        return response

    @get("/people/{profile_id:uuid}", name="public_person")
    async def person_page(
        self, request: Req, db: DB, firm: FIRM, profile_id: FromPath[uuid.UUID]
    ) -> Any:
        profile = await get_public_profile(db, profile_id)
        area_name = area_namer()
        bio, bio_language = bio_of(profile)
        context = {
            **_common(firm, area_name),
            "profile": profile,
            "bio": bio,
            "bio_language": bio_language,
            "bio_paragraphs": paragraphs(bio),
            "meta_description": summary(". ".join(t for t in (profile.title, bio) if t))
            or _("%(name)s, supervisor at %(firm)s")
            % {"name": profile.display_name, "firm": firm.tenant.name},
            "canonical": _absolute(request, firm.url(f"people/{profile.id}")),
            "json_ld": json_ld(_person(request, firm, profile, area_name)),
            **inquiry_form_context(request, firm, profile),
        }
        return render(request, "directory/public/person.html", context)

    # The same bytes for every visitor and publicly cacheable: no CSRF cookie may ride along.
    @get(
        "/people/{profile_id:uuid}/photo",
        name="public_person_photo",
        opt={"exclude_from_csrf": True},
    )
    async def photo(
        self, request: Req, db: DB, files: FILES, firm: FIRM, profile_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        profile = await get_public_profile(db, profile_id)
        changed = profile.photo_updated_at
        if changed is None:
            raise NotFound("photo")
        etag = f'"{profile.id.hex}-{int(changed.timestamp() * 1000)}"'
        headers = {
            "Cache-Control": f"public, max-age={PHOTO_MAX_AGE}",
            "ETag": etag,
            "Last-Modified": format_datetime(changed.replace(microsecond=0), usegmt=True),
        }
        if _not_modified(request, etag, changed):
            return Response(b"", status_code=304, headers=headers)
        data = await photo_bytes(files, profile)
        return Response(data, media_type="image/jpeg", headers=headers)


def _with_current(options: list[Any], current: Any) -> list[Any]:
    """A select's options, plus the chosen value when a shared link asks for one not offered."""
    return options if current is None or current in options else [*options, current]


def _not_modified(request: Req, etag: str, changed: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return changed.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


# --- workspace: the firm's public description -----------------------------------------------


def _form_values(profile: FirmProfile) -> dict[str, Any]:
    return {
        "description_fi": profile.description_fi,
        "description_sv": profile.description_sv,
        "description_en": profile.description_en,
        "public_email": profile.public_email,
        "public_phone": format_phone(profile.public_phone),
        "directory_enabled": profile.directory_enabled,
    }


class FirmProfileController(Controller):
    """Workspace: the firm's public description and the directory switch."""

    path = "/directory"
    guards = [requires(permissions.can_edit_firm_profile)]

    @get("/", name="firm_profile")
    async def edit(self, request: Req, db: DB, ws: WS) -> Any:
        values = _form_values(await firm_profile(db))
        return render(request, "directory/firm_profile.html", self._context(request, ws, values))

    @post("/")
    async def save(self, request: Req, db: DB, ws: WS) -> Any:
        form = await request.form()
        values: dict[str, Any] = {
            name: form_text(form, name)
            for name in ("description_fi", "description_sv", "description_en")
        }
        values["public_email"] = form_text(form, "public_email")
        values["public_phone"] = form_text(form, "public_phone")
        values["directory_enabled"] = "directory_enabled" in form
        try:
            await save_firm_profile(
                db,
                ws.membership,
                descriptions={
                    "fi": values["description_fi"],
                    "sv": values["description_sv"],
                    "en": values["description_en"],
                },
                public_email=values["public_email"],
                public_phone=values["public_phone"],
                directory_enabled=values["directory_enabled"],
            )
        except Invalid as exc:
            context = self._context(request, ws, values, errors=exc.errors)
            return render(request, "directory/firm_profile.html", context, status_code=422)
        return redirect(request, ws.url("directory/"), flash="firm_profile_saved")

    @staticmethod
    def _context(request: Req, ws: WS, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
        public_path = f"/f/{ws.tenant.slug}/"
        return {
            "ws": ws,
            "values": values,
            "public_path": public_path,
            "public_url": _absolute(request, public_path),
            **extra,
        }
