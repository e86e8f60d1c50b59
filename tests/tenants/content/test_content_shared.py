"""An agreement's shared content through the content module: who may, what is refused, the
defaults, ciphertext at rest and an audit row for every touch.

The helpers at the top (the app's view of the database, arranging logins and a group
agreement, writing one of each piece) are reused by ``test_content_lifecycle`` and
``test_content_rights``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform.audit import AuditEvent, Origin
from luotsi.platform.crypto import ContentCipher, ContentUnreadable, MasterKeys
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import DomainError, Invalid, NotFound
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants import content
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.content.access import TEXT_MAX_CHARS
from luotsi.tenants.content.shared import COMMENT_MAX_CHARS, GOAL_MAX_CHARS
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from luotsi.tenants.sessions.service import to_local
from tests import clock
from tests.conftest import Backend
from tests.factories import (
    Firm,
    Firms,
    add_agreement,
    add_member,
    add_person,
    add_session,
    evaluation_day,
    make_user,
)

MARKER = "LUOTTAMUKSELLINEN-5d2b"
KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
V1 = MasterKeys.parse(f"1:{KEY1}")
V1_V2 = MasterKeys.parse(f"1:{KEY1},2:{KEY2}")
V2 = MasterKeys.parse(f"2:{KEY2}")
ORIGIN = Origin(ip="203.0.113.7", user_agent="pytest-agent")
OWN, ORG = content.GoalSource.OWN, content.GoalSource.ORGANISATION
CONTENT_TABLES: list[Table] = [spec.model.__table__ for spec in content.ENCRYPTED_FIELDS]
Attempt = Callable[[AsyncSession, content.Reader], Awaitable[Any]]


# --- the app's view of the database -----------------------------------------------------------


@dataclass
class App:
    """Sessions through the app's runtime role (row-level security applies on PostgreSQL)."""

    maker: async_sessionmaker[AsyncSession]
    backend: Backend

    def scoped(self, firm: Firm) -> AsyncSession:
        db = self.maker()
        db.info[TENANT_KEY] = firm.tenant.id
        return db

    def reader(self, actor: Membership, keys: MasterKeys = V1) -> content.Reader:
        return content.Reader(actor, keys, ORIGIN)

    async def run(
        self, firm: Firm, actor: Membership, fn: Any, *args: Any, keys: MasterKeys = V1, **kw: Any
    ) -> Any:
        """``fn(db, reader, *args)`` in one committed transaction of ``firm``."""
        async with self.scoped(firm) as db, db.begin():
            return await fn(db, self.reader(actor, keys), *args, **kw)

    async def call(self, firm: Firm, fn: Any, *args: Any, **kw: Any) -> Any:
        """``fn(db, *args)`` (the functions that take a membership, not a reader)."""
        async with self.scoped(firm) as db, db.begin():
            return await fn(db, *args, **kw)

    async def fails(
        self, error: type[DomainError], firm: Firm, actor: Membership, attempt: Attempt
    ) -> DomainError:
        """``attempt`` raises ``error``; the transaction is committed all the same, so whatever
        the attempt added before raising would stay (and the tests would see it)."""
        async with self.scoped(firm) as db, db.begin():
            with pytest.raises(error) as caught:
                await attempt(db, self.reader(actor))
        return caught.value


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[App]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield App(make_sessionmaker(engine), clean_db)
    await engine.dispose()


# --- arranging, as the schema owner -----------------------------------------------------------


async def owner_execute(backend: Backend, *statements: Any) -> None:
    async with backend.owner.begin() as conn:
        for statement in statements:
            await conn.execute(statement)


async def new_login(
    backend: Backend, firm: Firm, role: Role, person: ClientPerson | None = None
) -> Membership:
    """A new account with ``role`` in ``firm``, bound to ``person`` when given."""
    name = person.name if person is not None else "Olli Ulkopuolinen"
    user = await make_user(backend.owner, f"{role.value}-{uuid.uuid4().hex[:8]}@x.example", name)
    login = await add_member(backend.owner, firm.tenant, user, role)
    if person is not None:
        people = ClientPerson.__table__
        await owner_execute(
            backend,
            update(people).where(people.c.id == person.id).values(membership_id=login.id),
        )
    return login


async def add_supervisee(backend: Backend, firm: Firm, name: str) -> ClientPerson:
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@client.example"
    return await add_person(
        backend.owner, firm.tenant, firm.org, PersonRole.SUPERVISEE, name, email=email
    )


async def add_agreement_supervisor(
    backend: Backend, firm: Firm, agreement: Agreement, member: Membership
) -> None:
    await owner_execute(
        backend,
        AgreementSupervisor.__table__.insert().values(
            tenant_id=firm.tenant.id,
            id=uuid.uuid4(),
            agreement_id=agreement.id,
            membership_id=member.id,
        ),
    )


async def set_agreement(backend: Backend, agreement_id: uuid.UUID, **values: Any) -> None:
    table = Agreement.__table__
    await owner_execute(backend, update(table).where(table.c.id == agreement_id).values(**values))


@dataclass
class Group:
    """A group agreement of firm A's supervisor with two supervisees who both have logins."""

    agreement: Agreement
    session: SupervisionSession
    p1: ClientPerson
    p2: ClientPerson
    l1: Membership
    l2: Membership


def local_day(session: SupervisionSession) -> date:
    """The day of ``session`` in Helsinki."""
    return to_local(session.starts_at).date()


async def make_group(
    backend: Backend, firm: Firm, p1: ClientPerson | None = None, l1: Membership | None = None
) -> Group:
    p1 = p1 or await add_supervisee(backend, firm, "Pia Ensimmäinen")
    p2 = await add_supervisee(backend, firm, "Paavo Toinen")
    agreement = await add_agreement(
        backend.owner,
        firm.tenant,
        firm.org,
        firm.supervisor,
        [p1, p2],
        kind=SupervisionKind.GROUP,
        title="Tiimi Kaksi",
    )
    session = await add_session(
        backend.owner,
        firm.tenant,
        agreement,
        firm.supervisor,
        starts_at=clock.at(clock.working_day(14)),
    )
    l1 = l1 or await new_login(backend, firm, Role.SUPERVISEE, p1)
    l2 = await new_login(backend, firm, Role.SUPERVISEE, p2)
    return Group(agreement, session, p1, p2, l1, l2)


# --- writing content through the module --------------------------------------------------------


