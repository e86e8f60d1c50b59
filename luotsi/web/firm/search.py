"""The workspace's one search box: client organisations, people, agreements, staff and invoices.

Each kind is found by the words of its own list's search (the list filters' ``conditions``),
so a name, a business ID or an invoice number finds here what it finds on that list, and each
kind is searched only for a role that may open it (agreements only those the person works on,
invoices only for the office). Names, titles and numbers only: confidential content is never
searched. All kinds come in one statement, a ``UNION ALL`` of a few rows per kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import get
from sqlalchemy import String, and_, case, cast, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from luotsi.billing.models import Invoice, InvoiceStatus
from luotsi.billing.overview import InvoiceFilter
from luotsi.platform import permissions
from luotsi.platform.i18n import gettext as _
from luotsi.platform.search import search_words
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.agreements.service import visible_to
from luotsi.tenants.agreements.summaries import AgreementFilter
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.clients.organisations import OrgFilter
from luotsi.tenants.clients.people import PeopleFilter
from luotsi.tenants.directory.models import StaffProfile
from luotsi.tenants.directory.staff import StaffFilter
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import query_text
from luotsi.web.templating import render
from luotsi.web.workspace import requires

PER_KIND = 8  # hits shown per kind; the kind's own list (linked) has the rest


@dataclass(frozen=True)
class Hit:
    id: uuid.UUID
    title: str
    detail: str
    tag: str  # a short status word (a person's role, an invoice's state); may be empty


@dataclass
class Group:
    """The hits of one kind, and where its whole list is."""

    kind: str
    heading: str
    path: str  # the kind's list under the workspace, searched for the same words
    link: str  # a hit's page under the workspace, ``{id}`` filled in
    hits: list[Hit] = field(default_factory=list)
    more: bool = False  # more than PER_KIND matched


def _ranked(
    kind: str, title: Any, detail: Any, tag: Any, order: list[Any] | None = None
) -> list[Any]:
    """The columns every kind's SELECT gives, its rows numbered by ``order`` (the title's
    alphabetical order unless given)."""
    return [
        literal(kind, String).label("kind"),
        func.row_number().over(order_by=order or [func.lower(title)]).label("position"),
        cast(title, String).label("title"),
        func.coalesce(cast(detail, String), "").label("detail"),
        func.coalesce(cast(tag, String), "").label("tag"),
    ]


def _orgs(text: str) -> Select[Any]:
    filters = OrgFilter(text=text, archived=True)
    archived = case((ClientOrg.archived_at.is_(None), ""), else_="archived")
    columns = _ranked("orgs", ClientOrg.name, ClientOrg.business_id, archived)
    return select(ClientOrg.id, *columns).where(*filters.conditions())


def _people(text: str) -> Select[Any]:
    filters = PeopleFilter(text=text, archived=True)
    org = aliased(ClientOrg)
    columns = _ranked("people", ClientPerson.name, org.name, ClientPerson.role)
    return (
        select(ClientPerson.id, *columns)
        .join(org, and_(org.tenant_id == ClientPerson.tenant_id, org.id == ClientPerson.org_id))
        .where(*filters.conditions())
    )


def _agreements(text: str, actor: Membership) -> Select[Any]:
    filters = AgreementFilter(status="all", text=text)
    org = aliased(ClientOrg)
    ended = Agreement.status == AgreementStatus.ENDED
    order = [ended, func.lower(org.name), Agreement.start_date.desc()]
    columns = _ranked("agreements", org.name, Agreement.title, Agreement.status, order)
    return (
        select(Agreement.id, *columns)
        .join(org, and_(org.tenant_id == Agreement.tenant_id, org.id == Agreement.org_id))
        .where(*filters.conditions(), *visible_to(actor))
    )


def _staff(text: str) -> Select[Any]:
    filters = StaffFilter(text=text)
    columns = _ranked("staff", StaffProfile.display_name, StaffProfile.title, "")
    return select(StaffProfile.id, *columns).where(*filters.conditions())


def _invoices(text: str) -> Select[Any]:
    filters = InvoiceFilter(text=text)
    org = aliased(ClientOrg)
    order = [Invoice.number.is_(None), Invoice.number.desc(), Invoice.created_at.desc()]
    columns = _ranked("invoices", org.name, Invoice.number, Invoice.status, order)
    return (
        select(Invoice.id, *columns)
        .join(org, and_(org.tenant_id == Invoice.tenant_id, org.id == Invoice.org_id))
        .where(*filters.conditions())
    )


def _groups(actor: Membership) -> list[tuple[Group, Callable[[str], Select[Any]]]]:
    """The kinds ``actor`` may search, in the order shown, each with its query."""
    groups: list[tuple[Group, Callable[[str], Select[Any]]]] = []
    if permissions.can_view_clients(actor):
        groups += [
            (Group("orgs", _("Client organisations"), "clients/", "clients/{id}"), _orgs),
            (Group("people", _("People"), "clients/people/", "clients/people/{id}"), _people),
        ]
    if permissions.can_work_on_agreements(actor):
        groups.append(
            (
                Group("agreements", _("Agreements"), "agreements/?status=all", "agreements/{id}"),
                lambda text: _agreements(text, actor),
            )
        )
    if permissions.can_view_staff(actor):
        groups.append((Group("staff", _("Staff"), "staff/", "staff/{id}"), _staff))
    if permissions.can_manage_billing(actor):
        groups.append(
            (
                Group("invoices", _("Invoices"), "billing/invoices", "billing/invoices/{id}"),
                _invoices,
            )
        )
    return groups


def _tag_label(kind: str, tag: str) -> str:
    if not tag:
        return ""
    if kind == "orgs":
        return _("Archived")
    if kind == "people":
        return PersonRole(tag).label
    if kind == "agreements":
        return AgreementStatus(tag).label
    if kind == "invoices":
        return InvoiceStatus(tag).label
    return tag


async def search_workspace(db: DB, actor: Membership, text: str) -> list[Group]:
    """The groups ``actor`` may search, each with its first hits for ``text``; one statement,
    none for an empty search."""
    groups = _groups(actor)
    if not search_words(text) or not groups:
        return [group for group, _query in groups]
    parts = [query(text).subquery() for _group, query in groups]
    # PER_KIND + 1 rows per kind: the extra one says that the kind's list has more.
    statement = union_all(
        *(select(part).where(part.c.position <= PER_KIND + 1) for part in parts)
    ).subquery()
    rows = await db.execute(select(statement).order_by(statement.c.kind, statement.c.position))
    by_kind = {group.kind: group for group, _query in groups}
    for row in rows:
        group = by_kind[row.kind]
        if row.position > PER_KIND:
            group.more = True
            continue
        group.hits.append(Hit(row.id, row.title, row.detail, _tag_label(row.kind, row.tag)))
    return [group for group, _query in groups]


@get("/search", name="search", guards=[requires(permissions.can_view_clients)])
async def search(request: Req, db: DB, ws: WS) -> Any:
    text = query_text(request, "q")
    groups = await search_workspace(db, ws.membership, text)
    context = {
        "ws": ws,
        "text": text,
        "groups": groups,
        "searched": bool(search_words(text)),
        "found": any(group.hits for group in groups),
    }
    return render(request, "firm/search.html", context, block="results")
