"""Content over time: key rotation of every field, erasure after the firm's retention period,
and a session note's life with its keeper (edit, delete, hand-over)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update

from luotsi.platform import clock
from luotsi.platform.crypto import ContentUnreadable
from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.jobs import JOBS, JobContext, run_job
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants import content
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.sessions.models import SupervisionSession
from tests.conftest import Backend
from tests.factories import Firm, Firms, add_agreement, add_session
from tests.tenants.content.test_content_shared import (
    CONTENT_TABLES,
    MARKER,
    OWN,
    V1,
    V1_V2,
    V2,
    App,
    Attempt,
    AuditWatch,
    add_agreement_supervisor,
    audit_rows,
    new_login,
    owner_execute,
    raw_rows,
    set_agreement,
    write_pieces,
)


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[App]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield App(make_sessionmaker(engine), clean_db)
    await engine.dispose()


async def logins(app: App, firms: Firms) -> tuple[Membership, Membership]:
    """Portal logins of both firms' supervisee Sanna."""
    a = await new_login(app.backend, firms.a, Role.SUPERVISEE, firms.a.supervisee)
    b = await new_login(app.backend, firms.b, Role.SUPERVISEE, firms.b.supervisee)
    return a, b


async def everything_reads(
    app: App, firm: Firm, sanna: Membership, keys: content.MasterKeys
) -> set[str]:
    """Every text of the firm's fixture agreement, read back through the module."""
    texts = {
        n.text
        for n in await app.run(
            firm, firm.supervisor, content.read_notes, firm.session.id, keys=keys
        )
    }
    for view in await app.run(
        firm, firm.supervisor, content.list_assignments, firm.agreement.id, keys=keys
    ):
        texts |= {view.text} | {r.text for r in view.responses}
    for goal in await app.run(firm, sanna, content.list_goals, firm.agreement.id, keys=keys):
        texts |= {goal.text} | {e.comment for e in goal.evaluations}
    limits = await app.run(firm, sanna, content.read_limits, firm.agreement.id, keys=keys)
    assert limits is not None
    return texts | {limits.text}


# --- rotation ---------------------------------------------------------------------------------


async def test_rotation_reencrypts_every_encrypted_field_of_every_firm(
    app_db: App, firms: Firms
) -> None:
    sanna_a, sanna_b = await logins(app_db, firms)
    await write_pieces(app_db, firms.a, sanna_a, keys=V1, tag=" A")
    await write_pieces(app_db, firms.b, sanna_b, keys=V1, tag=" B")
    expected_a = await everything_reads(app_db, firms.a, sanna_a, V1)
    expected_b = await everything_reads(app_db, firms.b, sanna_b, V1)
    assert len(expected_a) == len(expected_b) == 7
    before = {t.name: {r.id: r for r in await raw_rows(app_db.backend, t)} for t in CONTENT_TABLES}

    result = await content.rotate_keys_all_tenants(app_db.maker, V1_V2, batch_size=1)

    assert (result.key_version, result.tenants) == (2, 2)
    assert result.per_tenant == {"alfa": 7, "beeta": 7} and result.reencrypted == 14
    for spec in content.ENCRYPTED_FIELDS:
        rows = await raw_rows(app_db.backend, spec.model.__table__)
        assert len(rows) == (4 if spec.table == "goals" else 2), spec.table
        for row in rows:
            old = before[spec.table][row.id]
            assert getattr(row, spec.version_column) == 2, spec.table
            assert bytes(getattr(row, spec.column)) != bytes(getattr(old, spec.column))
            assert MARKER.encode() not in bytes(getattr(row, spec.column))
            assert row.updated_at == old.updated_at, spec.table  # rotation is not an edit
    # The old key can go: everything reads with version 2 alone, as before.
    assert await everything_reads(app_db, firms.a, sanna_a, V2) == expected_a
    assert await everything_reads(app_db, firms.b, sanna_b, V2) == expected_b

    again = await content.rotate_keys_all_tenants(app_db.maker, V1_V2)
    assert (again.reencrypted, again.per_tenant) == (0, {})