@dataclass
class Pieces:
    """One of each piece on an individual agreement (every text holds ``MARKER``)."""

    note: uuid.UUID
    assignment: uuid.UUID
    response: uuid.UUID
    own_goal: uuid.UUID
    org_goal: uuid.UUID
    evaluation: uuid.UUID
    limits: uuid.UUID

    def of(self, table: str) -> uuid.UUID:
        return {
            "session_notes": self.note,
            "assignments": self.assignment,
            "assignment_responses": self.response,
            "goals": self.own_goal,
            "evaluations": self.evaluation,
            "confidentiality_limits": self.limits,
        }[table]


async def write_pieces(
    app: App,
    firm: Firm,
    supervisee: Membership,
    *,
    agreement: Agreement | None = None,
    session: SupervisionSession | None = None,
    keys: MasterKeys = V1,
    tag: str = "",
) -> Pieces:
    """A note, an assignment and the supervisee's response, their own goal, an organisation's
    goal, an evaluation and the limits, on ``firm``'s agreement (its fixture one by default)."""
    agreement = agreement or firm.agreement
    session = session or firm.session
    staff, own = app.reader(firm.supervisor, keys), app.reader(supervisee, keys)
    async with app.scoped(firm) as db, db.begin():
        note = await content.write_note(db, staff, session.id, f"{MARKER} note{tag}")
        assignment = await content.set_assignment(
            db, staff, session.id, f"{MARKER} assignment{tag}"
        )
        response = await content.respond_to_assignment(
            db, own, assignment.id, f"{MARKER} response{tag}", done=True
        )
        own_goal = await content.add_goal(db, own, agreement.id, OWN, f"{MARKER} own goal{tag}")
        org_goal = await content.add_goal(db, staff, agreement.id, ORG, f"{MARKER} org goal{tag}")
        evaluation = await content.record_evaluation(
            db, staff, own_goal.id, 3, f"{MARKER} evaluation{tag}", evaluated_on=evaluation_day()
        )
        await content.write_limits(db, staff, agreement.id, f"{MARKER} limits{tag}")
        limits = await db.scalar(
            select(content.ConfidentialityLimits.id).where(
                content.ConfidentialityLimits.agreement_id == agreement.id
            )
        )
    assert limits is not None
    return Pieces(
        note.id, assignment.id, response.id, own_goal.id, org_goal.id, evaluation.id, limits
    )


@dataclass
class GroupPieces:
    """Content of a group: texts tagged ``[group]``, ``[p1]`` or ``[p2]`` by whose it is."""

    note: uuid.UUID
    everyone: uuid.UUID  # an assignment for the whole group
    for_p1: uuid.UUID
    for_p2: uuid.UUID
    r1_everyone: uuid.UUID
    r2_everyone: uuid.UUID
    r1_own: uuid.UUID
    r2_own: uuid.UUID
    org_goal: uuid.UUID
    goal1: uuid.UUID
    goal2: uuid.UUID
    e1_org: uuid.UUID
    e2_org: uuid.UUID
    e2_own: uuid.UUID


async def write_group_pieces(app: App, firm: Firm, group: Group) -> GroupPieces:
    staff = app.reader(firm.supervisor)
    one, two = app.reader(group.l1), app.reader(group.l2)
    agreement, session = group.agreement.id, group.session.id
    day = evaluation_day()
    async with app.scoped(firm) as db, db.begin():
        note = await content.write_note(db, staff, session, f"{MARKER} [group] note")
        everyone = await content.set_assignment(db, staff, session, f"{MARKER} [group] task")
        for_p1 = await content.set_assignment(
            db, staff, session, f"{MARKER} [p1] task", person_id=group.p1.id
        )
        for_p2 = await content.set_assignment(
            db, staff, session, f"{MARKER} [p2] task", person_id=group.p2.id
        )
        r1_everyone = await content.respond_to_assignment(
            db, one, everyone.id, f"{MARKER} [p1] answer to group", done=False
        )
        r2_everyone = await content.respond_to_assignment(
            db, two, everyone.id, f"{MARKER} [p2] answer to group", done=True
        )
        r1_own = await content.respond_to_assignment(
            db, one, for_p1.id, f"{MARKER} [p1] answer", done=True
        )
        r2_own = await content.respond_to_assignment(
            db, two, for_p2.id, f"{MARKER} [p2] answer", done=True
        )
        org_goal = await content.add_goal(db, staff, agreement, ORG, f"{MARKER} [group] goal")
        goal1 = await content.add_goal(db, one, agreement, OWN, f"{MARKER} [p1] goal")
        goal2 = await content.add_goal(
            db, staff, agreement, OWN, f"{MARKER} [p2] goal", person_id=group.p2.id
        )
        e1_org = await content.record_evaluation(
            db, one, org_goal.id, 4, f"{MARKER} [p1] progress", evaluated_on=day
        )
        e2_org = await content.record_evaluation(
            db,
            staff,
            org_goal.id,
            2,
            f"{MARKER} [p2] progress",
            evaluated_on=day,
            person_id=group.p2.id,
        )
        e2_own = await content.record_evaluation(
            db, two, goal2.id, 5, f"{MARKER} [p2] own progress", evaluated_on=day
        )
        await content.write_limits(db, staff, agreement, f"{MARKER} [group] limits")
    return GroupPieces(
        note.id,
        everyone.id,
        for_p1.id,
        for_p2.id,
        r1_everyone.id,
        r2_everyone.id,
        r1_own.id,
        r2_own.id,
        org_goal.id,
        goal1.id,
        goal2.id,
        e1_org.id,
        e2_org.id,
        e2_own.id,
    )


# --- inspecting, as the schema owner ----------------------------------------------------------


async def raw_rows(backend: Backend, table: Table) -> list[Any]:
    async with backend.owner.connect() as conn:
        return list((await conn.execute(select(table).order_by(table.c.id))).all())


async def snapshot(backend: Backend) -> dict[str, list[Any]]:
    """Every content row and the audit log's size: equal snapshots, nothing was written."""
    state = {table.name: await raw_rows(backend, table) for table in CONTENT_TABLES}
    async with backend.owner.connect() as conn:
        state["audit_events"] = [
            (await conn.execute(text("select count(*) from audit_events"))).scalar()
        ]
    return state


async def audit_rows(backend: Backend) -> list[Any]:
    table = AuditEvent.__table__
    async with backend.owner.connect() as conn:
        return list((await conn.execute(select(table).order_by(table.c.at, table.c.id))).all())


AuditLine = tuple[str, str, uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]


def _uuid(text: str | None) -> uuid.UUID | None:
    return None if text is None else uuid.UUID(text)


def item_lines(row: Any) -> list[AuditLine]:
    """A row as one line per value it names: its items, or its one object."""
    if row.items is None:
        return [(row.action, row.object_type, row.object_id, row.actor_user_id, row.context_id)]
    return [
        (row.action, i["type"], uuid.UUID(i["id"]), row.actor_user_id, _uuid(i["context"]))
        for i in row.items
    ]


