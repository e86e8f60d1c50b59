"""The staff pages of an agreement's confidential content: assignments and notes on the session
page; limits of confidentiality, goals, evaluations and handing notes over on the agreement page.
Only the agreement's own supervisors (a note: its keeper) see or change any of it."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import select, text, update

from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent
from luotsi.platform.clock import HELSINKI
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.agreements.models import Agreement, AgreementSupervisee, AgreementSupervisor
from luotsi.tenants.clients.models import ClientPerson, PersonRole
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import (
    Content,
    Firm,
    Firms,
    add_content,
    add_member,
    add_person,
    add_session,
    evaluation_day,
    make_user,
)
from tests.web.content.test_notes import hr_contact_login, other_supervisor

CONTENT_TABLES = (
    "session_notes",
    "assignments",
    "assignment_responses",
    "goals",
    "evaluations",
    "confidentiality_limits",
)


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


def session_url(firm: Firm, session: SupervisionSession | None = None) -> str:
    return f"/t/{firm.slug}/sessions/{(session or firm.session).id}"


def agreement_url(firm: Firm) -> str:
    return f"/t/{firm.slug}/agreements/{firm.agreement.id}"


def after_session(firm: Firm, days: int) -> date:
    """The day ``days`` after the fixture session's day (before it when negative)."""
    return firm.session.starts_at.astimezone(HELSINKI).date() + timedelta(days=days)


def en_date(day: date) -> str:
    """A day as the English pages write it, with the month's name: 2 Nov 2026."""
    return format_date(day, "medium", locale="en_FI")


async def column(backend: Backend, sql: str, **params: Any) -> list[Any]:
    """The first column of a query as the schema owner (arranging and inspecting only)."""
    async with backend.owner.connect() as conn:
        return [row[0] for row in await conn.execute(text(sql), params)]


async def counts(backend: Backend) -> dict[str, int]:
    return {t: len(await column(backend, f"select id from {t}")) for t in CONTENT_TABLES}


