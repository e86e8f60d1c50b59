"""Client organisations and their people (workspace).

Everyone on the staff may look; owners and admins (``can_manage_clients``) change things,
archive, delete and invite HR contacts to the portal.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.billing.profile import defaults_for_new_orgs
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import Sort, page_number
from luotsi.tenants.agreements import queries as agreement_queries
from luotsi.tenants.clients import logins, organisations, people
from luotsi.tenants.clients import models as client_models
from luotsi.tenants.clients.billing_details import INVOICE_LANGUAGES
from luotsi.tenants.clients.logins import PortalStatus
from luotsi.tenants.clients.models import OrgType, PersonRole
from luotsi.tenants.clients.organisations import OrgInput
from luotsi.tenants.clients.people import PersonInput
from luotsi.tenants.kinds import language_name
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import MAX_CHOICES, form_texts, ids_of, query_text, read_form
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

PER_PAGE = 20
MANAGE = [requires(permissions.can_manage_clients)]


def invoice_language_choices() -> list[tuple[str, str]]:
    """The invoice languages named in the reader's language."""
    return [(code, language_name(code)) for code in INVOICE_LANGUAGES]


def org_filters(request: Req) -> tuple[organisations.OrgFilter, Sort]:
    """The organisation list's filters and order from its query string (also its export's)."""
    query = request.query_params
    filters = organisations.OrgFilter(
        text=query_text(request, "q"), archived=bool(query.get("archived"))
    )
    sort = Sort.parse(query.get("sort"), organisations.ORG_SORTS, organisations.ORG_DEFAULT_SORT)
    return filters, sort


def people_filters(request: Req) -> tuple[people.PeopleFilter, Sort]:
    """The people list's filters and order from its query string (also its export's)."""
    query = request.query_params
    filters = people.PeopleFilter(
        text=query_text(request, "q"),
        role=query.get("role", ""),
        archived=bool(query.get("archived")),
    )
    sort = Sort.parse(query.get("sort"), people.PEOPLE_SORTS, people.PEOPLE_DEFAULT_SORT)
    return filters, sort


def _org_form(
    request: Req,
    ws: WS,
    org: client_models.ClientOrg | None,
    values: OrgInput,
    errors: dict[str, str] | None = None,
) -> Any:
    context = {
        "ws": ws,
        "org": org,
        "values": values,
        "errors": errors or {},
        "org_types": [(t.value, t.label) for t in OrgType],
        "invoice_languages": invoice_language_choices(),
    }
    status = 422 if errors else 200
    return render(request, "clients/form.html", context, status_code=status)


def _person_form(
    request: Req,
    ws: WS,
    org: client_models.ClientOrg,
    person: client_models.ClientPerson | None,
    values: PersonInput,
    errors: dict[str, str] | None = None,
    role_fixed: bool = False,
) -> Any:
    context = {
        "ws": ws,
        "org": org,
        "person": person,
        "values": values,
        "errors": errors or {},
        "roles": list(PersonRole),
        "role_fixed": role_fixed,
    }
    status = 422 if errors else 200
    return render(request, "clients/person_form.html", context, status_code=status)


