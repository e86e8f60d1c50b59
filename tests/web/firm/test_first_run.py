"""A new firm's first run: the setup checklist on the dashboard, the owner who supervises
clients themself, and the firm's details after signup."""

from __future__ import annotations

import re

from sqlalchemy import select

from luotsi.billing.models import BillingProfile
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.tenancy import Role, Tenant
from luotsi.tenants.directory.models import FirmProfile
from tests.conftest import Backend, Client
from tests.factories import (
    Firms,
    add_client_org,
    add_invitation,
    add_member,
    add_specialty,
    make_firm,
    make_user,
)


async def _new_firm(backend: Backend) -> Tenant:
    """A firm just opened: its owner and nothing else."""
    tenant = await make_firm(backend.owner, "uusi", "Uusi Työnohjaus Oy", "2077474-0")
    owner = await make_user(backend.owner, "owner@uusi.example", "Ulla Uusi")
    await add_member(backend.owner, tenant, owner, Role.OWNER)
    return tenant


def _done_steps(html: str) -> set[str]:
    return set(re.findall(r'<li class="done" id="setup-([a-z_]+)"', html))


def _progress(html: str) -> str:
    match = re.search(r'<p id="setup-progress-text">([^<]*)</p>', html)
    assert match, "no checklist"
    return match.group(1)


async def _signed_in(client: Client, email: str) -> Client:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(email)
    return client


