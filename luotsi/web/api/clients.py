"""``/api/v1/client-orgs`` and ``/api/v1/people``: client organisations and their people.

Reads need ``clients_read``, changes ``clients_write``; changes go through the same service
functions (and checks) as the organisation and person forms, and are audited as the token.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, replace
from typing import Any

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select

from luotsi.platform import permissions
from luotsi.platform.apitokens import record_api_write
from luotsi.platform.permissions import require
from luotsi.tenants.clients import organisations, people
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.clients.organisations import OrgInput
from luotsi.tenants.clients.people import PersonInput
from luotsi.web.api.access import (
    CALLER,
    needs,
    oldest_first,
    problem_responses,
    refuse_control_characters,
)
from luotsi.web.api.schemas import (
    ClientOrgIn,
    ClientOrgOut,
    ClientOrgPage,
    ClientOrgPatch,
    PersonIn,
    PersonOut,
    PersonPage,
    PersonPatch,
)
from luotsi.web.deps import DB, Req
from luotsi.web.middleware import origin

READ = [needs("clients_read")]
WRITE = [needs("clients_write")]


def _given(patch_body: Any) -> dict[str, str]:
    """The fields of a PATCH body that were given, as the forms' text values."""
    return {name: str(value) for name, value in asdict(patch_body).items() if value is not None}


class ClientOrgsController(Controller):
    path = "/client-orgs"
    tags = ["client organisations"]

    @get("/", guards=READ, responses=problem_responses(422))
    async def list_orgs(
        self,
        db: DB,
        caller: CALLER,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ClientOrgPage:
        """Every organisation of the firm, archived ones too, oldest first."""
        require(permissions.can_view_clients(caller.actor), "clients")
        rows, after = await oldest_first(db, select(ClientOrg), ClientOrg, cursor, limit)
        return ClientOrgPage([ClientOrgOut.of(o) for o in rows], after)

    @get("/{org_id:uuid}", guards=READ, responses=problem_responses())
    async def get_org(self, db: DB, caller: CALLER, org_id: FromPath[uuid.UUID]) -> ClientOrgOut:
        return ClientOrgOut.of(await organisations.get_org(db, caller.actor, org_id))

    @post("/", guards=WRITE, responses=problem_responses(422))
    async def create_org(
        self, request: Req, db: DB, caller: CALLER, data: JSONBody[ClientOrgIn]
    ) -> ClientOrgOut:
        """A new organisation, checked as on the organisation form."""
        refuse_control_characters(data)
        values = OrgInput(**{k: str(v) for k, v in asdict(data).items()})
        org = await organisations.create_org(db, caller.actor, values)
        await record_api_write(db, caller, "client_org", org.id, origin(request))
        return ClientOrgOut.of(org)

    @patch("/{org_id:uuid}", guards=WRITE, responses=problem_responses(422))
    async def update_org(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[ClientOrgPatch],
    ) -> ClientOrgOut:
        """The fields given change; the others stay as they are."""
        refuse_control_characters(data)
        org = await organisations.get_org(db, caller.actor, org_id)
        values = replace(OrgInput.of(org), **_given(data))
        org = await organisations.update_org(db, caller.actor, org.id, values)
        await record_api_write(db, caller, "client_org", org.id, origin(request))
        return ClientOrgOut.of(org)

    @get("/{org_id:uuid}/people", guards=READ, responses=problem_responses(422))
    async def list_org_people(
        self,
        db: DB,
        caller: CALLER,
        org_id: FromPath[uuid.UUID],
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> PersonPage:
        """The organisation's people, archived ones too, oldest first."""
        org = await organisations.get_org(db, caller.actor, org_id)
        rows, after = await oldest_first(
            db,
            select(ClientPerson).where(ClientPerson.org_id == org.id),
            ClientPerson,
            cursor,
            limit,
        )
        return PersonPage([PersonOut.of(p) for p in rows], after)

    @post("/{org_id:uuid}/people", guards=WRITE, responses=problem_responses(422))
    async def create_person(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[PersonIn],
    ) -> PersonOut:
        """A new HR contact, manager or supervisee of the organisation."""
        refuse_control_characters(data)
        values = PersonInput(**asdict(data))
        person = await organisations.create_person(db, caller.actor, org_id, values)
        await record_api_write(db, caller, "client_person", person.id, origin(request))
        return PersonOut.of(person)


class PeopleController(Controller):
    path = "/people"
    tags = ["people"]

    @get("/", guards=READ, responses=problem_responses(422))
    async def list_people(
        self,
        db: DB,
        caller: CALLER,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> PersonPage:
        """The people of every organisation, archived ones too, oldest first."""
        require(permissions.can_view_clients(caller.actor), "clients")
        rows, after = await oldest_first(db, select(ClientPerson), ClientPerson, cursor, limit)
        return PersonPage([PersonOut.of(p) for p in rows], after)

    @get("/{person_id:uuid}", guards=READ, responses=problem_responses())
    async def get_person(self, db: DB, caller: CALLER, person_id: FromPath[uuid.UUID]) -> PersonOut:
        return PersonOut.of(await people.get_person(db, caller.actor, person_id))

    @patch("/{person_id:uuid}", guards=WRITE, responses=problem_responses(422))
    async def update_person(
        self,
        request: Req,
        db: DB,
        caller: CALLER,
        person_id: FromPath[uuid.UUID],
        data: JSONBody[PersonPatch],
    ) -> PersonOut:
        """The fields given change (a role stays once the person is on an agreement)."""
        refuse_control_characters(data)
        person = await people.get_person(db, caller.actor, person_id)
        values = replace(PersonInput.of(person), **_given(data))
        person = await people.update_person(db, caller.actor, person.id, values)
        await record_api_write(db, caller, "client_person", person.id, origin(request))
        return PersonOut.of(person)
