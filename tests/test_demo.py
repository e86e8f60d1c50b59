"""``luotsi demo``: a firm worth looking at, created once."""

from __future__ import annotations

from luotsi.demo import DEMO_SLUG, SUPERVISORS, load_demo
from luotsi.platform import clock
from luotsi.platform.db import make_sessionmaker, scope_to_tenant, unscoped_session
from luotsi.platform.tenancy import get_tenant_by_slug
from luotsi.tenants.directory.regions import places
from luotsi.tenants.directory.staff import StaffFilter, search_staff
from tests.conftest import Backend


async def test_demo_has_about_ten_supervisors_across_regions(clean_db: Backend) -> None:
    assert await load_demo(clean_db.settings) is True
    assert await load_demo(clean_db.settings) is False  # idempotent
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        tenant = await get_tenant_by_slug(db, DEMO_SLUG)
        await scope_to_tenant(db, tenant.id)
        public = await search_staff(db, StaffFilter(public=True), per_page=50)
        everyone = await search_staff(db, StaffFilter(), per_page=50)
        in_hameenlinna = await search_staff(
            db, StaffFilter(public=True, place=places().resolve("Hämeenlinna")), per_page=50
        )
    assert len(SUPERVISORS) >= 10
    # The inactive supervisor and the owner and admin (hidden) stay out of the directory.
    assert public.total == len(SUPERVISORS) - 1
    assert everyone.total == len(SUPERVISORS) + 2
    assert {p.display_name for p in in_hameenlinna.items} >= {"Aino Ohjaaja", "Ville Ohjaaja"}
    assert "Juha Järvinen" not in {p.display_name for p in in_hameenlinna.items}  # Lapland
    assert all(p.phone.startswith("+35840555") for p in public.items)
    assert len({s.name for p in public.items for s in p.specialties}) >= 8


async def test_demo_has_clients_agreements_and_a_year_of_sessions(clean_db: Backend) -> None:
    import holidays
    from sqlalchemy import select

    from luotsi.demo import AGREEMENTS, ORGS
    from luotsi.platform.i18n import HELSINKI
    from luotsi.tenants.agreements.models import Agreement, AgreementStatus
    from luotsi.tenants.clients.models import ClientOrg
    from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession

    await load_demo(clean_db.settings)
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        tenant = await get_tenant_by_slug(db, DEMO_SLUG)
        await scope_to_tenant(db, tenant.id)
        orgs = list(await db.scalars(select(ClientOrg)))
        agreements = list(await db.scalars(select(Agreement)))
        sessions = list(await db.scalars(select(SupervisionSession)))
    assert len(orgs) == len(ORGS) and len(agreements) == len(AGREEMENTS)
    assert {a.status for a in agreements} == set(AgreementStatus) - {AgreementStatus.PENDING}
    held = [s for s in sessions if s.status == SessionStatus.HELD]
    planned = [s for s in sessions if s.status == SessionStatus.PLANNED]
    assert len(held) > 30
    # Held sessions lie behind and planned ones ahead, for several agreements, on any weekday.
    assert all(s.starts_at < clock.now() for s in held)
    assert all(s.starts_at > clock.now() for s in planned)
    active = {a.id for a in agreements if a.status == AgreementStatus.ACTIVE}
    assert len({s.agreement_id for s in planned} & active) >= 2 and len(planned) >= 10
    span = max(s.starts_at for s in sessions) - min(s.starts_at for s in sessions)
    assert span.days > 365
    # The demo is dated from the day it is loaded: this week always has sessions.
    this_week = [s for s in sessions if abs((s.starts_at - clock.now()).days) <= 7]
    assert len(this_week) >= 3
    years = {s.starts_at.year for s in sessions}
    fi_holidays = holidays.country_holidays("FI", years=range(min(years), max(years) + 1))
    for session in sessions:
        local = session.starts_at.astimezone(HELSINKI)
        assert local.weekday() < 5 and local.date() not in fi_holidays
        assert local.minute == 0 and 8 <= local.hour <= 15  # whole hours, DST respected


async def test_demo_supervisee_has_content_to_look_at(clean_db: Backend) -> None:
    """Sari signs in to her portal and finds limits, goals with evaluations and an assignment;
    all of it encrypted and written through the content module."""
    from sqlalchemy import select

    from luotsi.demo import DEMO_SUPERVISEE
    from luotsi.platform.tenancy import Membership, Role
    from luotsi.tenants import content
    from luotsi.tenants.clients.models import ClientPerson
    from luotsi.tenants.portal.supervisee import own_view

    await load_demo(clean_db.settings)
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        tenant = await get_tenant_by_slug(db, DEMO_SLUG)
        await scope_to_tenant(db, tenant.id)
        person = await db.scalar(select(ClientPerson).where(ClientPerson.name == DEMO_SUPERVISEE))
        assert person is not None and person.membership_id is not None
        login = await db.scalar(select(Membership).where(Membership.id == person.membership_id))
        assert login is not None and login.role == Role.SUPERVISEE
        reader = content.Reader(login, clean_db.settings.content_keys)
        view = await own_view(db, login)
        shared = [line.agreement for line in view.agreements if line.agreement.kind == "individual"]
        assert shared
        limits = await content.read_limits(db, reader, shared[0].id)
        goals = await content.list_goals(db, reader, shared[0].id)
        assignments = await content.list_assignments(db, reader, shared[0].id)
        stored = list(await db.scalars(select(content.Goal.body)))
    assert limits is not None and "Esihenkilölle" in limits.text
    assert len(goals) == 2 and all(len(goal.evaluations) >= 3 for goal in goals)
    assert assignments and assignments[0].response_of(person.id) is not None
    assert all(b"Rajaan" not in body for body in stored)  # ciphertext at rest


async def test_demo_has_invoices_paid_overdue_and_credited(clean_db: Backend) -> None:
    """The demo firm invoiced its last whole months: issued invoices dated in the past, paid
    ones, an overdue one and one credited in full by a credit note."""
    from sqlalchemy import select

    from luotsi.billing.document import DocumentKind
    from luotsi.billing.models import Invoice, InvoiceStatus
    from luotsi.billing.payments import InvoiceState, states
    from luotsi.billing.profile import get_profile, missing_settings

    assert await load_demo(clean_db.settings) is True
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        tenant = await get_tenant_by_slug(db, DEMO_SLUG)
        await scope_to_tenant(db, tenant.id)
        profile = await get_profile(db)
        issued = list(
            await db.scalars(select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED))
        )
        found = await states(db, [invoice.id for invoice in issued])
    assert missing_settings(profile) == [] and profile.iban == "FI21 1234 5600 0007 85"
    invoices = [i for i in issued if i.kind == DocumentKind.INVOICE]
    notes = [i for i in issued if i.kind == DocumentKind.CREDIT_NOTE]
    assert len(invoices) >= 4 and len(notes) == 1
    assert all(i.issued_on is not None and i.issued_on < clock.today() for i in issued)
    assert len({i.issued_on for i in invoices}) >= 3  # spread over the months
    by_state = [found[i.id].state for i in invoices]
    assert by_state.count(InvoiceState.PAID) >= 2
    assert InvoiceState.OVERDUE in by_state and InvoiceState.CREDITED in by_state
    numbers = sorted(issued, key=lambda i: i.number or 0)
    assert [i.issued_on for i in numbers] == sorted(i.issued_on for i in numbers if i.issued_on)
    assert await load_demo(clean_db.settings) is False  # idempotent, billing included