async def test_a_new_owner_sees_every_step_to_do_and_each_links_to_its_page(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _new_firm(clean_db)
    elsewhere = await _signed_in(Client(client.app), firms.a.supervisor.user.email)
    assert (await elsewhere.post("/t/alfa/calendar/feed")).status_code in (200, 303)
    await _signed_in(client, "owner@uusi.example")
    page = await client.get("/t/uusi/")
    assert page.status_code == 200
    # The other firms' organisations, agreements, sessions and feeds tick nothing here.
    assert _done_steps(page.text) == set()
    assert _progress(page.text) == "0 of 8 done"
    assert '<progress id="setup-progress" max="8" value="0"' in page.text
    for step, path in (
        ("billing", "billing/settings/"),
        ("public_page", "directory/"),
        ("specialties", "specialties/"),
        ("supervisors", "members/"),
        ("organisation", "clients/new"),
        ("agreement", "agreements/new"),
        ("sessions", "agreements/"),
        ("calendar_feed", "calendar/"),
    ):
        item = page.text.split(f'id="setup-{step}"', 1)[1].split("</li>", 1)[0]
        assert f'href="/t/uusi/{path}"' in item
        assert (await client.get(f"/t/uusi/{path}")).status_code == 200


async def test_steps_tick_themselves_from_the_firms_data(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    tenant = await _new_firm(clean_db)
    await _signed_in(client, "owner@uusi.example")
    await add_client_org(clean_db.owner, tenant, "Ensimmäinen Oy")
    await add_specialty(clean_db.owner, tenant, "Työyhteisösovittelu")
    await add_invitation(clean_db.owner, tenant, "ohjaaja@uusi.example", Role.SUPERVISOR)
    feed = await client.post("/t/uusi/calendar/feed")
    assert feed.status_code in (200, 303)
    page = await client.get("/t/uusi/")
    assert _done_steps(page.text) == {"organisation", "specialties", "supervisors", "calendar_feed"}
    assert _progress(page.text) == "4 of 8 done"


async def test_the_firm_with_everything_done_shows_no_checklist(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _signed_in(client, firms.a.owner.user.email)
    partly = await client.get("/t/alfa/")
    assert _done_steps(partly.text) == {
        "specialties",
        "supervisors",
        "organisation",
        "agreement",
        "sessions",
    }
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firms.a.tenant.id
        db.add(BillingProfile(iban="FI2112345600000785"))
        db.add(FirmProfile(description_fi="Työnohjausta Uudellamaalla."))
    await client.post("/t/alfa/calendar/feed")
    page = await client.get("/t/alfa/")
    assert page.status_code == 200
    assert 'id="setup"' not in page.text


async def test_only_owners_and_admins_see_the_checklist(client: Client, firms: Firms) -> None:
    admin = await _signed_in(client, firms.a.admin.user.email)
    assert "setup-progress" in (await admin.get("/t/alfa/")).text
    supervisor = await _signed_in(Client(client.app), firms.a.supervisor.user.email)
    page = await supervisor.get("/t/alfa/")
    assert page.status_code == 200 and 'id="setup"' not in page.text
    assert (await supervisor.post("/t/alfa/setup/dismiss")).status_code == 403


async def test_dismissing_puts_the_checklist_away_for_that_member_only(
    client: Client, firms: Firms
) -> None:
    owner = await _signed_in(client, firms.a.owner.user.email)
    without_token = await owner.client.post("/t/alfa/setup/dismiss")
    assert without_token.status_code == 403  # CSRF
    dismissed = await owner.post("/t/alfa/setup/dismiss")
    assert dismissed.status_code == 303 and dismissed.headers["location"] == "/t/alfa/"
    page = await owner.get("/t/alfa/")
    assert 'id="setup"' not in page.text
    assert "The setup checklist is put away" in page.text
    admin = await _signed_in(Client(client.app), firms.a.admin.user.email)
    assert 'id="setup"' in (await admin.get("/t/alfa/")).text


async def test_another_firms_member_cannot_dismiss_this_firms_checklist(
    client: Client, firms: Firms
) -> None:
    other = await _signed_in(client, firms.b.owner.user.email)
    assert (await other.post("/t/alfa/setup/dismiss")).status_code == 404
    owner = await _signed_in(Client(client.app), firms.a.owner.user.email)
    assert 'id="setup"' in (await owner.get("/t/alfa/")).text


# --- the owner who supervises clients -----------------------------------------------------


async def test_an_owner_who_supervises_is_chosen_as_a_supervisor_and_ticks_the_step(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await _new_firm(clean_db)
    owner = await _signed_in(client, "owner@uusi.example")
    page = await owner.get("/t/uusi/")
    assert "supervisors" not in _done_steps(page.text)
    edit = re.search(
        r'href="(/t/uusi/staff/[0-9a-f-]+/edit)">or supervise clients yourself', page.text
    )
    assert edit, page.text
    form = await owner.get(edit.group(1))
    assert "I supervise clients myself" in form.text
    nobody = await owner.get("/t/uusi/agreements/new")
    assert nobody.status_code == 200 and 'name="supervisor_ids"' not in nobody.text

    # A public profile alone does not make a supervisor of the owner.
    shown = await owner.post(
        edit.group(1), {"display_name": "Ulla Uusi", "active": "on", "visible": "on"}
    )
    assert shown.status_code == 303, shown.text
    assert "Ulla Uusi" not in (await Client(client.app).get("/f/uusi/")).text
    saved = await owner.post(
        edit.group(1),
        {"display_name": "Ulla Uusi", "supervises": "on", "active": "on", "visible": "on"},
    )
    assert saved.status_code == 303, saved.text
    assert "supervisors" in _done_steps((await owner.get("/t/uusi/")).text)
    choices = await owner.get("/t/uusi/agreements/new")
    assert re.search(r'name="supervisor_ids" value="[0-9a-f-]+" *> Ulla Uusi', choices.text)
    directory = await Client(client.app).get("/f/uusi/")
    assert "Ulla Uusi" in directory.text


async def test_an_owner_who_does_not_supervise_is_not_offered_as_supervisor(
    client: Client, firms: Firms
) -> None:
    owner = await _signed_in(client, firms.a.owner.user.email)
    page = await owner.get("/t/alfa/agreements/new")
    assert firms.a.supervisor.user.name in page.text
    assert f'value="{firms.a.owner.id}"' not in page.text
    assert f'value="{firms.a.supervisor.id}"' in page.text


async def test_a_supervisors_profile_form_has_no_supervises_choice(
    client: Client, firms: Firms
) -> None:
    supervisor = await _signed_in(client, firms.a.supervisor.user.email)
    form = await supervisor.get(f"/t/alfa/staff/{firms.a.profile.id}/edit")
    assert form.status_code == 200
    assert 'name="supervises"' not in form.text


# --- the firm's details -------------------------------------------------------------------


async def test_the_owner_renames_the_firm_and_corrects_its_business_id(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    owner = await _signed_in(client, firms.a.owner.user.email)
    page = await owner.get("/t/alfa/settings/firm/")
    assert page.status_code == 200
    assert 'value="Alfa Työnohjaus Oy"' in page.text and 'value="0737546-2"' in page.text
    assert 'href="/t/alfa/settings/firm/"' in (await owner.get("/t/alfa/settings/")).text

    saved = await owner.post(
        "/t/alfa/settings/firm/", {"firm_name": " Alfa Ohjaus Oy ", "business_id": "2077474 0"}
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/t/alfa/settings/"
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        tenant = await db.get(Tenant, firms.a.tenant.id)
        assert tenant is not None
        assert (tenant.name, tenant.business_id) == ("Alfa Ohjaus Oy", "2077474-0")
        events = list(
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.id, AuditEvent.action == "settings.changed"
                )
            )
        )
    assert [(e.object_type, e.object_id) for e in events] == [("tenant", tenant.id)]
    assert "Alfa Ohjaus Oy" in (await owner.get("/t/alfa/")).text


async def test_firm_details_are_refused_with_reasons(client: Client, firms: Firms) -> None:
    owner = await _signed_in(client, firms.a.owner.user.email)
    wrong = await owner.post(
        "/t/alfa/settings/firm/", {"firm_name": "", "business_id": "0737546-3"}, htmx=True
    )
    assert wrong.status_code == 422
    assert "Enter the firm&#39;s name." in wrong.text and "check digit" in wrong.text
    missing = await owner.post("/t/alfa/settings/firm/", {"firm_name": "A", "business_id": " "})
    assert missing.status_code == 422 and "Enter the firm&#39;s business ID." in missing.text
    long_name = await owner.post(
        "/t/alfa/settings/firm/", {"firm_name": "F" * 201, "business_id": "0737546-2"}
    )
    assert long_name.status_code == 422 and "200" in long_name.text


async def test_only_the_owner_edits_the_firms_details(client: Client, firms: Firms) -> None:
    for email in (firms.a.admin.user.email, firms.a.supervisor.user.email):
        member = await _signed_in(Client(client.app), email)
        assert (await member.get("/t/alfa/settings/firm/")).status_code == 403
        refused = await member.post(
            "/t/alfa/settings/firm/", {"firm_name": "Kaapattu", "business_id": "0737546-2"}
        )
        assert refused.status_code == 403
    other = await _signed_in(client, firms.b.owner.user.email)
    assert (await other.get("/t/alfa/settings/firm/")).status_code == 404
    refused = await other.post(
        "/t/alfa/settings/firm/", {"firm_name": "Kaapattu", "business_id": "0737546-2"}
    )
    assert refused.status_code == 404
    owner = await _signed_in(Client(client.app), firms.a.owner.user.email)
    assert "Alfa Työnohjaus Oy" in (await owner.get("/t/alfa/settings/firm/")).text
