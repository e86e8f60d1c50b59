"""Client organisations and people: what a record accepts, archive and delete rules, the HR
contact's binding to a portal login, and what the portal counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.identity import User
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, check_business_id
from luotsi.tenants.agreements import queries as agreement_queries
from luotsi.tenants.agreements import reviews as agreement_reviews
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.clients import billing_details, logins, organisations, people
from luotsi.tenants.clients.logins import PortalStatus
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.clients.organisations import OrgInput
from luotsi.tenants.clients.people import PersonInput
from luotsi.tenants.portal import hr as portal
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus
from tests import clock
from tests.conftest import Backend
from tests.factories import (
    Firms,
    add_agreement,
    add_client_org,
    add_member,
    add_person,
    add_session,
    make_user,
)


def _org(**changes: str) -> OrgInput:
    values = OrgInput(
        name="Hyvinkään kaupunki",
        business_id="0737546-2",
        org_type="municipality",
        billing_street="Kankurinkatu 4-6",
        billing_postal_code="05800",
        billing_city="Hyvinkää",
        einvoice_address="003707375462",
        einvoice_operator="003721291126",
        invoice_language="fi",
        payment_term_days="21",
    )
    for name, value in changes.items():
        setattr(values, name, value)
    return values


# --- what a record accepts ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["0737546-2", "07375462", " 0737546-2 "])
def test_business_id_is_stored_with_its_hyphen(raw: str) -> None:
    assert check_business_id(raw) == "0737546-2"


@pytest.mark.parametrize("raw", ["0737546-3", "1234567-8", "737546-2", "abc", "0" * 30])
def test_business_id_with_a_wrong_check_digit_is_refused(raw: str) -> None:
    with pytest.raises(Invalid) as exc:
        check_business_id(raw)
    assert "business_id" in exc.value.errors


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("003707375462", "003707375462"),
        ("0037 0737 5462 ab1", "003707375462AB1"),
        ("FI21 1234 5600 0007 85", "FI2112345600000785"),
        ("123456789012", "123456789012"),  # another EDI code, as the receiver gave it
    ],
)
def test_einvoice_addresses_in_their_forms(raw: str, stored: str) -> None:
    assert billing_details.check_einvoice_address(raw) == stored


@pytest.mark.parametrize(
    "raw",
    ["003707375463", "0037073754", "003707375462123456", "FI2112345600000786", "12345", "ÄÄÄ"],
)
def test_einvoice_address_with_a_wrong_business_id_or_shape_is_refused(raw: str) -> None:
    with pytest.raises(Invalid):
        billing_details.check_einvoice_address(raw)


def test_a_good_organisation_is_cleaned() -> None:
    clean = organisations.check_org(_org(name="  Hyvinkään   kaupunki ", business_id="07375462"))
    assert clean["name"] == "Hyvinkään kaupunki"
    assert clean["business_id"] == "0737546-2"
    assert clean["payment_term_days"] == 21
    assert clean["einvoice_operator"] == "003721291126"


def test_every_problem_of_an_organisation_is_reported_at_once() -> None:
    with pytest.raises(Invalid) as exc:
        organisations.check_org(
            _org(
                name=" ",
                business_id="1234567-8",
                org_type="castle",
                billing_postal_code="580",
                einvoice_operator="",
                invoice_email="not-an-address",
                invoice_language="de",
                payment_term_days="121",
            )
        )
    assert set(exc.value.errors) == {
        "name",
        "business_id",
        "org_type",
        "billing_postal_code",
        "einvoice_operator",
        "invoice_email",
        "invoice_language",
        "payment_term_days",
    }


@pytest.mark.parametrize("term", ["-1", "121", "abc", "", "1.5", "99999999999999999999", "١٤"])
def test_payment_term_must_be_whole_days_from_0_to_120(term: str) -> None:
    with pytest.raises(Invalid) as exc:
        organisations.check_org(_org(payment_term_days=term))
    assert list(exc.value.errors) == ["payment_term_days"]


def test_a_billing_address_is_all_or_nothing() -> None:
    with pytest.raises(Invalid) as exc:
        organisations.check_org(_org(billing_street="", billing_city=""))
    assert set(exc.value.errors) == {"billing_street", "billing_city"}
    empty = organisations.check_org(
        _org(
            billing_street="",
            billing_postal_code="",
            billing_city="",
            einvoice_address="",
            einvoice_operator="",
        )
    )
    assert empty["billing_street"] == empty["einvoice_address"] == ""


def test_an_operator_without_an_address_is_refused() -> None:
    with pytest.raises(Invalid) as exc:
        organisations.check_org(_org(einvoice_address=""))
    assert list(exc.value.errors) == ["einvoice_address"]


# --- organisations and people ---------------------------------------------------------------


async def test_only_owners_and_admins_change_organisations(db: AsyncSession, firms: Firms) -> None:
    async with db.begin():
        with pytest.raises(Forbidden):
            await organisations.create_org(db, firms.a.supervisor, _org())
        org = await organisations.create_org(db, firms.a.admin, _org())
    assert org.business_id == "0737546-2" and org.tenant_id == firms.a.tenant.id


async def test_an_organisation_with_agreements_is_archived_not_deleted(
    db: AsyncSession, firms: Firms
) -> None:
    async with db.begin():
        with pytest.raises(Invalid) as refused:
            await organisations.delete_org(db, firms.a.owner, firms.a.org.id)
        assert "delete" in refused.value.errors
        # It cannot be archived either while its agreement is in force.
        with pytest.raises(Invalid):
            await organisations.archive_org(db, firms.a.owner, firms.a.org.id)


async def test_an_organisation_without_history_is_deleted_with_its_people_and_logins(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    org = await add_client_org(clean_db.owner, firms.a.tenant, "Uusi Oy")
    user = await make_user(clean_db.owner, "uusi.hr@example.fi", "Uusi HR")
    login = await add_member(clean_db.owner, firms.a.tenant, user, Role.CLIENT_CONTACT)
    await add_person(
        clean_db.owner,
        firms.a.tenant,
        org,
        PersonRole.HR_CONTACT,
        "Uusi HR",
        membership_id=login.id,
    )
    async with db.begin():
        await organisations.delete_org(db, firms.a.owner, org.id)
    async with db.begin():
        assert await db.scalar(select(ClientOrg).where(ClientOrg.id == org.id)) is None
        assert await db.scalar(select(ClientPerson).where(ClientPerson.org_id == org.id)) is None
        # The login ends; a membership is deactivated, never deleted.
        ended = await db.scalar(select(Membership).where(Membership.id == login.id))
        assert ended is not None and ended.deactivated_at is not None


async def test_a_person_on_an_agreement_is_archived_not_deleted(
    db: AsyncSession, firms: Firms
) -> None:
    async with db.begin():
        with pytest.raises(Invalid):
            await people.delete_person(db, firms.a.owner, firms.a.supervisee.id)
        person = await people.archive_person(db, firms.a.owner, firms.a.supervisee.id)
        assert person.is_archived
        current, archived = await organisations.people_by_role(db, firms.a.org.id)
        assert archived == [person] and person not in current[PersonRole.SUPERVISEE]
        await people.unarchive_person(db, firms.a.owner, person.id)
        assert not person.is_archived


async def test_a_persons_role_is_fixed_once_on_an_agreement(db: AsyncSession, firms: Firms) -> None:
    async with db.begin():
        change = PersonInput.of(firms.a.supervisee)
        change.role = PersonRole.MANAGER.value
        with pytest.raises(Invalid) as exc:
            await people.update_person(db, firms.a.owner, firms.a.supervisee.id, change)
        assert "role" in exc.value.errors
        fresh = await organisations.create_person(
            db, firms.a.owner, firms.a.org.id, PersonInput(role="supervisee", name="Uusi")
        )
        moved = await people.update_person(
            db, firms.a.owner, fresh.id, PersonInput(role="manager", name="Uusi")
        )
        assert moved.role == PersonRole.MANAGER


async def test_a_supervisor_sees_only_their_own_agreements_of_an_organisation(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    other = await add_agreement(
        clean_db.owner, firms.a.tenant, firms.a.org, firms.a.admin, [firms.a.supervisee]
    )
    async with db.begin():
        own = await agreement_queries.org_agreements(db, firms.a.supervisor, firms.a.org.id)
        every = await agreement_queries.org_agreements(db, firms.a.owner, firms.a.org.id)
    assert [a.id for a in own] == [firms.a.agreement.id]
    assert {a.id for a in every} == {firms.a.agreement.id, other.id}


# --- the portal login -----------------------------------------------------------------------


async def _accept(db: AsyncSession, invitation: Invitation, user: User) -> Membership:
    """What the join link does: a client_contact membership for the invited account."""
    login = Membership(user_id=user.id, role=Role.CLIENT_CONTACT)
    db.add(login)
    invitation.accepted_at, invitation.user_id = clock.now(), user.id
    await db.flush()
    return login


async def test_an_accepted_invitation_binds_the_login_to_its_hr_contact(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    user = await make_user(clean_db.owner, "hr@alfa-client.example", "Hanna HR")
    async with db.begin():
        invitation = await logins.invite_hr_contact(
            db, firms.a.owner, firms.a.tenant, firms.a.hr_contact.id, base_url="https://x"
        )
        person = await people.get_person(db, firms.a.owner, firms.a.hr_contact.id)
        assert (await logins.portal_access(db, person)).status == PortalStatus.INVITED
        login = await _accept(db, invitation, user)
        bound = await portal.contact_person(db, login)
    assert bound.id == firms.a.hr_contact.id
    assert bound.membership_id == login.id and bound.invitation_id is None


async def test_only_hr_contacts_with_an_address_are_invited(db: AsyncSession, firms: Firms) -> None:
    async with db.begin():
        with pytest.raises(Invalid):
            await logins.invite_hr_contact(
                db, firms.a.owner, firms.a.tenant, firms.a.manager.id, base_url="https://x"
            )
        with pytest.raises(Forbidden):
            await logins.invite_hr_contact(
                db, firms.a.supervisor, firms.a.tenant, firms.a.hr_contact.id, base_url="x"
            )
        no_email = await organisations.create_person(
            db, firms.a.owner, firms.a.org.id, PersonInput(role="hr_contact", name="Ei Postia")
        )
        with pytest.raises(Invalid) as exc:
            await logins.invite_hr_contact(
                db, firms.a.owner, firms.a.tenant, no_email.id, base_url="https://x"
            )
        assert "invite" in exc.value.errors


async def test_a_login_without_a_current_person_gets_no_portal(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    user = await make_user(clean_db.owner, "loose@example.fi", "Irrallinen")
    loose = await add_member(clean_db.owner, firms.a.tenant, user, Role.CLIENT_CONTACT)
    async with db.begin():
        with pytest.raises(Forbidden):
            await portal.contact_person(db, loose)
        with pytest.raises(Forbidden):  # staff are not HR contacts
            await portal.contact_person(db, firms.a.owner)


# --- what the portal counts -----------------------------------------------------------------


def _agreement(**fields: object) -> Agreement:
    values: dict[str, object] = {
        "start_date": date(2026, 9, 1),
        "end_date": date(2027, 8, 31),
        "review_interval_months": 6,
        "status": AgreementStatus.ACTIVE,
    }
    values.update(fields)
    return Agreement(**values)


def test_next_review_is_due_the_interval_after_the_last_review_or_the_start() -> None:
    assert agreement_reviews.running_review_due(_agreement(), None) == date(2027, 3, 1)
    assert agreement_reviews.running_review_due(_agreement(), date(2026, 11, 2)) == date(2027, 5, 2)
    # Month ends are kept by relativedelta: 31 August + 6 months is 28/29 February.
    later = _agreement(start_date=date(2026, 8, 31), end_date=date(2028, 8, 31))
    assert agreement_reviews.running_review_due(later, None) == date(2027, 2, 28)


def test_next_review_is_at_the_latest_on_the_end_date_and_none_once_ended() -> None:
    assert agreement_reviews.running_review_due(_agreement(), date(2027, 5, 1)) == date(2027, 8, 31)
    assert (
        agreement_reviews.running_review_due(_agreement(status=AgreementStatus.ENDED), None) is None
    )


async def test_the_portal_counts_used_planned_and_remaining_sessions(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    a, engine = firms.a, clean_db.owner

    async def session(days_ago: int, **fields: object) -> None:
        starts_at = clock.at(clock.days(-days_ago))  # the agreement started 91 days ago
        await add_session(
            engine, a.tenant, a.agreement, a.supervisor, starts_at=starts_at, **fields
        )

    await session(63, status=SessionStatus.HELD, billable=True)
    await session(56, status=SessionStatus.HELD)
    await session(
        49, status=SessionStatus.CANCELLED_BY_CLIENT, billable=True, late_cancellation=True
    )
    await session(42, status=SessionStatus.CANCELLED_BY_SUPERVISOR)
    await session(35, status=SessionStatus.NO_SHOW, billable=True)
    # An evaluation meeting is not a supervision session, and not the HR contact's business.
    await session(34, kind=MeetingKind.EVALUATION)
    async with db.begin():
        view = await portal.portal_view(db, a.org)
    [item] = view.agreements.items
    assert (item.held, item.planned, item.cancelled) == (2, 1, 2)  # the fixture's own is planned
    assert item.used == 4  # two held, a late cancellation, a no-show
    assert item.remaining == 15 - 4
    assert item.supervisors == ["Maija Supervisor"] and item.supervisees == ["Sanna Supervisee"]
    assert item.sessions == 6  # the evaluation meeting aside
    async with db.begin():
        agreement, lines = await portal.agreement_sessions(db, a.org, a.agreement.id)
    assert agreement.id == a.agreement.id
    assert [line.status for line in lines] == [
        SessionStatus.HELD,
        SessionStatus.HELD,
        SessionStatus.CANCELLED_BY_CLIENT,
        SessionStatus.CANCELLED_BY_SUPERVISOR,
        SessionStatus.NO_SHOW,
        SessionStatus.PLANNED,
    ]


async def test_the_portals_next_review_is_the_kept_date_and_a_review_moves_it(
    db: AsyncSession, firms: Firms
) -> None:
    a = firms.a

    async def shown() -> tuple[portal.AgreementSummary, portal.ReviewDue]:
        async with db.begin():
            view = await portal.portal_view(db, a.org)
        [item] = view.agreements.items
        [review] = view.reviews
        assert view.reviews_total == 1 and review.agreement is item.agreement
        return item, review

    item, review = await shown()
    due = agreement_reviews.running_review_due(item.agreement, a.review.held_on)
    assert item.next_review_on == review.next_review_on == due
    assert review.last_review_on == a.review.held_on
    held_on = clock.days(-3)
    async with db.begin():
        await agreement_reviews.record_review(
            db,
            a.supervisor,
            a.agreement.id,
            agreement_reviews.ReviewInput(held_on=clock.fi(held_on)),
        )
    item, review = await shown()
    due = agreement_reviews.running_review_due(item.agreement, held_on)
    assert due == held_on + relativedelta(months=6)
    assert item.next_review_on == review.next_review_on == due
    assert review.last_review_on == held_on
    assert not item.review_overdue(clock.today()) and item.review_overdue(due + timedelta(days=1))


async def test_the_portal_leaves_out_drafts_and_other_organisations(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    a, engine = firms.a, clean_db.owner
    draft = AgreementStatus.DRAFT
    await add_agreement(engine, a.tenant, a.org, a.supervisor, [a.supervisee], status=draft)
    other = await add_client_org(engine, a.tenant, "Toinen Oy")
    await add_agreement(engine, a.tenant, other, a.supervisor, [])
    async with db.begin():
        view = await portal.portal_view(db, a.org)
    assert [item.agreement.id for item in view.agreements.items] == [a.agreement.id]
    assert [review.agreement.id for review in view.reviews] == [a.agreement.id]