class AuditWatch:
    """The audit rows added since the last look, as (action, type, object, actor, context) a
    value, and how many rows named them (one per action and person in a transaction)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.seen: set[uuid.UUID] = set()
        self.rows = 0

    async def new(self) -> list[Any]:
        rows = [r for r in await audit_rows(self.backend) if r.id not in self.seen]
        self.seen.update(r.id for r in rows)
        return rows

    async def lines(self) -> list[AuditLine]:
        rows = await self.new()
        self.rows = len(rows)
        return sorted((line for row in rows for line in item_lines(row)), key=str)


def by_text(lines: list[AuditLine]) -> list[AuditLine]:
    return sorted(lines, key=str)


# --- the world of these tests -------------------------------------------------------------


@dataclass
class World:
    app: App
    firms: Firms
    sanna: Membership  # the portal login of firm A's supervisee, Sanna

    @property
    def a(self) -> Firm:
        return self.firms.a

    @property
    def backend(self) -> Backend:
        return self.app.backend


@pytest.fixture
async def world(app_db: App, firms: Firms) -> World:
    sanna = await new_login(app_db.backend, firms.a, Role.SUPERVISEE, firms.a.supervisee)
    return World(app_db, firms, sanna)


# --- the agreement's own people -------------------------------------------------------------


async def test_supervisor_and_supervisee_both_read_the_agreements_content(world: World) -> None:
    a, app = world.a, world.app
    assert await app.run(a, world.sanna, content.read_limits, a.agreement.id) is None
    pieces = await write_pieces(app, a, world.sanna)
    for actor in (a.supervisor, world.sanna):
        [assignment] = await app.run(a, actor, content.list_assignments, a.agreement.id)
        assert (assignment.id, assignment.text) == (pieces.assignment, f"{MARKER} assignment")
        assert assignment.person_id is None
        assert [(r.id, r.text) for r in assignment.responses] == [
            (pieces.response, f"{MARKER} response")
        ]
        assert assignment.response_of(a.supervisee.id) is not None
        goals = await app.run(a, actor, content.list_goals, a.agreement.id)
        assert [(g.id, g.source, g.person_id, g.text) for g in goals] == [
            (pieces.org_goal, ORG, None, f"{MARKER} org goal"),
            (pieces.own_goal, OWN, a.supervisee.id, f"{MARKER} own goal"),
        ]
        assert [(e.id, e.rating, e.comment) for e in goals[1].evaluations] == [
            (pieces.evaluation, 3, f"{MARKER} evaluation")
        ]
        limits = await app.run(a, actor, content.read_limits, a.agreement.id)
        assert limits is not None and limits.text == f"{MARKER} limits"
    # Rewriting the limits keeps one row; assignments list newest first, or of one session.
    await app.run(a, a.supervisor, content.write_limits, a.agreement.id, "toinen")
    assert len(await raw_rows(world.backend, content.ConfidentialityLimits.__table__)) == 1
    limits = await app.run(a, world.sanna, content.read_limits, a.agreement.id)
    assert limits is not None and limits.text == "toinen"
    later = await add_session(
        world.backend.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(local_day(a.session) + timedelta(days=35)),
    )
    newer = await app.run(a, a.supervisor, content.set_assignment, later.id, "myöhempi")
    every = await app.run(a, world.sanna, content.list_assignments, a.agreement.id)
    assert [v.id for v in every] == [newer.id, pieces.assignment]
    first = await app.run(
        a, world.sanna, content.list_assignments, a.agreement.id, session_id=a.session.id
    )
    assert [v.id for v in first] == [pieces.assignment]


async def test_the_supervisee_writes_their_responses_goals_and_evaluations(world: World) -> None:
    a, app, sanna = world.a, world.app, world.sanna
    pieces = await write_pieces(app, a, sanna)
    rewritten = await app.run(
        a, sanna, content.respond_to_assignment, pieces.assignment, "", done=True
    )
    assert rewritten.id == pieces.response and rewritten.text == "" and rewritten.done_at
    undone = await app.run(
        a, sanna, content.respond_to_assignment, pieces.assignment, "kesken", done=False
    )
    assert undone.id == pieces.response and undone.done_at is None
    # An own goal is the supervisee's own whoever they name.
    goal = await app.run(
        a, sanna, content.add_goal, a.agreement.id, OWN, "oma", person_id=a.manager.id
    )
    assert goal.person_id == a.supervisee.id
    await app.run(a, sanna, content.revise_goal, goal.id, "oma, tarkennettu")
    evaluation = await app.run(
        a, sanna, content.record_evaluation, goal.id, 4, "hyvä", evaluated_on=clock.days(-14)
    )
    assert evaluation.person_id == a.supervisee.id
    views = {g.id: g for g in await app.run(a, a.supervisor, content.list_goals, a.agreement.id)}
    assert views[goal.id].text == "oma, tarkennettu"
    assert [(e.rating, e.comment) for e in views[goal.id].evaluations] == [(4, "hyvä")]
    [assignment] = await app.run(a, a.supervisor, content.list_assignments, a.agreement.id)
    assert [(r.text, r.done_at) for r in assignment.responses] == [("kesken", None)]
    await app.run(a, sanna, content.delete_evaluation, evaluation.id)
    await app.run(a, sanna, content.delete_goal, goal.id)
    remaining = await app.run(a, sanna, content.list_goals, a.agreement.id)
    assert [g.id for g in remaining] == [pieces.org_goal, pieces.own_goal]
    # The organisation's goal is the whole agreement's: revised with the supervisor.
    for attempt in (
        lambda db, r: content.revise_goal(db, r, pieces.org_goal, "toisin"),
        lambda db, r: content.delete_goal(db, r, pieces.org_goal),
    ):
        refused = await app.fails(Invalid, a, sanna, attempt)
        assert isinstance(refused, Invalid) and "goal" in refused.errors
    await app.run(a, a.supervisor, content.revise_goal, pieces.org_goal, "tarkennettu")


async def test_supervisors_set_assignments_and_limits_and_supervisees_respond(
    world: World,
) -> None:
    a, app, sanna = world.a, world.app, world.sanna
    pieces = await write_pieces(app, a, sanna)
    before = await snapshot(world.backend)
    attempts: dict[str, Attempt] = {
        "set": lambda db, r: content.set_assignment(db, r, a.session.id, "oma tehtävä"),
        "edit": lambda db, r: content.edit_assignment(
            db, r, pieces.assignment, "muutettu", local_day(a.session) + timedelta(days=21)
        ),
        "delete": lambda db, r: content.delete_assignment(db, r, pieces.assignment),
        "limits": lambda db, r: content.write_limits(db, r, a.agreement.id, "omat rajat"),
    }
    for name, attempt in attempts.items():
        assert await app.fails(NotFound, a, sanna, attempt), name
    await app.fails(
        NotFound,
        a,
        a.supervisor,
        lambda db, r: content.respond_to_assignment(db, r, pieces.assignment, "x", done=True),
    )
    assert await snapshot(world.backend) == before


# --- everyone else --------------------------------------------------------------------------

OUTSIDERS = (
    "owner",
    "admin",
    "other_supervisor",
    "hr_contact",
    "manager",
    "manager_with_supervisee_login",
    "supervisee_of_another_agreement",
    "firm_b_supervisor",
    "firm_b_supervisee",
)


async def outsider(world: World, who: str) -> tuple[Firm, Membership]:
    """A principal who must not see firm A's agreement's content, and the firm it acts in."""
    a, b, backend = world.firms.a, world.firms.b, world.backend
    if who in ("owner", "admin"):
        return a, getattr(a, who)
    if who == "other_supervisor":
        return a, await new_login(backend, a, Role.SUPERVISOR)
    if who == "hr_contact":
        return a, await new_login(backend, a, Role.CLIENT_CONTACT, a.hr_contact)
    if who == "manager":
        return a, await new_login(backend, a, Role.CLIENT_CONTACT, a.manager)
    if who == "manager_with_supervisee_login":
        return a, await new_login(backend, a, Role.SUPERVISEE, a.manager)
    if who == "supervisee_of_another_agreement":
        other = await add_supervisee(backend, a, "Olga Toinen")
        agreement = await add_agreement(backend.owner, a.tenant, a.org, a.supervisor, [other])
        await add_session(backend.owner, a.tenant, agreement, a.supervisor)
        return a, await new_login(backend, a, Role.SUPERVISEE, other)
    if who == "firm_b_supervisor":
        return b, b.supervisor
    assert who == "firm_b_supervisee"
    return b, await new_login(backend, b, Role.SUPERVISEE, b.supervisee)


@pytest.mark.parametrize("who", OUTSIDERS)
async def test_nobody_else_reads_or_writes_the_content(world: World, who: str) -> None:
    a = world.a
    pieces = await write_pieces(world.app, a, world.sanna)
    firm, actor = await outsider(world, who)
    agreement, session, person = a.agreement.id, a.session.id, a.supervisee.id
    day = clock.days(-14)
    attempts: dict[str, Attempt] = {
        "list_assignments": lambda db, r: content.list_assignments(db, r, agreement),
        "list_goals": lambda db, r: content.list_goals(db, r, agreement),
        "read_limits": lambda db, r: content.read_limits(db, r, agreement),
        "set_assignment": lambda db, r: content.set_assignment(db, r, session, "x"),
        "edit_assignment": lambda db, r: content.edit_assignment(
            db, r, pieces.assignment, "x", local_day(a.session) + timedelta(days=21)
        ),
        "delete_assignment": lambda db, r: content.delete_assignment(db, r, pieces.assignment),
        "respond": lambda db, r: content.respond_to_assignment(
            db, r, pieces.assignment, "x", done=True
        ),
        "add_own_goal": lambda db, r: content.add_goal(
            db, r, agreement, OWN, "x", person_id=person
        ),
        "add_org_goal": lambda db, r: content.add_goal(db, r, agreement, ORG, "x"),
        "revise_goal": lambda db, r: content.revise_goal(db, r, pieces.own_goal, "x"),
        "delete_goal": lambda db, r: content.delete_goal(db, r, pieces.org_goal),
        "record_evaluation": lambda db, r: content.record_evaluation(
            db, r, pieces.own_goal, 5, "x", evaluated_on=day, person_id=person
        ),
        "delete_evaluation": lambda db, r: content.delete_evaluation(db, r, pieces.evaluation),
        "write_limits": lambda db, r: content.write_limits(db, r, agreement, "x"),
    }
    before = await snapshot(world.backend)
    for name, attempt in attempts.items():
        error = await world.app.fails(NotFound, firm, actor, attempt)
        assert MARKER not in str(error), name
    assert await snapshot(world.backend) == before  # no change, and no audit row either


async def test_a_removed_supervisor_loses_access(world: World) -> None:
    a, app = world.a, world.app
    pieces = await write_pieces(app, a, world.sanna)
    links = AgreementSupervisor.__table__
    await owner_execute(
        world.backend,
        delete(links).where(
            links.c.agreement_id == a.agreement.id, links.c.membership_id == a.supervisor.id
        ),
    )
    attempts: list[Attempt] = [
        lambda db, r: content.list_assignments(db, r, a.agreement.id),
        lambda db, r: content.list_goals(db, r, a.agreement.id),
        lambda db, r: content.read_limits(db, r, a.agreement.id),
        lambda db, r: content.set_assignment(db, r, a.session.id, "x"),
        lambda db, r: content.write_limits(db, r, a.agreement.id, "x"),
        lambda db, r: content.revise_goal(db, r, pieces.org_goal, "x"),
        lambda db, r: content.delete_evaluation(db, r, pieces.evaluation),
    ]
    for attempt in attempts:
        await app.fails(NotFound, a, a.supervisor, attempt)
    # The supervisee still sees it all.
    assert len(await app.run(a, world.sanna, content.list_goals, a.agreement.id)) == 2


async def test_the_supervisee_sees_nothing_of_a_draft_or_after_leaving(world: World) -> None:
    a, app, sanna, backend = world.a, world.app, world.sanna, world.backend
    pieces = await write_pieces(app, a, sanna)
    people, orgs = ClientPerson.__table__, ClientOrg.__table__

    async def sanna_can() -> bool:
        """Whether she reads and writes; when she may not, each attempt is :class:`NotFound`."""
        attempts: list[Attempt] = [
            lambda db, r: content.list_assignments(db, r, a.agreement.id),
            lambda db, r: content.list_goals(db, r, a.agreement.id),
            lambda db, r: content.read_limits(db, r, a.agreement.id),
            lambda db, r: content.respond_to_assignment(db, r, pieces.assignment, "", done=True),
            lambda db, r: content.add_goal(db, r, a.agreement.id, OWN, "uusi tavoite"),
        ]
        refused = 0
        for attempt in attempts:
            try:
                await app.run(a, sanna, attempt)
            except NotFound:
                refused += 1
        assert refused in (0, len(attempts))
        return refused == 0

    await set_agreement(backend, a.agreement.id, status=AgreementStatus.DRAFT)
    assert not await sanna_can()
    await set_agreement(backend, a.agreement.id, status=AgreementStatus.PENDING)
    assert await sanna_can()
    await set_agreement(backend, a.agreement.id, status=AgreementStatus.ACTIVE)
    await owner_execute(
        backend,
        update(people).where(people.c.id == a.supervisee.id).values(archived_at=clock.now()),
    )
    assert not await sanna_can()
    await owner_execute(
        backend, update(people).where(people.c.id == a.supervisee.id).values(archived_at=None)
    )
    assert await sanna_can()
    # Her organisation archived: no longer a current supervisee (as in her portal).
    await owner_execute(
        backend, update(orgs).where(orgs.c.id == a.org.id).values(archived_at=clock.now())
    )
    assert not await sanna_can()
    await owner_execute(backend, update(orgs).where(orgs.c.id == a.org.id).values(archived_at=None))
    assert await sanna_can()
    links = AgreementSupervisee.__table__
    await owner_execute(backend, delete(links).where(links.c.person_id == a.supervisee.id))
    assert not await sanna_can()


# --- a group -------------------------------------------------------------------------------


def texts_of_assignments(views: list[content.AssignmentView]) -> set[str]:
    return {v.text for v in views} | {r.text for v in views for r in v.responses}


def texts_of_goals(views: list[content.GoalView]) -> set[str]:
    return {g.text for g in views} | {e.comment for g in views for e in g.evaluations}


async def test_a_group_member_sees_the_groups_content_and_their_own_only(world: World) -> None:
    a, app = world.a, world.app
    group = await make_group(world.backend, a)
    gp = await write_group_pieces(app, a, group)
    agreement = group.agreement.id

    assignments = await app.run(a, group.l1, content.list_assignments, agreement)
    assert {v.id for v in assignments} == {gp.everyone, gp.for_p1}
    assert {r.id for v in assignments for r in v.responses} == {gp.r1_everyone, gp.r1_own}
    goals = await app.run(a, group.l1, content.list_goals, agreement)
    assert [g.id for g in goals] == [gp.org_goal, gp.goal1]
    assert [e.id for e in goals[0].evaluations] == [gp.e1_org]
    seen = texts_of_assignments(assignments) | texts_of_goals(goals)
    assert not [t for t in seen if "[p2]" in t]
    assert {t.split("] ")[1] for t in seen if "[group]" in t} == {"task", "goal"}
    limits = await app.run(a, group.l1, content.read_limits, agreement)
    assert limits is not None and limits.text == f"{MARKER} [group] limits"

    # Supervisee 2's own things are not found by supervisee 1, even by their ids.
    day = clock.days(-14)
    before = await snapshot(world.backend)
    attempts: list[Attempt] = [
        lambda db, r: content.respond_to_assignment(db, r, gp.for_p2, "x", done=True),
        lambda db, r: content.revise_goal(db, r, gp.goal2, "x"),
        lambda db, r: content.delete_goal(db, r, gp.goal2),
        lambda db, r: content.record_evaluation(db, r, gp.goal2, 1, "x", evaluated_on=day),
        lambda db, r: content.delete_evaluation(db, r, gp.e2_org),
        lambda db, r: content.delete_evaluation(db, r, gp.e2_own),
    ]
    for attempt in attempts:
        error = await app.fails(NotFound, a, group.l1, attempt)
        assert MARKER not in str(error)
    assert await snapshot(world.backend) == before

    # Supervisee 2 sees the mirror image.
    assignments = await app.run(a, group.l2, content.list_assignments, agreement)
    assert {v.id for v in assignments} == {gp.everyone, gp.for_p2}
    assert {r.id for v in assignments for r in v.responses} == {gp.r2_everyone, gp.r2_own}
    goals = await app.run(a, group.l2, content.list_goals, agreement)
    assert [g.id for g in goals] == [gp.org_goal, gp.goal2]
    assert [[e.id for e in g.evaluations] for g in goals] == [[gp.e2_org], [gp.e2_own]]

    # The supervisor sees every member's.
    assignments = await app.run(a, a.supervisor, content.list_assignments, agreement)
    assert {v.id for v in assignments} == {gp.everyone, gp.for_p1, gp.for_p2}
    everyone = next(v for v in assignments if v.id == gp.everyone)
    assert {r.person_id for r in everyone.responses} == {group.p1.id, group.p2.id}
    goals = await app.run(a, a.supervisor, content.list_goals, agreement)
    assert [g.id for g in goals] == [gp.org_goal, gp.goal1, gp.goal2]
    assert {e.id for e in goals[0].evaluations_of(group.p2.id)} == {gp.e2_org}
    assert {e.id for e in goals[0].evaluations_of(group.p1.id)} == {gp.e1_org}


async def test_a_group_member_writes_as_themselves_whoever_they_name(world: World) -> None:
    a, app = world.a, world.app
    group = await make_group(world.backend, a)
    org_goal = await app.run(a, a.supervisor, content.add_goal, group.agreement.id, ORG, "yht")
    goal = await app.run(
        a, group.l1, content.add_goal, group.agreement.id, OWN, "oma", person_id=group.p2.id
    )
    assert goal.person_id == group.p1.id
    evaluation = await app.run(
        a,
        group.l1,
        content.record_evaluation,
        org_goal.id,
        3,
        "",
        evaluated_on=clock.days(-14),
        person_id=group.p2.id,
    )
    assert evaluation.person_id == group.p1.id
    # The organisation's goal written down by a member is the group's.
    org = await app.run(a, group.l1, content.add_goal, group.agreement.id, ORG, "organisaation")
    assert org.person_id is None
    goals = await app.run(a, group.l2, content.list_goals, group.agreement.id)
    assert {g.id for g in goals} == {org_goal.id, org.id}
    assert goals[0].evaluations == []


# --- validation -----------------------------------------------------------------------------


async def expect_invalid(
    world: World, actor: Membership, cases: dict[str, tuple[str, Attempt]]
) -> None:
    """Each attempt raises :class:`Invalid` on its field, and nothing is written."""
    before = await snapshot(world.backend)
    for name, (field, attempt) in cases.items():
        error = await world.app.fails(Invalid, world.a, actor, attempt)
        assert set(error.errors) == {field}, name  # type: ignore[attr-defined]
    assert await snapshot(world.backend) == before


async def test_invalid_assignments_responses_and_limits_are_refused(world: World) -> None:
    a = world.a
    pieces = await write_pieces(world.app, a, world.sanna)
    session, assignment = a.session.id, pieces.assignment
    day = local_day(a.session)
    later, before = day + timedelta(days=21), day - timedelta(days=1)
    too_long = "x" * (TEXT_MAX_CHARS + 1)
    cases: dict[str, tuple[str, Attempt]] = {
        "empty": ("text", lambda db, r: content.set_assignment(db, r, session, " \r\n ")),
        "long": ("text", lambda db, r: content.set_assignment(db, r, session, too_long)),
        "control": ("text", lambda db, r: content.set_assignment(db, r, session, "a\x07b")),
        "due before": (
            "due_on",
            lambda db, r: content.set_assignment(db, r, session, "x", due_on=before),
        ),
        "not on agreement": (
            "person",
            lambda db, r: content.set_assignment(db, r, session, "x", person_id=a.manager.id),
        ),
        "edit empty": (
            "text",
            lambda db, r: content.edit_assignment(db, r, assignment, "", later),
        ),
        "edit control": (
            "text",
            lambda db, r: content.edit_assignment(db, r, assignment, "\x1b[31m", later),
        ),
        "edit due before": (
            "due_on",
            lambda db, r: content.edit_assignment(db, r, assignment, "x", before),
        ),
        "limits empty": ("text", lambda db, r: content.write_limits(db, r, a.agreement.id, "")),
        "limits control": (
            "text",
            lambda db, r: content.write_limits(db, r, a.agreement.id, "a\x00b"),
        ),
    }
    await expect_invalid(world, a.supervisor, cases)
    # The longest text, a due date on the session's day, and line breaks are fine.
    kept = await world.app.run(
        world.a,
        a.supervisor,
        content.set_assignment,
        session,
        "y" * TEXT_MAX_CHARS,
        due_on=day,
    )
    assert kept.due_on == day and len(kept.text) == TEXT_MAX_CHARS
    await world.app.run(
        world.a, a.supervisor, content.edit_assignment, assignment, "a\r\nb\tc", day
    )
    [_new, edited] = await world.app.run(a, world.sanna, content.list_assignments, a.agreement.id)
    assert (edited.text, edited.due_on) == ("a\nb\tc", day)
    responses: dict[str, tuple[str, Attempt]] = {
        "response empty, not done": (
            "response",
            lambda db, r: content.respond_to_assignment(db, r, assignment, "  ", done=False),
        ),
        "response control": (
            "response",
            lambda db, r: content.respond_to_assignment(db, r, assignment, "a\x01", done=True),
        ),
        "response long": (
            "response",
            lambda db, r: content.respond_to_assignment(
                db, r, assignment, "x" * (TEXT_MAX_CHARS + 1), done=True
            ),
        ),
    }
    await expect_invalid(world, world.sanna, responses)


async def test_invalid_goals_and_evaluations_are_refused(world: World) -> None:
    a = world.a
    group = await make_group(world.backend, a)
    pieces = await write_pieces(world.app, a, world.sanna)
    org_goal = await world.app.run(
        a, a.supervisor, content.add_goal, group.agreement.id, ORG, "yhteinen"
    )
    agreement, grouped, own_goal = a.agreement.id, group.agreement.id, pieces.own_goal
    today = clock.today()

    def evaluate(goal: uuid.UUID, rating: int = 3, comment: str = "", **kw: Any) -> Attempt:
        kw.setdefault("evaluated_on", today)
        return lambda db, r: content.record_evaluation(db, r, goal, rating, comment, **kw)

    cases: dict[str, tuple[str, Attempt]] = {
        "goal empty": ("text", lambda db, r: content.add_goal(db, r, agreement, ORG, "\n")),
        "goal long": (
            "text",
            lambda db, r: content.add_goal(db, r, agreement, ORG, "x" * (GOAL_MAX_CHARS + 1)),
        ),
        "goal control": ("text", lambda db, r: content.add_goal(db, r, agreement, OWN, "a\x0cb")),
        "own goal without a person in a group": (
            "person",
            lambda db, r: content.add_goal(db, r, grouped, OWN, "x"),
        ),
        "goal of a person not on the agreement": (
            "person",
            lambda db, r: content.add_goal(db, r, agreement, OWN, "x", person_id=group.p1.id),
        ),
        "revise empty": ("text", lambda db, r: content.revise_goal(db, r, pieces.org_goal, "")),
        "delete evaluated": ("goal", lambda db, r: content.delete_goal(db, r, own_goal)),
        "rating 0": ("rating", evaluate(own_goal, 0)),
        "rating 6": ("rating", evaluate(own_goal, 6)),
        "future": ("evaluated_on", evaluate(own_goal, evaluated_on=today + timedelta(days=1))),
        "before the agreement began": (
            "evaluated_on",
            evaluate(own_goal, evaluated_on=a.agreement.start_date - timedelta(days=3 * 365)),
        ),
        "long comment": ("comment", evaluate(own_goal, comment="x" * (COMMENT_MAX_CHARS + 1))),
        "control": ("comment", evaluate(own_goal, comment="a\x02")),
        "group goal without a person": ("person", evaluate(org_goal.id)),
        "person not on agreement": ("person", evaluate(org_goal.id, person_id=a.supervisee.id)),
        "meeting of another agreement": (
            "session",
            evaluate(own_goal, session_id=group.session.id),
        ),
    }
    await expect_invalid(world, a.supervisor, cases)
    for raw in ("0", "6", "", "kolme", "2.5"):
        with pytest.raises(Invalid) as caught:
            content.parse_rating(raw)
        assert set(caught.value.errors) == {"rating"}
    assert [content.parse_rating(str(n)) for n in content.RATINGS] == [1, 2, 3, 4, 5]
    # In an individual agreement the one supervisee's own goal needs no name; the longest
    # goal is fine; today, with a meeting of the agreement, is fine.
    goal = await world.app.run(
        a, a.supervisor, content.add_goal, agreement, OWN, "x" * GOAL_MAX_CHARS
    )
    assert goal.person_id == a.supervisee.id
    kept = await world.app.run(
        a,
        a.supervisor,
        content.record_evaluation,
        goal.id,
        5,
        "",
        evaluated_on=today,
        session_id=a.session.id,
    )
    assert (kept.person_id, kept.rating, kept.session_id) == (a.supervisee.id, 5, a.session.id)


# --- defaults -------------------------------------------------------------------------------


async def test_an_assignment_is_due_on_the_next_planned_sessions_local_day(world: World) -> None:
    a, owner = world.a, world.backend.owner
    other = await add_agreement(owner, a.tenant, a.org, a.supervisor, [a.supervisee])
    day = local_day(a.session)

    def utc(days: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day + timedelta(days=days), time(hour, minute), UTC)

    for agreement, starts_at, status in (
        (a.agreement, utc(-13, 8), SessionStatus.PLANNED),  # before
        (other, utc(2, 8), SessionStatus.PLANNED),  # other's
        (a.agreement, utc(7, 8), SessionStatus.CANCELLED_BY_CLIENT),
        (a.agreement, utc(20, 22, 30), SessionStatus.PLANNED),
        (a.agreement, utc(42, 8), SessionStatus.PLANNED),
    ):
        await add_session(
            owner, a.tenant, agreement, a.supervisor, starts_at=starts_at, status=status
        )
    view = await world.app.run(a, a.supervisor, content.set_assignment, a.session.id, "tehtävä")
    # 22.30 UTC is 0.30 (1.30 in summer) the next day in Helsinki
    assert view.due_on == day + timedelta(days=21)


async def test_without_a_next_session_an_assignment_is_due_a_cadence_later(world: World) -> None:
    a, owner = world.a, world.backend.owner
    agreement = await add_agreement(
        owner, a.tenant, a.org, a.supervisor, [a.supervisee], cadence_weeks=4
    )
    day = clock.working_day(30)
    late = datetime.combine(day, time(22, 30), UTC)  # the next day in Helsinki
    session = await add_session(owner, a.tenant, agreement, a.supervisor, starts_at=late)
    await add_session(  # held, not planned: not the next session
        owner,
        a.tenant,
        agreement,
        a.supervisor,
        starts_at=late + timedelta(weeks=2),
        status=SessionStatus.HELD,
    )
    view = await world.app.run(a, a.supervisor, content.set_assignment, session.id, "tehtävä")
    assert view.due_on == day + timedelta(days=1, weeks=4)


# --- at rest ----------------------------------------------------------------------------------


async def test_every_encrypted_field_is_ciphertext_bound_to_its_row(world: World) -> None:
    a = world.a
    await write_pieces(world.app, a, world.sanna)
    cipher = ContentCipher(V1)
    for spec in content.ENCRYPTED_FIELDS:
        rows = await raw_rows(world.backend, spec.model.__table__)
        assert rows, spec.table
        for row in rows:
            blob = bytes(getattr(row, spec.column))
            assert getattr(row, spec.version_column) == 1
            assert MARKER.encode() not in blob and MARKER.encode("utf-16-le") not in blob
            plain = cipher.decrypt(blob, spec.binding(a.tenant.id, row.id))
            assert MARKER in plain, spec.table
    evaluation = (await raw_rows(world.backend, content.Evaluation.__table__))[0]
    stored = cipher.decrypt(
        bytes(evaluation.body), content.ENCRYPTED_FIELDS[4].binding(a.tenant.id, evaluation.id)
    )
    assert json.loads(stored) == {"rating": 3, "comment": f"{MARKER} evaluation"}
    if not world.backend.is_postgres:
        async with world.backend.owner.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
        files = list(world.backend.settings.var_dir.glob("luotsi.db*"))
        assert files
        for path in files:
            assert MARKER.encode() not in path.read_bytes(), path.name


READ_BACK: dict[str, Callable[[World], tuple[Membership, Attempt]]] = {
    "session_notes": lambda w: (
        w.a.supervisor,
        lambda db, r: content.read_notes(db, r, w.a.session.id),
    ),
    "assignments": lambda w: (
        w.a.supervisor,
        lambda db, r: content.list_assignments(db, r, w.a.agreement.id),
    ),
    "assignment_responses": lambda w: (
        w.sanna,
        lambda db, r: content.list_assignments(db, r, w.a.agreement.id),
    ),
    "goals": lambda w: (w.sanna, lambda db, r: content.list_goals(db, r, w.a.agreement.id)),
    "evaluations": lambda w: (
        w.a.supervisor,
        lambda db, r: content.list_goals(db, r, w.a.agreement.id),
    ),
    "confidentiality_limits": lambda w: (
        w.sanna,
        lambda db, r: content.read_limits(db, r, w.a.agreement.id),
    ),
}


async def test_a_ciphertext_moved_to_another_row_or_firm_is_unreadable(world: World) -> None:
    a, backend = world.a, world.backend
    target = await write_pieces(world.app, a, world.sanna)
    elsewhere = await add_agreement(backend.owner, a.tenant, a.org, a.supervisor, [a.supervisee])
    session = await add_session(backend.owner, a.tenant, elsewhere, a.supervisor)
    source = await write_pieces(
        world.app, a, world.sanna, agreement=elsewhere, session=session, tag=" other"
    )
    assert set(READ_BACK) == {spec.table for spec in content.ENCRYPTED_FIELDS}
    for spec in content.ENCRYPTED_FIELDS:
        table = spec.model.__table__
        column = table.c[spec.column]
        target_id, source_id = target.of(spec.table), source.of(spec.table)
        actor, read = READ_BACK[spec.table](world)

        async def stored(row_id: uuid.UUID, column: Any = column, table: Table = table) -> bytes:
            async with backend.owner.connect() as conn:
                query = select(column).where(table.c.id == row_id)
                return bytes((await conn.execute(query)).scalar())

        async def store(
            row_id: uuid.UUID, blob: bytes, column: Any = column, table: Table = table
        ) -> None:
            await owner_execute(
                backend, update(table).where(table.c.id == row_id).values({column: blob})
            )

        original = await stored(target_id)
        # Another row's ciphertext of the same table and field.
        await store(target_id, await stored(source_id))
        error = await world.app.fails(ContentUnreadable, a, actor, read)
        assert str(target_id) in str(error) and MARKER not in str(error), spec.table
        # The ciphertext the same row id has in firm B.
        forged = ContentCipher(V1).encrypt(
            "toisen firman teksti", spec.binding(world.firms.b.tenant.id, target_id)
        )
        await store(target_id, forged)
        error = await world.app.fails(ContentUnreadable, a, actor, read)
        assert "toisen" not in str(error), spec.table
        # Put back, it reads again.
        await store(target_id, original)
        assert await world.app.run(a, actor, read), spec.table


# --- the audit of every touch ---------------------------------------------------------------


async def test_every_read_and_write_is_audited_with_whose_record_it_is(world: World) -> None:
    a, app = world.a, world.app
    group = await make_group(world.backend, a)
    watch = AuditWatch(world.backend)
    await watch.new()
    staff, p1, p2 = a.supervisor.user_id, group.l1.user_id, group.l2.user_id
    agreement, session = group.agreement.id, group.session.id
    one, two = group.p1.id, group.p2.id
    later = local_day(group.session) + timedelta(days=21)
    W, R, D = "content.written", "content.read", "content.deleted"
    AS, RS, GO, EV, LI, NO = (
        "assignment",
        "assignment_response",
        "goal",
        "evaluation",
        "confidentiality_limits",
        "session_note",
    )

    everyone = await app.run(a, a.supervisor, content.set_assignment, session, f"{MARKER} kaikille")
    assert await watch.lines() == [(W, AS, everyone.id, staff, agreement)]
    mine = await app.run(
        a, a.supervisor, content.set_assignment, session, f"{MARKER} p1", person_id=one
    )
    assert await watch.lines() == [(W, AS, mine.id, staff, one)]
    answer = await app.run(
        a, group.l1, content.respond_to_assignment, everyone.id, f"{MARKER} v", done=True
    )
    assert await watch.lines() == [(W, RS, answer.id, p1, one)]
    answer2 = await app.run(
        a, group.l2, content.respond_to_assignment, everyone.id, f"{MARKER} w", done=True
    )
    assert await watch.lines() == [(W, RS, answer2.id, p2, two)]
    await app.run(a, group.l1, content.list_assignments, agreement)
    assert await watch.lines() == by_text(
        [
            (R, AS, everyone.id, p1, agreement),
            (R, AS, mine.id, p1, one),
            (R, RS, answer.id, p1, one),
        ]
    )
    await app.run(a, a.supervisor, content.list_assignments, agreement)
    assert await watch.lines() == by_text(
        [
            (R, AS, everyone.id, staff, agreement),
            (R, AS, mine.id, staff, one),
            (R, RS, answer.id, staff, one),
            (R, RS, answer2.id, staff, two),
        ]
    )
    assert watch.rows == 1  # one row lists what the one view opened
    await app.run(a, a.supervisor, content.edit_assignment, mine.id, f"{MARKER}!", later)
    assert await watch.lines() == [(W, AS, mine.id, staff, one)]
    mine_answer = await app.run(a, group.l1, content.respond_to_assignment, mine.id, "", done=True)
    await watch.new()
    await app.run(a, a.supervisor, content.delete_assignment, mine.id)
    assert await watch.lines() == by_text(
        [(D, AS, mine.id, staff, one), (D, RS, mine_answer.id, staff, one)]
    )
    # A group's assignment goes with each member's response, in that member's history.
    await app.run(a, a.supervisor, content.delete_assignment, everyone.id)
    assert await watch.lines() == by_text(
        [
            (D, AS, everyone.id, staff, agreement),
            (D, RS, answer.id, staff, one),
            (D, RS, answer2.id, staff, two),
        ]
    )
    assert watch.rows == 1

    org = await app.run(a, a.supervisor, content.add_goal, agreement, ORG, f"{MARKER} yht")
    assert await watch.lines() == [(W, GO, org.id, staff, agreement)]
    own = await app.run(a, group.l2, content.add_goal, agreement, OWN, f"{MARKER} oma")
    assert await watch.lines() == [(W, GO, own.id, p2, two)]
    day = clock.days(-14)
    ev = await app.run(
        a,
        a.supervisor,
        content.record_evaluation,
        org.id,
        4,
        MARKER,
        evaluated_on=day,
        person_id=two,
    )
    assert await watch.lines() == [(W, EV, ev.id, staff, two)]
    await app.run(a, a.supervisor, content.list_goals, agreement)
    assert await watch.lines() == by_text(
        [(R, GO, org.id, staff, agreement), (R, GO, own.id, staff, two), (R, EV, ev.id, staff, two)]
    )
    assert watch.rows == 1
    await app.run(a, group.l1, content.list_goals, agreement)  # sees the group's goal only
    assert await watch.lines() == [(R, GO, org.id, p1, agreement)]
    await app.run(a, group.l2, content.revise_goal, own.id, f"{MARKER} oma 2")
    assert await watch.lines() == [(W, GO, own.id, p2, two)]
    await app.run(a, group.l2, content.delete_evaluation, ev.id)
    assert await watch.lines() == [(D, EV, ev.id, p2, two)]
    await app.run(a, group.l2, content.delete_goal, own.id)
    assert await watch.lines() == [(D, GO, own.id, p2, two)]

    await app.run(a, a.supervisor, content.write_limits, agreement, f"{MARKER} rajat")
    [limits_id] = [
        r.id for r in await raw_rows(world.backend, content.ConfidentialityLimits.__table__)
    ]
    assert await watch.lines() == [(W, LI, limits_id, staff, agreement)]
    await app.run(a, group.l2, content.read_limits, agreement)
    assert await watch.lines() == [(R, LI, limits_id, p2, agreement)]

    note = await app.run(a, a.supervisor, content.write_note, session, f"{MARKER} muistio")
    assert await watch.lines() == [(W, NO, note.id, staff, agreement)]
    await app.run(a, a.supervisor, content.read_notes, session)
    assert await watch.lines() == [(R, NO, note.id, staff, agreement)]

    # Every row: firm A's, the origin of the request, the actor's name at the time.
    rows = await audit_rows(world.backend)
    assert {(r.tenant_id, r.ip, r.user_agent) for r in rows} == {
        (a.tenant.id, ORIGIN["ip"], ORIGIN["user_agent"])
    }
    assert {r.actor_name for r in rows if r.actor_user_id == staff} == {"Maija Supervisor"}
    # No column of any row holds any of the texts.
    for row in rows:
        for value in row:
            assert MARKER not in str(value)


async def test_reading_one_item_decrypts_and_audits_that_item_only(world: World) -> None:
    """A confirmation page names one piece: only it (and an evaluation's goal) is opened."""
    a, app = world.a, world.app
    pieces = await write_pieces(app, a, world.sanna)
    supervisor = a.supervisor.user_id
    watch = AuditWatch(app.backend)
    await watch.new()

    [goal] = await app.run(
        a, a.supervisor, content.list_goals, a.agreement.id, evaluation_id=pieces.evaluation
    )
    assert goal.id == pieces.own_goal and [e.id for e in goal.evaluations] == [pieces.evaluation]
    person = a.supervisee.id
    assert await watch.lines() == by_text(
        [
            ("content.read", "evaluation", pieces.evaluation, supervisor, person),
            ("content.read", "goal", pieces.own_goal, supervisor, person),
        ]
    )
    [only] = await app.run(
        a, a.supervisor, content.list_goals, a.agreement.id, goal_id=pieces.org_goal
    )
    assert only.id == pieces.org_goal
    assert [line[2] for line in await watch.lines()] == [pieces.org_goal]
    [assignment] = await app.run(
        a, a.supervisor, content.list_assignments, a.agreement.id, assignment_id=pieces.assignment
    )
    assert assignment.id == pieces.assignment
    assert {line[2] for line in await watch.lines()} == {pieces.assignment, pieces.response}
    [note] = await app.run(a, a.supervisor, content.read_notes, a.session.id, note_id=pieces.note)
    assert note.id == pieces.note
    assert [line[2] for line in await watch.lines()] == [pieces.note]