async def audit_rows(backend: Backend, action: str) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        return list(await db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def as_supervisor(client: Client, firm: Firm) -> Client:
    await client.login(firm.supervisor.user.email)
    return client


async def supervisor_on_agreement(backend: Backend, firm: Firm) -> Membership:
    """A second supervisor of the firm, added to the agreement."""
    user = await make_user(backend.owner, f"toinen@{firm.slug}.example", "Toini Toinen")
    member = await add_member(backend.owner, firm.tenant, user, Role.SUPERVISOR)
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        db.add(AgreementSupervisor(agreement_id=firm.agreement.id, membership_id=member.id))
    return member


async def second_supervisee(backend: Backend, firm: Firm) -> ClientPerson:
    """Make the agreement a group's: a second supervisee joins it."""
    person = await add_person(
        backend.owner, firm.tenant, firm.org, PersonRole.SUPERVISEE, "Aapo Another"
    )
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        db.add(AgreementSupervisee(agreement_id=firm.agreement.id, person_id=person.id))
    return person


async def past_session(backend: Backend, firm: Firm) -> SupervisionSession:
    return await add_session(
        backend.owner,
        firm.tenant,
        firm.agreement,
        firm.supervisor,
        starts_at=clock.at(clock.days(-28)),
        status=SessionStatus.HELD,
    )


# --- assignments on the session page ----------------------------------------------------------


async def test_supervisor_sets_an_assignment_and_sees_it_on_the_session_page(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    due = after_session(a, 17)
    await as_supervisor(client, a)
    before = (await client.get(session_url(a))).text
    assert 'id="assignments"' in before and "No assignments have been set" in before

    response = await client.post(
        f"{session_url(a)}/assignments",
        {"text": "Kirjoita havainnot.\r\n\r\nToinen kappale", "due_on": due.isoformat()},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{session_url(a)}#assignments"

    page = (await client.get(session_url(a))).text
    assert "The assignment has been set." in page
    assert "<p>Kirjoita havainnot.</p><p>Toinen kappale</p>" in page
    assert f"Due {en_date(due)}" in page
    assert "For the supervisee" in page
    assert "Sanna Supervisee</strong>:" in page and "No response yet" in page


async def test_empty_due_date_means_the_next_planned_session(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    next_day = after_session(a, 14)
    await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(next_day)
    )
    await as_supervisor(client, a)
    page = (await client.get(session_url(a))).text
    assert "Leave it empty to use the day of the next planned session" in page

    await client.post(f"{session_url(a)}/assignments", {"text": "Tehtävä", "due_on": ""})
    assert await column(clean_db, "select due_on from assignments") in (
        [next_day],
        [next_day.isoformat()],  # SQLite hands the date back as text
    )
    assert f"Due {en_date(next_day)}" in (await client.get(session_url(a))).text


async def test_htmx_assignment_form_swaps_only_its_section(client: Client, firms: Firms) -> None:
    a = firms.a
    await as_supervisor(client, a)
    response = await client.post(
        f"{session_url(a)}/assignments", {"text": "htmx-tehtävä"}, htmx=True
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section class="card wide" id="assignments"')
    assert "htmx-tehtävä" in response.text and "The assignment has been set." in response.text
    assert "session-history" not in response.text and 'id="my-notes"' not in response.text


@pytest.mark.parametrize("htmx", [False, True])
async def test_assignment_without_text_is_refused_and_nothing_saved(
    client: Client, firms: Firms, clean_db: Backend, htmx: bool
) -> None:
    a = firms.a
    due = after_session(a, 17).isoformat()
    await as_supervisor(client, a)
    response = await client.post(
        f"{session_url(a)}/assignments", {"text": "  ", "due_on": due}, htmx=htmx
    )
    assert response.status_code == 422
    assert "Write the text first." in response.text
    assert f'value="{due}"' in response.text  # what was typed stays
    assert (await counts(clean_db))["assignments"] == 0


async def test_due_date_before_the_session_is_refused(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await as_supervisor(client, a)
    response = await client.post(
        f"{session_url(a)}/assignments",
        {"text": "Tehtävä", "due_on": clock.fi(after_session(a, -2))},
    )
    assert response.status_code == 422
    assert "The due date cannot be before the session." in response.text
    assert (await counts(clean_db))["assignments"] == 0


async def test_supervisor_edits_an_assignment(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{session_url(a)}/assignments/{c.assignment_id}/edit"
    due = after_session(a, 28)
    response = await client.post(url, {"text": "Uusi teksti", "due_on": due.isoformat()})
    assert response.status_code == 303
    assert response.headers["location"] == f"{session_url(a)}#assignment-{c.assignment_id}"
    page = (await client.get(session_url(a))).text
    assert "<p>Uusi teksti</p>" in page and f"Välitehtävä {c.marker}" not in page
    assert f"Due {en_date(due)}" in page and "The assignment has been saved." in page


async def test_editing_an_assignment_checks_the_due_date(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{session_url(a)}/assignments/{c.assignment_id}/edit"
    for due_on, message in (
        ("", "Choose the due date."),
        ("someday", "Enter the due date, e.g. 17.12.2026."),
        (after_session(a, -32).isoformat(), "The due date cannot be before the session."),
    ):
        response = await client.post(url, {"text": "Muutettu", "due_on": due_on})
        assert response.status_code == 422, due_on
        assert message in response.text
        assert f"Välitehtävä {c.marker}" in response.text  # the list is still there
    assert "Muutettu</p>" not in (await client.get(session_url(a))).text


async def test_supervisor_sees_the_supervisees_response_and_that_it_is_done(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    page = (await client.get(session_url(a))).text
    assert f"<p>Välitehtävä {c.marker}</p>" in page
    assert f"<p>Vastaus {c.marker}</p>" in page
    assert "Done " in page and "No response yet" not in page


async def test_deleting_an_assignment_asks_first_and_takes_its_responses(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{session_url(a)}/assignments/{c.assignment_id}/delete"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert f"Välitehtävä {c.marker}" in confirm.text
    assert "The response written to it is deleted with it." in confirm.text
    assert f'action="{url}"' in confirm.text
    assert (await counts(clean_db))["assignments"] == 1  # asking changes nothing

    response = await client.post(url)
    assert response.status_code == 303
    assert (await counts(clean_db))["assignments"] == 0
    assert (await counts(clean_db))["assignment_responses"] == 0
    page = (await client.get(session_url(a))).text
    assert f"Välitehtävä {c.marker}" not in page and f"Vastaus {c.marker}" not in page
    assert "The assignment has been deleted." in page


async def test_group_assignment_can_be_set_for_one_supervisee(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    aapo = await second_supervisee(clean_db, a)
    await as_supervisor(client, a)
    page = (await client.get(session_url(a))).text
    assert 'name="person"' in page and "Everyone in the group" in page

    await client.post(f"{session_url(a)}/assignments", {"text": "Yhteinen", "person": ""})
    await client.post(f"{session_url(a)}/assignments", {"text": "Oma", "person": str(aapo.id)})
    assert await column(clean_db, "select person_id from assignments where person_id is null")
    page = (await client.get(session_url(a))).text
    assert "For everyone in the group" in page and "For Aapo Another" in page

    odd = await client.post(f"{session_url(a)}/assignments", {"text": "X", "person": "nobody"})
    assert odd.status_code == 422 and "Choose a supervisee of this agreement." in odd.text


# --- the supervisor's notes: edit and delete -------------------------------------------------


async def test_supervisor_edits_a_note(client: Client, firms: Firms, clean_db: Backend) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{session_url(a)}/notes/{c.note_id}/edit"
    response = await client.post(url, {"text": "Korjattu muistiinpano"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{session_url(a)}#note-{c.note_id}"
    page = (await client.get(session_url(a))).text
    assert '<p class="client-notes">Korjattu muistiinpano</p>' in page
    assert f"Muistiinpano {c.marker}" not in page and "edited " in page

    refused = await client.post(url, {"text": " "}, htmx=True)
    assert refused.status_code == 422 and "Write the note first." in refused.text
    assert refused.text.lstrip().startswith('<section class="card wide" id="my-notes"')


async def test_deleting_a_note_asks_first(client: Client, firms: Firms, clean_db: Backend) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{session_url(a)}/notes/{c.note_id}/delete"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert f"Muistiinpano {c.marker}" in confirm.text and "Delete this note?" in confirm.text
    assert (await counts(clean_db))["session_notes"] == 1

    response = await client.post(url)
    assert response.status_code == 303
    assert (await counts(clean_db))["session_notes"] == 0
    assert [r.object_id for r in await audit_rows(clean_db, audit.CONTENT_DELETED)] == [c.note_id]


async def test_a_note_is_addressed_through_its_own_session(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    other = await past_session(clean_db, a)
    await as_supervisor(client, a)
    wrong = f"{session_url(a, other)}/notes/{c.note_id}"
    assert (await client.get(f"{wrong}/delete")).status_code == 404
    assert (await client.post(f"{wrong}/edit", {"text": "väärä"})).status_code == 404
    assert (await counts(clean_db))["session_notes"] == 1


# --- limits of confidentiality ----------------------------------------------------------------


async def test_supervisor_writes_the_limits_of_confidentiality(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await as_supervisor(client, a)
    page = (await client.get(agreement_url(a))).text
    assert "Limits of confidentiality" in page
    assert "have not been written down yet" in page

    response = await client.post(
        f"{agreement_url(a)}/limits", {"text": "Kaikki jää meidän väliin.\n\nPaitsi vaara."}
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{agreement_url(a)}#limits"
    page = (await client.get(agreement_url(a))).text
    assert "<p>Kaikki jää meidän väliin.</p><p>Paitsi vaara.</p>" in page
    assert "The limits of confidentiality have been saved." in page

    refused = await client.post(f"{agreement_url(a)}/limits", {"text": ""}, htmx=True)
    assert refused.status_code == 422 and "Write the text first." in refused.text
    assert refused.text.lstrip().startswith('<section class="card wide" id="supervision-content"')
    assert (await counts(clean_db))["confidentiality_limits"] == 1


# --- goals ------------------------------------------------------------------------------------


async def test_supervisor_adds_goals_of_both_kinds(client: Client, firms: Firms) -> None:
    a = firms.a
    await as_supervisor(client, a)
    first = await client.post(
        f"{agreement_url(a)}/goals", {"source": "organisation", "text": "Yhteinen tavoite"}
    )
    assert first.status_code == 303 and "#goal-" in first.headers["location"]
    await client.post(f"{agreement_url(a)}/goals", {"source": "own", "text": "Oma tavoite"})
    page = (await client.get(agreement_url(a))).text
    assert "<p>Yhteinen tavoite</p>" in page and "<p>Oma tavoite</p>" in page
    assert "Organisation&#39;s goal" in page and "Own goal" in page
    assert page.index("Yhteinen tavoite") < page.index("Oma tavoite")  # organisation's first

    refused = await client.post(f"{agreement_url(a)}/goals", {"source": "", "text": "x"})
    assert refused.status_code == 422 and "Choose whose goal it is." in refused.text


async def test_own_goal_in_a_group_names_its_supervisee(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    aapo = await second_supervisee(clean_db, a)
    await as_supervisor(client, a)
    refused = await client.post(f"{agreement_url(a)}/goals", {"source": "own", "text": "Kenen?"})
    assert refused.status_code == 422 and "Choose whose goal it is." in refused.text
    assert (await counts(clean_db))["goals"] == 0

    saved = await client.post(
        f"{agreement_url(a)}/goals", {"source": "own", "text": "Aapon", "person": str(aapo.id)}
    )
    assert saved.status_code == 303
    page = (await client.get(agreement_url(a))).text
    assert re.search(r"Own goal</span>\s*<span>Aapo Another</span>", page)


async def test_supervisor_revises_a_goal(client: Client, firms: Firms, clean_db: Backend) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{agreement_url(a)}/goals/{c.goal_id}/revise"
    response = await client.post(url, {"text": "Tarkennettu tavoite"})
    assert response.status_code == 303
    page = (await client.get(agreement_url(a))).text
    assert "<p>Tarkennettu tavoite</p>" in page and f"Oma tavoite {c.marker}" not in page
    assert f"Arvio {c.marker}" in page  # its evaluation stays with it


async def test_unevaluated_goal_is_deleted_after_confirmation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{agreement_url(a)}/goals/{c.org_goal_id}/delete"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert "Delete this goal?" in confirm.text and f"Tavoite {c.marker}" in confirm.text
    assert (await counts(clean_db))["goals"] == 2

    response = await client.post(url)
    assert response.status_code == 303
    assert (await counts(clean_db))["goals"] == 1
    assert "The goal has been deleted." in (await client.get(agreement_url(a))).text


async def test_evaluated_goal_refuses_to_be_deleted_with_a_clear_message(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{agreement_url(a)}/goals/{c.goal_id}/delete"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert "This goal cannot be deleted" in confirm.text
    assert "An evaluated goal stays; revise its text instead." in confirm.text
    assert f'action="{url}"' not in confirm.text  # nothing to confirm

    response = await client.post(url)
    assert response.status_code == 422
    assert "An evaluated goal stays; revise its text instead." in response.text
    assert (await counts(clean_db))["goals"] == 2


# --- evaluations ------------------------------------------------------------------------------


async def test_supervisor_records_an_evaluation_and_sees_the_history_and_chart(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    meeting = await past_session(clean_db, a)
    await as_supervisor(client, a)
    form = (await client.get(agreement_url(a))).text
    today = clock.today()
    evaluated_on = clock.days(-27)
    assert 'name="rating" value="5"' in form and "5 · Reached" in form
    assert f'value="{meeting.id}"' in form  # the meetings held so far
    assert f'value="{a.session.id}"' not in form  # not a meeting still to come

    response = await client.post(
        f"{agreement_url(a)}/goals/{c.goal_id}/evaluations",
        {
            "rating": "4",
            "comment": "Edistynyt hyvin",
            "evaluated_on": evaluated_on.isoformat(),
            "session": str(meeting.id),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{agreement_url(a)}#goal-{c.goal_id}"
    page = (await client.get(agreement_url(a))).text
    assert "The evaluation has been recorded." in page
    goal = page[page.index(f'id="goal-{c.goal_id}"') :]
    goal = goal[: goal.index("</article>")]
    assert "4/5 · Nearly reached" in goal and "Edistynyt hyvin" in goal
    assert "3/5 · Halfway there" in goal and f"Arvio {c.marker}" in goal
    assert f'href="/t/{a.slug}/sessions/{meeting.id}"' in goal
    assert '<svg class="progress-chart"' in goal
    assert goal.count('<circle class="point"') == 2
    assert '<polyline class="line"' in goal
    chart = f"{en_date(evaluation_day())}: 3/5; {en_date(evaluated_on)}: 4/5"
    assert chart in goal  # the chart's own description
    assert f'value="{today.isoformat()}"' in form  # the date defaults to today


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"rating": "0"}, "rating", "Choose a rating from 1 to 5."),
        ({"rating": "6"}, "rating", "Choose a rating from 1 to 5."),
        ({"rating": ""}, "rating", "Choose a rating from 1 to 5."),
        ({"evaluated_on": "2099-01-01"}, "evaluated_on", "cannot be dated in the future."),
        ({"evaluated_on": "eilen"}, "evaluated_on", "Enter the date of the evaluation"),
        ({"session": "nonsense"}, "session", "Choose a meeting of this agreement."),
        ({"session": str(uuid.uuid4())}, "session", "Choose a meeting of this agreement."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
async def test_refused_evaluation_says_why_and_saves_nothing(
    client: Client,
    firms: Firms,
    clean_db: Backend,
    values: dict[str, str],
    field: str,
    message: str,
    htmx: bool,
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    form = {
        "rating": "3",
        "comment": "Kommentti 42",
        "evaluated_on": clock.days(-24).isoformat(),
        "session": "",
    }
    response = await client.post(
        f"{agreement_url(a)}/goals/{c.goal_id}/evaluations", form | values, htmx=htmx
    )
    assert response.status_code == 422
    assert message in response.text
    assert f'name="{field}"' in response.text
    assert "Kommentti 42" in response.text  # what was typed stays
    assert '<details class="content-details" open>' in response.text.replace("  ", " ")
    assert (await counts(clean_db))["evaluations"] == 1


async def test_evaluation_is_deleted_after_confirmation(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    url = f"{agreement_url(a)}/evaluations/{c.evaluation_id}/delete"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert "Delete this evaluation?" in confirm.text and f"Arvio {c.marker}" in confirm.text
    assert "3/5 · Halfway there" in confirm.text and "Sanna Supervisee" in confirm.text

    response = await client.post(url)
    assert response.status_code == 303
    assert (await counts(clean_db))["evaluations"] == 0
    page = (await client.get(agreement_url(a))).text
    assert f"Arvio {c.marker}" not in page and "The evaluation has been deleted." in page


# --- handing notes over -----------------------------------------------------------------------


async def test_handing_notes_over_moves_them_to_the_recipient(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    toini = await supervisor_on_agreement(clean_db, a)
    await as_supervisor(client, a)
    page = (await client.get(agreement_url(a))).text
    assert "You keep 1 session note on this agreement." in page
    assert f'<option value="{toini.id}"' in page and "Toini Toinen" in page

    url = f"{agreement_url(a)}/notes/hand-over"
    confirm = await client.post(url, {"recipient": str(toini.id)})
    assert confirm.status_code == 200
    assert "Hand over your 1 note to Toini Toinen?" in confirm.text
    assert "becomes their keeper" in confirm.text and "You stop seeing them" in confirm.text
    assert await audit_rows(clean_db, audit.CONTENT_HANDED_OVER) == []  # asking moved nothing

    done = await client.post(url, {"recipient": str(toini.id), "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{agreement_url(a)}#supervision-content"
    [row] = await audit_rows(clean_db, audit.CONTENT_HANDED_OVER)
    assert (row.object_id, row.actor_user_id) == (c.note_id, a.supervisor.user_id)

    giver_page = (await client.get(session_url(a))).text
    assert f"Muistiinpano {c.marker}" not in giver_page and "No notes yet." in giver_page
    assert "Your notes have been handed over." in giver_page
    assert "Hand over my notes" not in (await client.get(agreement_url(a))).text

    recipient = Client(client.app)
    recipient.client.cookies.set("luotsi_lang", "en")
    await recipient.login(toini.user.email)
    seen = (await recipient.get(session_url(a))).text
    assert f"Muistiinpano {c.marker}" in seen
    assert "handed over to you by Maija Supervisor" in seen
    assert 'id="note-form"' not in seen  # the session is still the giver's to write on


async def test_notes_are_handed_only_to_another_supervisor_of_the_agreement(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await supervisor_on_agreement(clean_db, a)
    await as_supervisor(client, a)
    url = f"{agreement_url(a)}/notes/hand-over"
    for recipient in (str(a.admin.id), str(a.supervisor.id), "x"):
        response = await client.post(url, {"recipient": recipient, "confirm": "1"})
        assert response.status_code == 422, recipient
        assert "Choose another supervisor of the agreement." in response.text or (
            "Notes can be handed over only to another supervisor" in response.text
        )
    assert await audit_rows(clean_db, audit.CONTENT_HANDED_OVER) == []
    assert f"Muistiinpano {c.marker}" in (await client.get(session_url(a))).text


# --- erased content ---------------------------------------------------------------------------


async def test_erased_content_is_explained_and_offers_no_forms(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        await db.execute(
            update(Agreement)
            .where(Agreement.id == a.agreement.id)
            .values(content_erased_at=clock.at(clock.days(-60), 12))
        )
    await as_supervisor(client, a)
    expected = f"erased under the firm's retention rule on {en_date(clock.days(-60))}"
    for url in (agreement_url(a), session_url(a)):
        page = (await client.get(url)).text
        assert expected in page, url
        for form in (
            'id="limits-form"',
            'id="goal-form"',
            'id="assignment-form"',
            'id="note-form"',
        ):
            assert form not in page
    response = await client.post(f"{agreement_url(a)}/limits", {"text": "Uudet rajat"})
    assert response.status_code == 303
    response = await client.post(f"{session_url(a)}/assignments", {"text": "Tehtävä"})
    assert response.status_code == 303
    assert await counts(clean_db) == dict.fromkeys(CONTENT_TABLES, 0)


# --- reading is audited, and only shown pages read --------------------------------------------


async def test_another_forms_error_shows_no_content(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    response = await client.post(f"{agreement_url(a)}/reviews", {"held_on": "", "decision": ""})
    assert response.status_code == 422
    assert c.marker not in response.text
    assert "Show the supervision content" in response.text


async def test_showing_content_is_audited_as_reads(
    client: Client, client_factory: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    await as_supervisor(client, a)
    before = len(await audit_rows(clean_db, audit.CONTENT_READ))
    await client.get(agreement_url(a))
    # One row for the page view, listing every value it opened.
    [row] = (await audit_rows(clean_db, audit.CONTENT_READ))[before:]
    assert row.items is not None
    read = {uuid.UUID(item["id"]) for item in row.items}
    assert {c.goal_id, c.org_goal_id, c.evaluation_id} <= read
    assert len(row.items) == len(read)  # each once
    # The owner's audit log answers who opened one of them, and when.
    owner = client_factory()
    await owner.login(a.owner.user.email)
    found = await owner.get(f"/t/{a.slug}/audit/?item={c.evaluation_id}")
    assert found.status_code == 200
    # Written when the content was added, read in the view: two rows, both by the supervisor.
    assert found.text.count('class="audit-row"') == 2
    assert '<code class="muted">content.read</code>' in found.text
    assert found.text.count("<td>Maija Supervisor</td>") == 2
    nothing = await owner.get(f"/t/{a.slug}/audit/?item={uuid.uuid4()}")
    assert 'class="audit-row"' not in nothing.text


# --- everybody else ---------------------------------------------------------------------------


def content_posts(firm: Firm, c: Content) -> list[tuple[str, dict[str, str]]]:
    session, agreement = session_url(firm), agreement_url(firm)
    return [
        (f"{session}/assignments", {"text": "vieras"}),
        (
            f"{session}/assignments/{c.assignment_id}/edit",
            {"text": "v", "due_on": after_session(firm, 28).isoformat()},
        ),
        (f"{session}/assignments/{c.assignment_id}/delete", {}),
        (f"{session}/notes/{c.note_id}/edit", {"text": "vieras"}),
        (f"{session}/notes/{c.note_id}/delete", {}),
        (f"{agreement}/limits", {"text": "vieras"}),
        (f"{agreement}/goals", {"source": "organisation", "text": "vieras"}),
        (f"{agreement}/goals/{c.org_goal_id}/revise", {"text": "vieras"}),
        (f"{agreement}/goals/{c.org_goal_id}/delete", {}),
        (
            f"{agreement}/goals/{c.goal_id}/evaluations",
            {"rating": "5", "evaluated_on": clock.fi(clock.days(-33))},
        ),
        (f"{agreement}/evaluations/{c.evaluation_id}/delete", {}),
        (f"{agreement}/notes/hand-over", {"recipient": str(firm.admin.id), "confirm": "1"}),
    ]


def content_pages(firm: Firm, c: Content) -> list[str]:
    session, agreement = session_url(firm), agreement_url(firm)
    return [
        session,
        agreement,
        f"{session}/assignments/{c.assignment_id}/delete",
        f"{session}/notes/{c.note_id}/delete",
        f"{agreement}/goals/{c.goal_id}/delete",
        f"{agreement}/evaluations/{c.evaluation_id}/delete",
    ]


@pytest.mark.parametrize("who", ["owner", "admin", "other_supervisor", "hr_contact"])
async def test_nobody_but_the_agreements_supervisors_sees_or_changes_content(
    client: Client, firms: Firms, clean_db: Backend, who: str
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    emails = {"owner": a.owner.user.email, "admin": a.admin.user.email}
    if who == "other_supervisor":
        emails[who] = await other_supervisor(clean_db, a)
    if who == "hr_contact":
        emails[who] = await hr_contact_login(clean_db, a)
    await client.login(emails[who])
    before = await counts(clean_db)
    refused = 403 if who == "hr_contact" else 404  # an HR contact is not staff at all

    for url in content_pages(a, c):
        page = await client.get(url)
        assert c.marker not in page.text, url
        if url in (session_url(a), agreement_url(a)) and who in ("owner", "admin"):
            assert page.status_code == 200  # the page is theirs; its content is not
            for hint in ("Supervision content", "Assignments", "My notes", "Hand over"):
                assert hint not in page.text, (url, hint)
        else:
            assert page.status_code == refused, url
    for url, data in content_posts(a, c):
        response = await client.post(url, data)
        assert response.status_code == refused, url
    assert await counts(clean_db) == before
    assert await audit_rows(clean_db, audit.CONTENT_HANDED_OVER) == []


async def test_a_second_supervisor_of_the_agreement_shares_its_content_but_not_the_notes(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    c = await add_content(clean_db, a)
    toini = await supervisor_on_agreement(clean_db, a)
    await client.login(toini.user.email)
    session_page = (await client.get(session_url(a))).text
    assert f"Välitehtävä {c.marker}" in session_page
    assert f"Muistiinpano {c.marker}" not in session_page and 'id="my-notes"' not in session_page
    assert f"Rajat {c.marker}" in (await client.get(agreement_url(a))).text
    response = await client.post(f"{session_url(a)}/notes/{c.note_id}/edit", {"text": "x"})
    assert response.status_code == 404


async def test_firm_b_gets_404_for_firm_as_content(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, b = firms.a, firms.b
    c = await add_content(clean_db, a)
    await client.login(b.supervisor.user.email)
    before = await counts(clean_db)
    for url in content_pages(a, c):
        moved = url.replace(f"/t/{a.slug}/", f"/t/{b.slug}/")
        assert (await client.get(url)).status_code == 404
        assert (await client.get(moved)).status_code == 404, moved
    for url, data in content_posts(a, c):
        assert (await client.post(url, data)).status_code == 404
    assert await counts(clean_db) == before


async def test_owner_who_supervises_the_agreement_works_with_its_content(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        db.add(AgreementSupervisor(agreement_id=a.agreement.id, membership_id=a.owner.id))
    await client.login(a.owner.user.email)
    response = await client.post(f"{agreement_url(a)}/limits", {"text": "Omistajan rajat"})
    assert response.status_code == 303
    assert "<p>Omistajan rajat</p>" in (await client.get(agreement_url(a))).text
