"""A supervisee's rights through the content module: a copy of their data, who opened their
records, and erasure decided by the firm's owner."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from luotsi.platform.audit import AuditEvent, AuditItem
from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement, AgreementSupervisee
from luotsi.tenants.clients.models import ClientPerson
from luotsi.tenants.sessions.models import SupervisionSession
from tests import clock
from tests.conftest import Backend
from tests.factories import Firm, Firms
from tests.tenants.content.test_content_shared import (
    MARKER,
    App,
    AuditWatch,
    Group,
    GroupPieces,
    Pieces,
    make_group,
    new_login,
    owner_execute,
    raw_rows,
    write_group_pieces,
    write_pieces,
)


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[App]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield App(make_sessionmaker(engine), clean_db)
    await engine.dispose()


@dataclass
class World:
    """Sanna of firm A: alone on the fixture agreement, and supervisee 1 of a group."""

    app: App
    firms: Firms
    sanna: Membership
    pieces: Pieces  # on her individual agreement
    group: Group  # p1 is Sanna
    gp: GroupPieces

    @property
    def a(self) -> Firm:
        return self.firms.a


@pytest.fixture
async def world(app_db: App, firms: Firms) -> World:
    a = firms.a
    people = ClientPerson.__table__
    await owner_execute(
        app_db.backend,
        update(people).where(people.c.id == a.supervisee.id).values(phone="+358401234567"),
    )
    sanna = await new_login(app_db.backend, a, Role.SUPERVISEE, a.supervisee)
    pieces = await write_pieces(app_db, a, sanna)
    group = await make_group(app_db.backend, a, a.supervisee, sanna)
    gp = await write_group_pieces(app_db, a, group)
    return World(app_db, firms, sanna, pieces, group, gp)


# --- the copy of their data -------------------------------------------------------------------


async def test_the_export_holds_the_supervisees_content_and_nobody_elses(world: World) -> None:
    a, app = world.a, world.app
    watch = AuditWatch(app.backend)
    await watch.new()
    data = await app.run(a, world.sanna, content.export_own_data)
    dumped = json.dumps(data, ensure_ascii=False)

    assert data["person"]["name"] == "Sanna Supervisee"
    assert data["person"]["phone"] == "+358401234567"
    by_title = {line["title"]: line for line in data["agreements"]}
    assert set(by_title) == {"", "Tiimi Kaksi"}
    alone, group = by_title[""], by_title["Tiimi Kaksi"]
    assert alone["limits_of_confidentiality"] == f"{MARKER} limits"
    assert [(g["text"], [e["comment"] for e in g["evaluations"]]) for g in alone["goals"]] == [
        (f"{MARKER} org goal", []),
        (f"{MARKER} own goal", [f"{MARKER} evaluation"]),
    ]
    assert alone["goals"][1]["evaluations"][0]["rating"] == 3
    assert [(t["text"], t["response"]) for t in alone["assignments"]] == [
        (f"{MARKER} assignment", f"{MARKER} response")
    ]
    assert alone["assignments"][0]["done_at"] is not None
    assert len(alone["sessions"]) == 1

    assert group["limits_of_confidentiality"] == f"{MARKER} [group] limits"
    assert {g["text"]: [e["comment"] for e in g["evaluations"]] for g in group["goals"]} == {
        f"{MARKER} [group] goal": [f"{MARKER} [p1] progress"],
        f"{MARKER} [p1] goal": [],
    }
    assert {t["text"]: t["response"] for t in group["assignments"]} == {
        f"{MARKER} [group] task": f"{MARKER} [p1] answer to group",
        f"{MARKER} [p1] task": f"{MARKER} [p1] answer",
    }
    # Never the supervisor's notes, nor the other member's own goals, answers or progress.
    assert f"{MARKER} note" not in dumped and f"{MARKER} [group] note" not in dumped
    assert "[p2]" not in dumped
    assert "Paavo" not in dumped

    lines = await watch.lines()
    exported = ("data.exported", "person", a.supervisee.id, world.sanna.user_id, a.supervisee.id)
    assert exported in lines
    assert {line[0] for line in lines} == {"content.read", "data.exported"}
    assert {line[3] for line in lines} == {world.sanna.user_id}
    # Staff have no data of their own to export here.
    for actor in (a.owner, a.supervisor):
        await app.fails(Forbidden, a, actor, content.export_own_data)


# --- who opened their records ---------------------------------------------------------------


def opened(history: content.AccessHistory, actor: uuid.UUID) -> set[tuple[str, uuid.UUID]]:
    """The (kind, id) of the values of the supervisee's records ``actor`` read, by the rows of
    their history (a row of a page view lists every value it opened)."""
    found = set()
    for event in history.page.items:
        if (event.action, event.actor_user_id) != ("content.read", actor):
            continue
        for item in event.items or []:
            assert item["context"] is not None
            if uuid.UUID(item["context"]) in history.contexts:
                found.add((item["type"], uuid.UUID(item["id"])))
    return found


async def test_access_history_lists_who_touched_the_supervisees_records(world: World) -> None:
    a, app, group = world.a, world.app, world.group
    for agreement in (a.agreement, group.agreement):
        await app.run(a, a.supervisor, content.list_goals, agreement.id)
    await app.run(a, a.supervisor, content.list_assignments, group.agreement.id)
    await app.run(a, world.sanna, content.export_own_data)
    b = world.firms.b
    await app.run(b, b.supervisor, content.write_note, b.session.id, "B")

    history = await app.call(a, content.access_history, world.sanna, per_page=500)
    mine = {a.supervisee.id, a.agreement.id, group.agreement.id}
    assert history.contexts == mine
    events = history.page.items
    assert history.page.total == len(events) > 0
    assert {e.tenant_id for e in events} == {a.tenant.id}
    read_by_supervisor = opened(history, a.supervisor.user_id)
    gp, pieces = world.gp, world.pieces
    assert {
        ("goal", pieces.own_goal),
        ("goal", pieces.org_goal),
        ("evaluation", pieces.evaluation),
        ("goal", gp.org_goal),
        ("goal", gp.goal1),
        ("evaluation", gp.e1_org),
        ("assignment", gp.everyone),
        ("assignment", gp.for_p1),
        ("assignment_response", gp.r1_everyone),
    } <= read_by_supervisor
    # The supervisor's reads of the other member's own records are not in Sanna's history:
    # the group page's row lists them too, but her lines count her records only.
    others = {gp.goal2, gp.e2_org, gp.e2_own, gp.for_p2, gp.r2_everyone, gp.r2_own}
    assert not {object_id for _kind, object_id in read_by_supervisor} & others
    shown = sum(
        line.count
        for line in history.lines()
        if (line.action, line.actor_user_id) == ("content.read", a.supervisor.user_id)
    )
    assert shown == len(read_by_supervisor)
    assert "data.exported" in {e.action for e in events}
    # ... they are in the other member's.
    theirs = await app.call(a, content.access_history, group.l2, per_page=500)
    objects = {object_id for _kind, object_id in opened(theirs, a.supervisor.user_id)}
    assert {gp.goal2, gp.e2_org, gp.e2_own, gp.for_p2, gp.r2_everyone} <= objects
    assert not objects & {pieces.own_goal, gp.goal1, gp.e1_org, gp.for_p1, gp.r1_everyone}
    # Newest first, and paged.
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    page = (await app.call(a, content.access_history, world.sanna, page=2, per_page=3)).page
    assert (page.number, len(page.items)) == (2, 3)
    assert [e.id for e in page.items] == [e.id for e in events[3:6]]
    for actor in (a.owner, a.supervisor):
        with pytest.raises(Forbidden):
            await app.call(a, content.access_history, actor)


# --- erasure ------------------------------------------------------------------------------


async def test_an_erasure_request_waits_for_the_owner_alone(world: World) -> None:
    a, app, sanna = world.a, world.app, world.sanna
    watch = AuditWatch(app.backend)
    await watch.new()
    request = await app.call(a, content.request_erasure, sanna, base_url="http://luotsi.test")
    assert (request.status, request.person_id) == (content.ErasureStatus.PENDING, a.supervisee.id)
    assert request.person_name == "Sanna Supervisee"
    assert await watch.lines() == [
        ("erasure.requested", "person", a.supervisee.id, sanna.user_id, a.supervisee.id)
    ]
    with pytest.raises(Invalid) as caught:
        await app.call(a, content.request_erasure, sanna, base_url="http://luotsi.test")
    assert set(caught.value.errors) == {"erasure"}
    latest = await app.call(a, content.latest_request_of, sanna)
    assert latest is not None and latest.id == request.id

    for actor in (a.admin, a.supervisor):
        for attempt in (
            lambda db, who=actor: content.list_erasure_requests(db, who),
            lambda db, who=actor: content.erasure_plan(db, who, request.id),
            lambda db, who=actor: content.confirm_erasure(db, who, request.id),
            lambda db, who=actor: content.decline_erasure(db, who, request.id, "ei"),
        ):
            with pytest.raises(Forbidden):
                await app.call(a, attempt)
    with pytest.raises(NotFound):  # another firm's owner does not find it
        await app.call(world.firms.b, content.erasure_plan, world.firms.b.owner, request.id)

    listed = await app.call(a, content.list_erasure_requests, a.owner)
    assert [r.id for r in listed.items] == [request.id]
    plan = await app.call(a, content.erasure_plan, a.owner, request.id)
    assert plan.person is not None and plan.person.id == a.supervisee.id
    assert (plan.agreements_alone, plan.group_agreements) == (1, 1)
    assert await watch.lines() == []  # nothing was decided


async def test_confirming_erases_the_persons_content_and_details(world: World) -> None:
    a, app, group, gp, pieces = world.a, world.app, world.group, world.gp, world.pieces
    backend = app.backend
    request = await app.call(a, content.request_erasure, world.sanna, base_url="http://luotsi.test")
    watch = AuditWatch(backend)
    await watch.new()

    done = await app.call(a, content.confirm_erasure, a.owner, request.id)

    assert done.status == content.ErasureStatus.DONE
    assert (done.person_name, done.decided_by_user_id) == (content.ERASED_NAME, a.owner.user_id)
    assert done.decided_at is not None
    assert await watch.lines() == [
        ("erasure.confirmed", "person", a.supervisee.id, a.owner.user_id, a.supervisee.id)
    ]
    # Her individual agreement keeps no content at all, notes and limits included; in the group
    # only her own things went.
    remaining = {
        spec.table: {r.id for r in await raw_rows(backend, spec.model.__table__)}
        for spec in content.ENCRYPTED_FIELDS
    }
    assert remaining == {
        "session_notes": {gp.note},
        "assignments": {gp.everyone, gp.for_p2},
        "assignment_responses": {gp.r2_everyone, gp.r2_own},
        "goals": {gp.org_goal, gp.goal2},
        "evaluations": {gp.e2_org, gp.e2_own},
        "confidentiality_limits": remaining["confidentiality_limits"],
    }
    [limits] = await raw_rows(backend, content.ConfidentialityLimits.__table__)
    assert limits.agreement_id == group.agreement.id
    assert pieces.note not in remaining["session_notes"]
    # Her details are gone and her login ended; the facts stay.
    [person] = [
        r for r in await raw_rows(backend, ClientPerson.__table__) if r.id == a.supervisee.id
    ]
    assert (person.name, person.email, person.phone, person.title) == (
        content.ERASED_NAME,
        "",
        "",
        "",
    )
    assert person.membership_id is None and person.archived_at is not None
    memberships = {m.id: m for m in await raw_rows(backend, Membership.__table__)}
    assert memberships[world.sanna.id].deactivated_at is not None  # ended, never deleted
    assert memberships[group.l2.id].deactivated_at is None
    agreements = {r.id for r in await raw_rows(backend, Agreement.__table__)}
    assert {a.agreement.id, group.agreement.id} <= agreements
    sessions = {r.id for r in await raw_rows(backend, SupervisionSession.__table__)}
    assert {a.session.id, group.session.id} <= sessions
    links = await raw_rows(backend, AgreementSupervisee.__table__)
    assert a.supervisee.id in {link.person_id for link in links}
    # The rest of the group reads on; her old login reads nothing.
    assignments = await app.run(a, group.l2, content.list_assignments, group.agreement.id)
    assert {v.id for v in assignments} == {gp.everyone, gp.for_p2}
    goals = await app.run(a, a.supervisor, content.list_goals, group.agreement.id)
    assert [g.id for g in goals] == [gp.org_goal, gp.goal2]
    await app.fails(
        NotFound,
        a,
        world.sanna,
        lambda db, r: content.list_assignments(db, r, group.agreement.id),
    )
    # Decided once.
    with pytest.raises(Invalid) as caught:
        await app.call(a, content.confirm_erasure, a.owner, request.id)
    assert set(caught.value.errors) == {"erasure"}


async def test_declining_needs_a_reason(world: World) -> None:
    a, app, sanna = world.a, world.app, world.sanna
    request = await app.call(a, content.request_erasure, sanna, base_url="http://luotsi.test")
    for reason in ("", "   \n", "x" * 1001):
        with pytest.raises(Invalid) as caught:
            await app.call(a, content.decline_erasure, a.owner, request.id, reason)
        assert set(caught.value.errors) == {"reason"}
    watch = AuditWatch(app.backend)
    await watch.new()
    declined = await app.call(
        a, content.decline_erasure, a.owner, request.id, "  Sopimus on yhä voimassa.  "
    )
    assert (declined.status, declined.reason) == (
        content.ErasureStatus.DECLINED,
        "Sopimus on yhä voimassa.",
    )
    assert declined.decided_by_user_id == a.owner.user_id
    assert await watch.lines() == [
        ("erasure.declined", "person", a.supervisee.id, a.owner.user_id, a.supervisee.id)
    ]
    # Nothing was erased, the decision stands, and she may ask again.
    assert len(await raw_rows(app.backend, content.Goal.__table__)) == 5
    with pytest.raises(Invalid):
        await app.call(a, content.confirm_erasure, a.owner, request.id)
    again = await app.call(a, content.request_erasure, sanna, base_url="http://luotsi.test")
    latest = await app.call(a, content.latest_request_of, sanna)
    assert latest is not None and latest.id == again.id
    history = await app.call(a, content.access_history, sanna)
    assert {"erasure.requested", "erasure.declined"} <= {e.action for e in history.page.items}


async def test_erasure_in_another_firm_touches_nothing_here(app_db: App, firms: Firms) -> None:
    a, b, backend = firms.a, firms.b, app_db.backend
    sanna_a = await new_login(backend, a, Role.SUPERVISEE, a.supervisee)
    sanna_b = await new_login(backend, b, Role.SUPERVISEE, b.supervisee)
    await write_pieces(app_db, a, sanna_a, tag=" A")
    await write_pieces(app_db, b, sanna_b, tag=" B")
    request = await app_db.call(b, content.request_erasure, sanna_b, base_url="http://luotsi.test")
    with pytest.raises(NotFound):  # firm A's owner does not find it
        await app_db.call(a, content.confirm_erasure, a.owner, request.id)
    await app_db.call(b, content.confirm_erasure, b.owner, request.id)
    for spec in content.ENCRYPTED_FIELDS:
        rows = await raw_rows(backend, spec.model.__table__)
        assert {r.tenant_id for r in rows} == {a.tenant.id}, spec.table
    people = {r.id: r.name for r in await raw_rows(backend, ClientPerson.__table__)}
    assert people[a.supervisee.id] == "Sanna Supervisee"
    assert people[b.supervisee.id] == content.ERASED_NAME
    assert len(await app_db.run(a, sanna_a, content.list_goals, a.agreement.id)) == 2


def test_the_history_folds_one_visit_into_one_line() -> None:
    """A page that opened twelve evaluations is one line with a count, not twelve; values of
    someone else's records that the same row lists are not counted."""
    ville, sari = uuid.uuid4(), uuid.uuid4()
    hers, someone_else = uuid.uuid4(), uuid.uuid4()
    start = clock.now()

    def row(minutes: float, actor: uuid.UUID, action: str, kind: str, n: int = 1) -> AuditEvent:
        items = [AuditItem(type=kind, id=str(uuid.uuid4()), context=str(hers)) for _ in range(n)]
        return AuditEvent(
            at=start - timedelta(minutes=minutes),
            actor_user_id=actor,
            actor_name="Ville" if actor == ville else "Sari",
            action=action,
            object_type=kind,
            items=items,
        )

    page = row(0, ville, "content.read", "evaluation", 10)
    assert page.items is not None
    page.items += [  # one of hers, one of someone else's
        AuditItem(type="evaluation", id=str(uuid.uuid4()), context=str(hers)),
        AuditItem(type="evaluation", id=str(uuid.uuid4()), context=str(someone_else)),
    ]
    events = [
        page,
        row(0.5, ville, "content.read", "evaluation"),
        row(2, ville, "content.read", "goal"),
        row(3, sari, "content.read", "goal"),
        row(30, ville, "content.read", "goal"),  # a later visit of its own
        row(31, ville, "content.written", "goal"),
        AuditEvent(  # a single action without items
            at=start - timedelta(minutes=32),
            actor_user_id=sari,
            actor_name="Sari",
            action="erasure.requested",
            object_type="person",
        ),
    ]
    lines = content.history_lines(events, frozenset({hers}))
    assert [(line.actor_name, line.action, line.object_type, line.count) for line in lines] == [
        ("Ville", "content.read", "evaluation", 12),
        ("Ville", "content.read", "goal", 1),
        ("Sari", "content.read", "goal", 1),
        ("Ville", "content.read", "goal", 1),
        ("Ville", "content.written", "goal", 1),
        ("Sari", "erasure.requested", "person", 1),
    ]
    assert lines[0].at == start  # the newest of the folded rows
