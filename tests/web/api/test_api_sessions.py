"""Sessions through the API follow the planning page's rules: a clash is refused the same way."""

from __future__ import annotations

import httpx

from tests import clock
from tests.conftest import Backend, Client
from tests.factories import Firms, add_session
from tests.web.api.conftest import is_problem


async def test_planning_over_the_supervisors_other_session_is_refused_as_on_the_page(
    api_a: httpx.AsyncClient, client: Client, firms: Firms
) -> None:
    day = clock.working_day(7)  # the firm's planned session is this day at 10.00
    url = f"/api/v1/agreements/{firms.a.agreement.id}/sessions"
    body = {"starts_at": clock.at(day, 10, 30).isoformat(), "address": "Kunnantie 1"}
    clash = await api_a.post(url, json=body)
    assert is_problem(clash, 422) and set(clash.json()["errors"]) == {"starts_at"}
    await client.login(firms.a.owner.user.email)
    page = await client.post(
        f"/t/alfa/sessions/new/{firms.a.agreement.id}",
        {
            "kind": "session",
            "date": day.isoformat(),
            "time": "10:30",
            "minutes": "60",
            "place": "address",
            "address": "Kunnantie 1",
        },
    )
    assert page.status_code == 422  # the page refuses the same time
    assert clash.json()["errors"]["starts_at"] in page.text


async def test_a_free_time_is_planned_moved_and_cancelled(
    api_a: httpx.AsyncClient, firms: Firms
) -> None:
    day = clock.working_day(7)
    planned = await api_a.post(
        f"/api/v1/agreements/{firms.a.agreement.id}/sessions",
        json={
            "starts_at": clock.at(day, 13).isoformat(),
            "remote": True,
            "meeting_url": "https://meet.example/abc",
        },
    )
    assert planned.status_code == 201, planned.text
    session = planned.json()
    assert session["status"] == "planned" and session["starts_at"][11:16] == "13:00"
    moved = await api_a.patch(
        f"/api/v1/sessions/{session['id']}", json={"starts_at": clock.at(day, 14).isoformat()}
    )
    assert moved.status_code == 200 and moved.json()["starts_at"][11:16] == "14:00"
    cancelled = await api_a.post(
        f"/api/v1/sessions/{session['id']}/cancel", json={"by": "supervisor"}
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled_by_firm"
    again = await api_a.patch(
        f"/api/v1/sessions/{session['id']}", json={"starts_at": clock.at(day, 15).isoformat()}
    )
    assert is_problem(again, 409)


async def test_a_time_without_its_offset_is_refused(api_a: httpx.AsyncClient, firms: Firms) -> None:
    day = clock.working_day(7)
    naive = await api_a.post(
        f"/api/v1/agreements/{firms.a.agreement.id}/sessions",
        json={"starts_at": f"{day.isoformat()}T13:00:00"},
    )
    assert is_problem(naive, 422) and "starts_at" in naive.json()["errors"]


async def test_a_past_session_is_marked_held_once_and_a_coming_one_not_yet(
    api_a: httpx.AsyncClient, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    past = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(clock.days(-2), 9)
    )
    too_long = await api_a.post(f"/api/v1/sessions/{past.id}/held", json={"actual_minutes": 500})
    assert is_problem(too_long, 422) and set(too_long.json()["errors"]) == {"actual_minutes"}
    held = await api_a.post(f"/api/v1/sessions/{past.id}/held", json={})
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    assert held.json()["actual_minutes"] == a.agreement.session_minutes  # the planned length
    assert is_problem(await api_a.post(f"/api/v1/sessions/{past.id}/held", json={}), 409)
    coming = await api_a.post(f"/api/v1/sessions/{a.session.id}/held", json={"actual_minutes": 45})
    assert is_problem(coming, 409)  # next week's session is not held yet
    after = await api_a.get(f"/api/v1/sessions/{a.session.id}")
    assert after.json()["status"] == "planned"