class ClientsController(Controller):
    path = "/clients"
    guards = [requires(permissions.can_view_clients)]

    # --- organisations ------------------------------------------------------------------

    @get("/", name="clients")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        filters, sort = org_filters(request)
        page = await organisations.search_orgs(
            db, ws.membership, filters, page_number(query.get("page")), PER_PAGE, sort
        )
        context = {"ws": ws, "page": page, "filters": filters, "query": query, "sort": sort}
        return render(request, "clients/index.html", context, block="results")

    @get("/new", name="new_client", guards=MANAGE)
    async def new(self, request: Req, db: DB, ws: WS) -> Any:
        defaults = await defaults_for_new_orgs(db)
        return _org_form(request, ws, None, OrgInput(**defaults))

    @post("/new", guards=MANAGE)
    async def create(self, request: Req, db: DB, ws: WS) -> Any:
        values = await read_form(request, OrgInput)
        try:
            org = await organisations.create_org(db, ws.membership, values)
        except Invalid as exc:
            return _org_form(request, ws, None, values, exc.errors)
        return redirect(request, ws.url(f"clients/{org.id}"), flash="client_saved")

    @get("/{org_id:uuid}", name="client")
    async def show(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        current_people, archived_people = await organisations.people_by_role(db, org.id)
        context = {
            "ws": ws,
            "org": org,
            "people": current_people,
            "archived_people": archived_people,
            "agreements": await agreement_queries.org_agreements(db, ws.membership, org.id),
            "can_manage": permissions.can_manage_clients(ws.membership),
            "deletable": not await agreement_queries.org_has_history(db, org.id),
        }
        return render(request, "clients/client.html", context)

    @get("/{org_id:uuid}/edit", name="edit_client", guards=MANAGE)
    async def edit(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        return _org_form(request, ws, org, OrgInput.of(org))

    @post("/{org_id:uuid}/edit", guards=MANAGE)
    async def update(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        values = await read_form(request, OrgInput)
        try:
            await organisations.update_org(db, ws.membership, org.id, values)
        except Invalid as exc:
            return _org_form(request, ws, org, values, exc.errors)
        return redirect(request, ws.url(f"clients/{org.id}"), flash="client_saved")

    @get("/{org_id:uuid}/archive", name="confirm_archive_client", guards=MANAGE)
    async def confirm_archive(
        self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._archive_page(request, db, ws, org_id)

    @post("/{org_id:uuid}/archive", name="archive_client", guards=MANAGE)
    async def archive(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        try:
            await organisations.archive_org(db, ws.membership, org_id)
        except Invalid as exc:
            return await self._archive_page(request, db, ws, org_id, exc.errors)
        return redirect(request, ws.url(f"clients/{org_id}"), flash="client_archived")

    @post("/{org_id:uuid}/restore", name="restore_client", guards=MANAGE)
    async def restore(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        await organisations.unarchive_org(db, ws.membership, org_id)
        return redirect(request, ws.url(f"clients/{org_id}"), flash="client_restored")

    @get("/{org_id:uuid}/delete", name="confirm_delete_client", guards=MANAGE)
    async def confirm_delete(
        self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._delete_page(request, db, ws, org_id)

    @post("/{org_id:uuid}/delete", name="delete_client", guards=MANAGE)
    async def delete(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        try:
            await organisations.delete_org(db, ws.membership, org_id)
        except Invalid as exc:
            return await self._delete_page(request, db, ws, org_id, exc.errors)
        return redirect(request, ws.url("clients/"), flash="client_deleted")

    async def _archive_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        org_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        context = {
            "ws": ws,
            "org": org,
            "open_agreements": await agreement_queries.open_agreement_count(db, org.id),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "clients/archive.html", context, status_code=status)

    async def _delete_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        org_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        context = {
            "ws": ws,
            "org": org,
            "has_history": await agreement_queries.org_has_history(db, org.id),
            "people": await people.count_people(db, org.id),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "clients/delete.html", context, status_code=status)

    # --- people -------------------------------------------------------------------------

    @get("/{org_id:uuid}/people/new", name="new_client_person", guards=MANAGE)
    async def new_person(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        role = request.query_params.get("role", "")
        values = PersonInput()
        if role in {r.value for r in PersonRole}:
            values.role = role
        return _person_form(request, ws, org, None, values)

    @post("/{org_id:uuid}/people/new", guards=MANAGE)
    async def create_person(self, request: Req, db: DB, ws: WS, org_id: FromPath[uuid.UUID]) -> Any:
        org = await organisations.get_org(db, ws.membership, org_id)
        values = await read_form(request, PersonInput)
        try:
            person = await organisations.create_person(db, ws.membership, org.id, values)
        except Invalid as exc:
            return _person_form(request, ws, org, None, values, exc.errors)
        return redirect(request, ws.url(f"clients/people/{person.id}"), flash="person_saved")

    @get("/people/", name="client_people")
    async def people(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        filters, sort = people_filters(request)
        page = await people.search_people(
            db, ws.membership, filters, page_number(query.get("page")), PER_PAGE, sort
        )
        context = {
            "ws": ws,
            "page": page,
            "filters": filters,
            "query": query,
            "sort": sort,
            "roles": list(PersonRole),
        }
        return render(request, "clients/people.html", context, block="results")

    @get("/people/{person_id:uuid}", name="client_person")
    async def person(self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]) -> Any:
        return await self._person_page(request, db, ws, person_id)

    @get("/people/{person_id:uuid}/edit", name="edit_client_person", guards=MANAGE)
    async def edit_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        person = await people.get_person(db, ws.membership, person_id)
        role_fixed = await people.role_is_fixed(db, person)
        values = PersonInput.of(person)
        return _person_form(request, ws, person.org, person, values, role_fixed=role_fixed)

    @post("/people/{person_id:uuid}/edit", guards=MANAGE)
    async def update_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        person = await people.get_person(db, ws.membership, person_id)
        role_fixed = await people.role_is_fixed(db, person)
        values = await read_form(request, PersonInput)
        if role_fixed:
            values.role = person.role.value  # the form shows the role without a choice
        try:
            await people.update_person(db, ws.membership, person.id, values)
        except Invalid as exc:
            return _person_form(
                request, ws, person.org, person, values, exc.errors, role_fixed=role_fixed
            )
        return redirect(request, ws.url(f"clients/people/{person.id}"), flash="person_saved")

    @post("/people/{person_id:uuid}/invite", name="invite_client_contact", guards=MANAGE)
    async def invite(self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]) -> Any:
        settings = request.app.state["settings"]
        person = await people.get_person(db, ws.membership, person_id)
        invite = (
            logins.invite_supervisee
            if person.role == PersonRole.SUPERVISEE
            else logins.invite_hr_contact
        )
        try:
            await invite(db, ws.membership, ws.tenant, person_id, base_url=settings.base_url)
        except Invalid as exc:
            return await self._person_page(request, db, ws, person_id, exc.errors)
        return redirect(request, ws.url(f"clients/people/{person_id}"), flash="contact_invited")

    @get("/people/archive", name="confirm_archive_client_people", guards=MANAGE)
    async def confirm_archive_people(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = ids_of(request.query_params.getall("person", [])[:MAX_CHOICES])
        found = await people.archivable_people(db, ws.membership, chosen)
        context = {"ws": ws, "people": found, "chosen": len(chosen)}
        return render(request, "clients/people_archive.html", context)

    @post("/people/archive", name="archive_client_people", guards=MANAGE)
    async def archive_people(self, request: Req, db: DB, ws: WS) -> Any:
        chosen = ids_of(form_texts(await request.form(), "person", 40))
        archived = await people.archive_people(db, ws.membership, chosen)
        flash = "people_archived" if archived else "people_none_archived"
        return redirect(request, ws.url("clients/people/"), flash=flash)

    @get("/people/{person_id:uuid}/archive", name="confirm_archive_client_person", guards=MANAGE)
    async def confirm_archive_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        person = await people.get_person(db, ws.membership, person_id)
        access = await logins.portal_access(db, person)
        context = {"ws": ws, "person": person, "has_login": access.status == PortalStatus.ACTIVE}
        return render(request, "clients/person_archive.html", context)

    @post("/people/{person_id:uuid}/archive", name="archive_client_person", guards=MANAGE)
    async def archive_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        await people.archive_person(db, ws.membership, person_id)
        return redirect(request, ws.url(f"clients/people/{person_id}"), flash="person_archived")

    @post("/people/{person_id:uuid}/restore", name="restore_client_person", guards=MANAGE)
    async def restore_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        await people.unarchive_person(db, ws.membership, person_id)
        return redirect(request, ws.url(f"clients/people/{person_id}"), flash="person_restored")

    @get("/people/{person_id:uuid}/delete", name="confirm_delete_client_person", guards=MANAGE)
    async def confirm_delete_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._person_delete_page(request, db, ws, person_id)

    @post("/people/{person_id:uuid}/delete", name="delete_client_person", guards=MANAGE)
    async def delete_person(
        self, request: Req, db: DB, ws: WS, person_id: FromPath[uuid.UUID]
    ) -> Any:
        try:
            org = await people.delete_person(db, ws.membership, person_id)
        except Invalid as exc:
            return await self._person_delete_page(request, db, ws, person_id, exc.errors)
        return redirect(request, ws.url(f"clients/{org.id}"), flash="person_deleted")

    async def _person_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        person_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        person = await people.get_person(db, ws.membership, person_id)
        access = None
        if person.role in logins.LOGIN_ROLES:
            access = await logins.portal_access(db, person)
        context = {
            "ws": ws,
            "person": person,
            "access": access,
            "agreements": await agreement_queries.person_agreements(db, ws.membership, person.id),
            "can_manage": permissions.can_manage_clients(ws.membership),
            "deletable": not await agreement_queries.person_has_history(db, person.id),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "clients/person.html", context, status_code=status)

    async def _person_delete_page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        person_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        person = await people.get_person(db, ws.membership, person_id)
        context = {
            "ws": ws,
            "person": person,
            "has_history": await agreement_queries.person_has_history(db, person.id),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "clients/person_delete.html", context, status_code=status)
