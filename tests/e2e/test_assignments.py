"""A supervisor sets an assignment, the supervisee responds, the supervisor reads the response;
the organisation's HR contact sees none of it anywhere in their portal."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from luotsi.demo import DEMO_CONTENT_SUPERVISOR, DEMO_DOMAIN, DEMO_PASSWORD, DEMO_SUPERVISEE
from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY
from luotsi.platform.identity import User, hash_password
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.agreements.models import Agreement, AgreementSupervisee
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from tests.e2e.conftest import sign_in

SUPERVISOR = f"{DEMO_CONTENT_SUPERVISOR}@{DEMO_DOMAIN}"
HR_EMAIL = "hr.e2e@asiakas.demo.luotsi.localhost"


def _arrange(database_url: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    """The demo supervisee's last held session with Ville, and a portal login for her
    organisation's HR contact (the demo gives HR contacts none)."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as db, db.begin():
            db.info[UNSCOPED_KEY] = True
            tenant = db.scalar(select(Tenant).where(Tenant.slug == "demo"))
            assert tenant is not None
            db.info[TENANT_KEY] = tenant.id
            sari = db.scalar(select(ClientPerson).where(ClientPerson.name == DEMO_SUPERVISEE))
            assert sari is not None
            session = db.scalar(
                select(SupervisionSession)
                .join(Agreement, Agreement.id == SupervisionSession.agreement_id)
                .join(AgreementSupervisee, AgreementSupervisee.agreement_id == Agreement.id)
                .where(
                    AgreementSupervisee.person_id == sari.id,
                    Agreement.kind == SupervisionKind.INDIVIDUAL,
                    SupervisionSession.status == SessionStatus.HELD,
                )
                .order_by(SupervisionSession.starts_at.desc())
                .limit(1)
            )
            assert session is not None
            agreement = db.scalar(select(Agreement).where(Agreement.id == session.agreement_id))
            assert agreement is not None and agreement.hr_contact_id is not None
            hr = db.scalar(select(ClientPerson).where(ClientPerson.id == agreement.hr_contact_id))
            assert hr is not None
            user = User(email=HR_EMAIL, name=hr.name, password_hash=hash_password(DEMO_PASSWORD))
            user.email_verified_at = clock.now()
            db.add(user)
            db.flush()
            login = Membership(user_id=user.id, role=Role.CLIENT_CONTACT)
            db.add(login)
            db.flush()
            hr.membership_id = login.id
            assert sari.email
            return session.id, agreement.id, sari.email
    finally:
        engine.dispose()


def test_an_assignment_goes_to_the_supervisee_and_back_and_never_to_hr(
    page: Page, browser: Browser, live_server: str, live_database_url: str
) -> None:
    base = live_server
    session_id, agreement_id, supervisee_email = _arrange(live_database_url)
    task = f"Kirjaa palautumisen hetket {uuid.uuid4().hex[:6]}"
    answer = f"Kävin kävelyllä joka päivä {uuid.uuid4().hex[:6]}"

    # The supervisor sets the assignment after the session.
    sign_in(page, base, SUPERVISOR)
    expect(page).to_have_url(base + "/t/demo/")
    session_url = f"{base}/t/demo/sessions/{session_id}"
    page.goto(session_url)
    form = page.locator("#assignment-form")
    form.get_by_label("The assignment").fill(task)
    form.get_by_role("button", name="Set the assignment").click()
    assignments = page.locator("#assignments")
    expect(assignments).to_contain_text(task)
    expect(assignments).to_contain_text("No response yet")

    # The supervisee finds it in her portal and responds.
    sari = browser.new_page()
    sign_in(sari, base, supervisee_email)
    expect(sari).to_have_url(re.compile(r"/t/demo/me/$"))
    # Her individual agreement with Ville (she is in a group too).
    sari.locator(f"a[href='/t/demo/me/agreements/{agreement_id}']").click()
    item = sari.locator("article", has_text=task)
    expect(item).to_have_count(1)
    item.get_by_label("Your response").fill(answer)
    item.get_by_label("Mark as done").check()
    item.get_by_role("button", name="Save").click()
    item = sari.locator("article", has_text=task)
    expect(item).to_contain_text("Your response has been saved.")
    expect(item).to_contain_text("Done")
    sari.close()

    # The supervisor reads the response on the session page.
    page.goto(session_url)
    response = page.locator("#assignments article", has_text=task)
    expect(response).to_contain_text(answer)
    expect(response).to_contain_text("Done")

    # The HR contact's portal shows the sessions, never the assignment or the response.
    hr = browser.new_page()
    sign_in(hr, base, HR_EMAIL)
    expect(hr).to_have_url(re.compile(r"/t/demo/portal/$"))
    # An agreement's session dates load when its "N sessions" is opened.
    sessions = hr.locator("#agreements details").first
    expect(sessions.locator("table")).to_have_count(0)
    sessions.locator("summary").click()
    expect(sessions.locator("table tbody tr").first).to_be_visible()
    seen = {hr.url}
    links = [
        href
        for href in hr.locator("a[href^='/t/demo/portal']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        if href
    ]
    for href in [*links, f"/t/demo/sessions/{session_id}"]:
        if base + href in seen:
            continue
        seen.add(base + href)
        hr.goto(base + href)
        body = hr.content()
        assert task not in body and answer not in body, href
    expect(hr.locator("body")).not_to_contain_text(task)
    assert len(seen) > 1  # the portal really was walked
    hr.close()