async def test_rotation_stops_at_a_value_it_cannot_read(app_db: App, firms: Firms) -> None:
    sanna, _b = await logins(app_db, firms)
    pieces = await write_pieces(app_db, firms.a, sanna, keys=V1)
    goals = content.Goal.__table__
    async with app_db.backend.owner.connect() as conn:
        org_body = (
            await conn.execute(select(goals.c.body).where(goals.c.id == pieces.org_goal))
        ).scalar()
    await owner_execute(
        app_db.backend,
        update(goals).where(goals.c.id == pieces.own_goal).values(body=org_body),
    )
    with pytest.raises(ContentUnreadable) as caught:
        await content.rotate_keys_all_tenants(app_db.maker, V1_V2)
    assert str(pieces.own_goal) in str(caught.value) and MARKER not in str(caught.value)
    # The batch rolled back: nothing was half rotated.
    for table in CONTENT_TABLES:
        assert {r.key_version for r in await raw_rows(app_db.backend, table)} == {1}


# --- retention --------------------------------------------------------------------------------


async def content_counts(backend: Backend, agreement_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each content table belong to one agreement (the schema owner's view)."""
    sessions = select(SupervisionSession.__table__.c.id).where(
        SupervisionSession.__table__.c.agreement_id == agreement_id
    )
    assignments = content.Assignment.__table__
    responses = content.AssignmentResponse.__table__
    notes = content.SessionNote.__table__
    queries = {
        "session_notes": select(func.count()).where(notes.c.session_id.in_(sessions)),
        "assignment_responses": select(func.count()).where(
            responses.c.assignment_id.in_(
                select(assignments.c.id).where(assignments.c.agreement_id == agreement_id)
            )
        ),
        "supervision_sessions": select(func.count()).select_from(sessions.subquery()),
    }
    for model in (
        content.Assignment,
        content.Goal,
        content.Evaluation,
        content.ConfidentialityLimits,
    ):
        table = model.__table__
        queries[table.name] = select(func.count()).where(table.c.agreement_id == agreement_id)
    async with backend.owner.connect() as conn:
        return {name: int((await conn.execute(q)).scalar() or 0) for name, q in queries.items()}


FULL = {
    "session_notes": 1,
    "assignments": 1,
    "assignment_responses": 1,
    "goals": 2,
    "evaluations": 1,
    "confidentiality_limits": 1,
    "supervision_sessions": 1,
}
ERASED = {name: 0 for name in FULL} | {"supervision_sessions": 1}


async def end(backend: Backend, agreement_id: uuid.UUID, at: datetime, **values: object) -> None:
    await set_agreement(
        backend, agreement_id, status=AgreementStatus.ENDED, status_changed_at=at, **values
    )


async def erase(app: App, firm: Firm, now: datetime) -> int:
    async with app.scoped(firm) as db, db.begin():
        tenant = await db.scalar(select(Tenant).where(Tenant.id == firm.tenant.id))
        assert tenant is not None
        return await content.erase_expired_content(
            JobContext(db, tenant, now, app.backend.settings)
        )


async def erased_at(backend: Backend, agreement_id: uuid.UUID) -> datetime | None:
    table = Agreement.__table__
    async with backend.owner.connect() as conn:
        query = select(table.c.content_erased_at).where(table.c.id == agreement_id)
        value: datetime | None = (await conn.execute(query)).scalar()
        return value


async def test_content_of_an_agreement_ended_past_the_retention_is_erased(
    app_db: App, firms: Firms
) -> None:
    a, b, backend = firms.a, firms.b, app_db.backend
    sanna, sanna_b = await logins(app_db, firms)
    now = clock.now()
    old = a.agreement
    recent = await add_agreement(backend.owner, a.tenant, a.org, a.supervisor, [a.supervisee])
    running = await add_agreement(backend.owner, a.tenant, a.org, a.supervisor, [a.supervisee])
    for agreement in (recent, running):
        session = await add_session(backend.owner, a.tenant, agreement, a.supervisor)
        await write_pieces(app_db, a, sanna, agreement=agreement, session=session)
    await write_pieces(app_db, a, sanna)
    await write_pieces(app_db, b, sanna_b)
    await end(backend, old.id, now - relativedelta(months=25))
    await end(backend, recent.id, now - relativedelta(months=23))
    await set_agreement(backend, running.id, status_changed_at=now - relativedelta(months=30))
    await end(backend, b.agreement.id, now - relativedelta(months=25))
    for agreement in (old, recent, running):
        assert await content_counts(backend, agreement.id) == FULL
    watch = AuditWatch(backend)
    await watch.new()

    assert await erase(app_db, a, now) == 1

    assert await content_counts(backend, old.id) == ERASED
    assert await erased_at(backend, old.id) == now
    assert await watch.lines() == [("content.erased", "agreement", old.id, None, old.id)]
    [erasure] = [r for r in await audit_rows(backend) if r.action == "content.erased"]
    assert (erasure.tenant_id, erasure.actor_name) == (a.tenant.id, "")
    for agreement in (recent, running):
        assert await content_counts(backend, agreement.id) == FULL
        assert await erased_at(backend, agreement.id) is None
    assert await content_counts(backend, b.agreement.id) == FULL  # firm B untouched
    assert await erased_at(backend, b.agreement.id) is None
    # The supervisor finds nothing left to read; the agreement itself and its sessions stay.
    assert await app_db.run(a, a.supervisor, content.list_assignments, old.id) == []
    assert await app_db.run(a, a.supervisor, content.read_limits, old.id) is None
    assert await app_db.run(a, a.supervisor, content.read_notes, a.session.id) == []

    # A second run has nothing to do.
    assert await erase(app_db, a, now) == 0
    assert await watch.lines() == []
    # Firm B's own run erases its agreement.
    assert await erase(app_db, b, now) == 1
    assert await content_counts(backend, b.agreement.id) == ERASED


async def test_a_firm_with_a_shorter_retention_erases_sooner(app_db: App, firms: Firms) -> None:
    a, b, backend = firms.a, firms.b, app_db.backend
    sanna, sanna_b = await logins(app_db, firms)
    await write_pieces(app_db, a, sanna)
    await write_pieces(app_db, b, sanna_b)
    now = clock.now()
    tenants = Tenant.__table__
    await owner_execute(
        backend,
        update(tenants).where(tenants.c.id == b.tenant.id).values(content_retention_months=6),
    )
    for firm in (a, b):
        await end(backend, firm.agreement.id, now - relativedelta(months=7))

    # As the worker runs it: every active firm, each in its own scoped transaction.
    assert await run_job(app_db.maker, backend.settings, JOBS["content_retention"], now) == 1

    assert await content_counts(backend, a.agreement.id) == FULL
    assert await content_counts(backend, b.agreement.id) == ERASED
    assert await erased_at(backend, b.agreement.id) == now
    assert await run_job(app_db.maker, backend.settings, JOBS["content_retention"], now) == 0


# --- a note's life --------------------------------------------------------------------------


async def test_the_keeper_edits_a_note_and_nobody_else_can(app_db: App, firms: Firms) -> None:
    a = firms.a
    note = await app_db.run(a, a.supervisor, content.write_note, a.session.id, f"{MARKER} 1")
    colleague = await new_login(app_db.backend, a, Role.SUPERVISOR)
    watch = AuditWatch(app_db.backend)
    await watch.new()
    for actor in (a.owner, a.admin, colleague):
        await app_db.fails(
            NotFound, a, actor, lambda db, r: content.edit_note(db, r, note.id, "kaapattu")
        )
    await app_db.fails(
        NotFound,
        firms.b,
        firms.b.supervisor,
        lambda db, r: content.edit_note(db, r, note.id, "kaapattu"),
    )
    error = await app_db.fails(
        Invalid, a, a.supervisor, lambda db, r: content.edit_note(db, r, note.id, " \n")
    )
    assert set(error.errors) == {"text"}  # type: ignore[attr-defined]
    assert await watch.lines() == []

    edited = await app_db.run(
        a, a.supervisor, content.edit_note, note.id, f"{MARKER} 2\r\n\r\nlisää", keys=V1_V2
    )
    assert (edited.id, edited.text) == (note.id, f"{MARKER} 2\n\nlisää")
    assert edited.updated_at >= note.updated_at
    assert await watch.lines() == [
        ("content.written", "session_note", note.id, a.supervisor.user_id, a.agreement.id)
    ]
    [row] = await raw_rows(app_db.backend, content.SessionNote.__table__)
    assert row.key_version == 2  # an edit seals with the current key
    notes = await app_db.run(a, a.supervisor, content.read_notes, a.session.id, keys=V1_V2)
    assert [n.text for n in notes] == [f"{MARKER} 2\n\nlisää"]


async def test_the_keeper_deletes_a_note_for_good(app_db: App, firms: Firms) -> None:
    a = firms.a
    first = await app_db.run(a, a.supervisor, content.write_note, a.session.id, "eka")
    second = await app_db.run(a, a.supervisor, content.write_note, a.session.id, "toka")
    watch = AuditWatch(app_db.backend)
    await watch.new()
    for actor in (a.owner, a.admin):
        await app_db.fails(NotFound, a, actor, lambda db, r: content.delete_note(db, r, first.id))
    assert await app_db.run(a, a.supervisor, content.delete_note, first.id) == a.session.id
    assert await watch.lines() == [
        ("content.deleted", "session_note", first.id, a.supervisor.user_id, a.agreement.id)
    ]
    rows = await raw_rows(app_db.backend, content.SessionNote.__table__)
    assert [r.id for r in rows] == [second.id]
    await app_db.fails(
        NotFound, a, a.supervisor, lambda db, r: content.delete_note(db, r, first.id)
    )
    notes = await app_db.run(a, a.supervisor, content.read_notes, a.session.id)
    assert [n.text for n in notes] == ["toka"]


async def test_notes_are_handed_over_to_another_supervisor_of_the_agreement(
    app_db: App, firms: Firms
) -> None:
    a, backend = firms.a, app_db.backend
    giver = a.supervisor
    second = await new_login(backend, a, Role.SUPERVISOR)
    third = await new_login(backend, a, Role.SUPERVISOR)
    outsider = await new_login(backend, a, Role.SUPERVISOR)  # not on the agreement
    for member in (second, third):
        await add_agreement_supervisor(backend, a, a.agreement, member)
    later = await add_session(backend.owner, a.tenant, a.agreement, giver)
    one = await app_db.run(a, giver, content.write_note, a.session.id, f"{MARKER} eka")
    two = await app_db.run(a, giver, content.write_note, later.id, f"{MARKER} toka")
    other = await add_agreement(backend.owner, a.tenant, a.org, giver, [a.supervisee])
    elsewhere = await add_session(backend.owner, a.tenant, other, giver)
    kept = await app_db.run(a, giver, content.write_note, elsewhere.id, "muu sopimus")
    assert await app_db.call(a, content.notes_to_hand_over, giver, a.agreement.id) == 2
    assert await app_db.call(a, content.notes_to_hand_over, second, a.agreement.id) == 0
    assert await app_db.call(a, content.notes_to_hand_over, a.owner, a.agreement.id) == 0
    watch = AuditWatch(backend)
    await watch.new()

    # Only to another supervisor of the agreement, and only one's own notes.
    for recipient in (a.owner, a.admin, outsider, giver, firms.b.supervisor):
        error = await app_db.fails(
            Invalid,
            a,
            giver,
            lambda db, r, to=recipient: content.hand_over_notes(db, r, a.agreement.id, to),
        )
        assert set(error.errors) == {"recipient"}  # type: ignore[attr-defined]
    error = await app_db.fails(  # on the agreement, but no notes to give
        Invalid, a, second, lambda db, r: content.hand_over_notes(db, r, a.agreement.id, third)
    )
    assert set(error.errors) == {"recipient"}  # type: ignore[attr-defined]
    for stranger in (a.owner, outsider):
        await app_db.fails(
            NotFound,
            a,
            stranger,
            lambda db, r: content.hand_over_notes(db, r, a.agreement.id, second),
        )
    assert await watch.lines() == []

    moved = await app_db.run(a, giver, content.hand_over_notes, a.agreement.id, second)
    assert moved == 2
    assert await watch.lines() == sorted(
        [
            ("content.handed_over", "session_note", one.id, giver.user_id, a.agreement.id),
            ("content.handed_over", "session_note", two.id, giver.user_id, a.agreement.id),
        ],
        key=str,
    )
    # The giver stops reading them (still the session's supervisor: an empty list).
    assert await app_db.run(a, giver, content.read_notes, a.session.id) == []
    assert await app_db.run(a, giver, content.read_notes, later.id) == []
    await app_db.fails(NotFound, a, giver, lambda db, r: content.edit_note(db, r, one.id, "x"))
    assert await app_db.call(a, content.notes_to_hand_over, giver, a.agreement.id) == 0
    # The note on another agreement stays the giver's.
    assert [n.id for n in await app_db.run(a, giver, content.read_notes, elsewhere.id)] == [kept.id]
    # The recipient reads them, knowing who wrote them.
    [note] = await app_db.run(a, second, content.read_notes, a.session.id)
    assert (note.id, note.text, note.handed_over_from) == (one.id, f"{MARKER} eka", giver.id)
    assert note.handed_over_at is not None
    await app_db.run(a, second, content.edit_note, two.id, f"{MARKER} toka, täydennetty")

    # A second hand-over keeps the writer.
    assert await app_db.run(a, second, content.hand_over_notes, a.agreement.id, third) == 2
    await app_db.fails(NotFound, a, second, lambda db, r: content.read_notes(db, r, a.session.id))
    notes = await app_db.run(a, third, content.read_notes, later.id)
    assert [(n.text, n.handed_over_from) for n in notes] == [
        (f"{MARKER} toka, täydennetty", giver.id)
    ]
    rows = await raw_rows(backend, content.SessionNote.__table__)
    assert {r.id: r.author_membership_id for r in rows} == {
        one.id: third.id,
        two.id: third.id,
        kept.id: giver.id,
    }


async def test_a_notes_length_counts_line_breaks_as_browsers_send_them(
    app_db: App, firms: Firms
) -> None:
    a = firms.a
    # A browser sends a textarea's line breaks as CRLF: 16,001 characters, 20,001 bytes sent.
    sent = "abc\r\n" * 4000 + "x"
    assert len(sent) > content.NOTE_MAX_CHARS
    note = await app_db.run(a, a.supervisor, content.write_note, a.session.id, sent)
    assert note.text == "abc\n" * 4000 + "x"
    edited = await app_db.run(a, a.supervisor, content.edit_note, note.id, sent + "y")
    assert len(edited.text) == 16_002
    for too_long in ("y" * (content.NOTE_MAX_CHARS + 1), "\r\n" + "y" * 20_001):
        with pytest.raises(Invalid) as caught:
            content.clean_note_text(too_long)
        assert set(caught.value.errors) == {"text"}


async def test_nothing_new_is_written_once_the_content_was_erased(
    app_db: App, firms: Firms
) -> None:
    """Erased content would never be erased again: the agreement takes no new content."""
    a, backend = firms.a, app_db.backend
    sanna, _sanna_b = await logins(app_db, firms)
    pieces = await write_pieces(app_db, a, sanna)
    await end(backend, a.agreement.id, clock.now() - relativedelta(months=25))
    assert await erase(app_db, a, clock.now()) == 1
    attempts: list[tuple[Membership, Attempt]] = [
        (a.supervisor, lambda db, r: content.write_note(db, r, a.session.id, "x")),
        (a.supervisor, lambda db, r: content.set_assignment(db, r, a.session.id, "x")),
        (a.supervisor, lambda db, r: content.write_limits(db, r, a.agreement.id, "x")),
        (sanna, lambda db, r: content.add_goal(db, r, a.agreement.id, OWN, "x")),
    ]
    for actor, attempt in attempts:
        error = await app_db.fails(Invalid, a, actor, attempt)
        assert isinstance(error, Invalid) and "agreement" in error.errors
    assert await content_counts(backend, a.agreement.id) == ERASED
    assert pieces.note  # the erased pieces existed before
