"""The working hours and absences pages: one's own, the office's for anyone, nobody else's."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from markupsafe import escape

from luotsi.platform.tenancy import Role
from luotsi.tenants.directory.models import AbsenceKind
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import Firms, add_absence, add_member, add_profile, make_user
from tests.queries import count_queries
from tests.web.test_statement_counts import BUDGET


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def _ticked(html: str, weekday: int) -> bool:
    return re.search(rf'name="works_{weekday}" value="on"\s*checked', html) is not None


def _hours_url(firms: Firms) -> str:
    return f"/t/alfa/staff/{firms.a.profile.id}/hours/"


async def test_a_supervisor_sets_their_own_week_from_the_staff_list(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    staff = await client.get("/t/alfa/staff/")
    assert f'href="{_hours_url(firms)}"' in staff.text
    page = await client.get(_hours_url(firms))
    assert page.status_code == 200
    assert "The firm's usual hours: Monday to Friday, 8.00–16.00" in page.text
    saved = await client.post(
        _hours_url(firms),
        data={"week": "own", "works_0": "on", "start_0": "09:00", "end_0": "15:00"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == _hours_url(firms)
    again = await client.get(_hours_url(firms))
    assert "The working hours have been saved." in again.text
    assert _ticked(again.text, 0) and not _ticked(again.text, 1)  # Tuesday now a day off
    assert 'value="09:00"' in again.text and 'value="15:00"' in again.text


async def test_a_week_with_a_day_ending_before_it_starts_is_shown_again_with_the_error(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    refused = await client.post(
        _hours_url(firms),
        data={"week": "own", "works_2": "on", "start_2": "16:00", "end_2": "08:00"},
    )
    assert refused.status_code == 422
    assert "The day must end after it starts." in refused.text
    assert 'id="end_2" name="end_2" value="08:00"' in refused.text


async def test_a_supervisor_records_changes_and_deletes_an_absence_after_confirming(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    first = clock.days(30)
    added = await client.post(
        _hours_url(firms) + "absences",
        data={
            "kind": "holiday",
            "starts_on": first.isoformat(),
            "ends_on": (first + timedelta(days=6)).isoformat(),
            "note": "Mökillä",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = await client.get(_hours_url(firms))
    assert "The absence has been saved." in page.text and "Mökillä" in page.text
    overlapping = await client.post(
        _hours_url(firms) + "absences",
        data={
            "kind": "sick_leave",
            "starts_on": (first + timedelta(days=3)).isoformat(),
            "ends_on": (first + timedelta(days=9)).isoformat(),
        },
    )
    assert overlapping.status_code == 422
    assert "These days overlap another absence" in overlapping.text
    absence_id = _absence_id(page.text)
    edit = await client.get(_hours_url(firms) + f"absences/{absence_id}")
    assert edit.status_code == 200 and "Mökillä" in edit.text
    backwards = await client.post(
        _hours_url(firms) + f"absences/{absence_id}",
        data={
            "kind": "holiday",
            "starts_on": first.isoformat(),
            "ends_on": clock.days(1).isoformat(),
        },
    )
    assert backwards.status_code == 422
    assert escape("The last day can't be before the first.") in backwards.text
    confirm = await client.get(_hours_url(firms) + f"absences/{absence_id}/delete")
    assert confirm.status_code == 200 and "Delete the absence of" in confirm.text
    deleted = await client.post(
        _hours_url(firms) + f"absences/{absence_id}/delete", follow_redirects=False
    )
    assert deleted.status_code == 303
    after = await client.get(_hours_url(firms))
    assert "The absence has been deleted." in after.text and "Mökillä" not in after.text


def _absence_id(html: str) -> str:
    """The id in the edit link of the listed absence (the newest, first in the list)."""
    marker = "absences/"
    start = html.index(marker, html.index('id="absence-list"')) + len(marker)
    return html[start : start + 36]


async def test_the_office_keeps_a_supervisors_absences_and_reads_the_note(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await add_absence(
        clean_db.owner,
        firms.a.tenant,
        firms.a.supervisor,
        clock.days(10),
        clock.days(12),
        AbsenceKind.SICK_LEAVE,
        "Leikkaus",
    )
    await client.login(firms.a.admin.user.email)
    profile = await client.get(f"/t/alfa/staff/{firms.a.profile.id}")
    assert f'href="{_hours_url(firms)}"' in profile.text
    page = await client.get(_hours_url(firms))
    assert page.status_code == 200 and "Leikkaus" in page.text and "Sick leave" in page.text
    saved = await client.post(
        _hours_url(firms),
        data={"week": "own", "works_4": "on", "start_4": "08:00", "end_4": "12:00"},
        follow_redirects=False,
    )
    assert saved.status_code == 303


async def test_a_colleague_finds_no_hours_page_and_cannot_change_them(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    user = await make_user(clean_db.owner, "kollega@alfa.example", "Kalle Kollega")
    member = await add_member(clean_db.owner, firms.a.tenant, user, Role.SUPERVISOR)
    colleague = await add_profile(clean_db.owner, firms.a.tenant, member, "Kalle Kollega")
    away = await add_absence(clean_db.owner, firms.a.tenant, member, clock.days(5), clock.days(6))
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/staff/{colleague.id}/hours/"
    profile = await client.get(f"/t/alfa/staff/{colleague.id}")
    assert profile.status_code == 200 and url not in profile.text
    assert (await client.get(url)).status_code == 404
    week = {"week": "own", "works_0": "on", "start_0": "08:00", "end_0": "09:00"}
    assert (await client.post(url, data=week)).status_code == 404
    assert (await client.post(url + "absences", data={"kind": "holiday"})).status_code == 404
    assert (await client.post(url + f"absences/{away.id}/delete")).status_code == 404
    # Nor through their own page: the colleague's absence is not one of theirs.
    own = _hours_url(firms)
    assert (await client.get(own + f"absences/{away.id}")).status_code == 404
    assert (await client.post(own + f"absences/{away.id}/delete")).status_code == 404


async def test_another_firm_gets_404_for_the_hours_and_absences(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.b.owner.user.email)
    assert (await client.get(_hours_url(firms))).status_code == 404
    own_slug = f"/t/beeta/staff/{firms.a.profile.id}/hours/"
    assert (await client.get(own_slug)).status_code == 404
    deleted = await client.post(own_slug + f"absences/{firms.a.absence.id}/delete")
    assert deleted.status_code == 404


async def test_long_absence_lists_are_paged(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    for n in range(22):
        day = clock.days(20 + 2 * n)
        await add_absence(clean_db.owner, firms.a.tenant, firms.a.supervisor, day, day)
    await client.login(firms.a.supervisor.user.email)
    first = await client.get(_hours_url(firms))
    assert "Page 1 of 2" in first.text
    second = await client.get(_hours_url(firms) + "?page=2")
    assert "Page 2 of 2" in second.text and second.text.count("/delete") == 3


async def test_the_series_preview_names_an_absence_without_its_kind_or_note(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    first = clock.working_day(14)
    await add_absence(
        clean_db.owner,
        firms.a.tenant,
        firms.a.supervisor,
        first,
        first,
        AbsenceKind.SICK_LEAVE,
        "Leikkaus",
    )
    await client.login(firms.a.supervisor.user.email)
    preview = await client.post(
        f"/t/alfa/sessions/plan/{firms.a.agreement.id}",
        {
            "first_date": first.isoformat(),
            "time": "10:00",
            "every_weeks": "2",
            "minutes": "60",
            "count": "1",
            "place": "address",
            "address": "Kunnantie 1",
            "supervisor": "",
        },
    )
    assert preview.status_code == 200
    assert "The supervisor is not working (an absence or a day off)" in preview.text
    assert "Moved to" in preview.text
    assert "Leikkaus" not in preview.text and "Sick leave" not in preview.text


async def test_the_hours_page_stays_within_the_statement_budget(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    for n in range(25):
        day = clock.days(20 + 2 * n)
        await add_absence(clean_db.owner, firms.a.tenant, firms.a.supervisor, day, day)
    await client.login(firms.a.admin.user.email)
    assert (await client.get(_hours_url(firms))).status_code == 200  # first-visit work
    async with count_queries(client.app) as counted:
        page = await client.get(_hours_url(firms) + "?page=2")
    assert page.status_code == 200 and "Page 2 of 2" in page.text
    assert counted.statements <= BUDGET, str(counted)


async def test_changes_to_hours_and_absences_are_in_the_audit_log_without_the_note(
    client: Client, client_factory: Any, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    week = {"week": "own", "works_0": "on", "start_0": "09:00", "end_0": "15:00"}
    assert (await client.post(_hours_url(firms), data=week)).status_code in (200, 303)
    first = clock.days(30)
    absence = {
        "kind": "sick_leave",
        "starts_on": first.isoformat(),
        "ends_on": first.isoformat(),
        "note": "Polvileikkaus",
    }
    await client.post(_hours_url(firms) + "absences", data=absence)
    absence_id = _absence_id((await client.get(_hours_url(firms))).text)
    later = {**absence, "ends_on": (first + timedelta(days=2)).isoformat()}
    await client.post(_hours_url(firms) + f"absences/{absence_id}", data=later)
    await client.post(_hours_url(firms) + f"absences/{absence_id}/delete")

    owner = client_factory()
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    log = (await owner.get("/t/alfa/audit/")).text
    for label in (
        "Changed a member&#39;s working hours",
        "Recorded an absence",
        "Changed an absence",
        "Deleted an absence",
    ):
        assert label in log
    assert "Polvileikkaus" not in log  # the note is the person's and the office's, never logged


async def test_the_office_sets_the_firms_usual_hours_which_people_without_their_own_work(
    client: Client, client_factory: Any, firms: Firms
) -> None:
    await client.login(firms.a.admin.user.email)
    settings = await client.get("/t/alfa/settings/")
    assert "Monday to Friday, 8.00–16.00" in settings.text
    page = await client.get("/t/alfa/settings/hours/")
    assert page.status_code == 200
    refused = await client.post(
        "/t/alfa/settings/hours/", data={"week": "own", "works_4": "on", "start_4": "x"}
    )
    assert refused.status_code == 422
    assert "Enter the time as hours and minutes" in refused.text
    week = {"week": "own", "works_0": "on", "start_0": "09:00", "end_0": "15:00"}
    week |= {"works_1": "on", "start_1": "09:00", "end_1": "15:00"}
    saved = await client.post("/t/alfa/settings/hours/", data=week, follow_redirects=False)
    assert saved.status_code == 303
    assert "Monday to Tuesday, 9.00–15.00" in (await client.get("/t/alfa/settings/")).text

    supervisor = client_factory()
    supervisor.client.cookies.set("luotsi_lang", "en")
    await supervisor.login(firms.a.supervisor.user.email)
    own = await supervisor.get(_hours_url(firms))
    assert "The firm's usual hours: Monday to Tuesday, 9.00–15.00" in own.text
    assert (await supervisor.get("/t/alfa/settings/hours/")).status_code in (403, 404)


async def test_another_firm_cannot_set_this_firms_usual_hours(client: Client, firms: Firms) -> None:
    await client.login(firms.b.owner.user.email)
    assert (await client.get("/t/alfa/settings/hours/")).status_code == 404
    week = {"week": "own", "works_0": "on", "start_0": "09:00", "end_0": "15:00"}
    assert (await client.post("/t/alfa/settings/hours/", data=week)).status_code == 404
