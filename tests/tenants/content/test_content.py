"""Session notes through the content module: author-only access, ciphertext at rest, rotation."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
import structlog
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from luotsi.platform.crypto import ContentUnreadable, MasterKeys, UnknownKeyVersion
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants import content
from luotsi.tenants.content import NOTE_MAX_CHARS, Note, SessionNote
from luotsi.tenants.sessions.models import SupervisionSession
from tests.conftest import Backend, postgres_only
from tests.factories import Firm, Firms, add_member, make_user

MARKER = "SALAINEN-MERKKIJONO-7f3a"
KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
V1 = MasterKeys.parse(f"1:{KEY1}")
V1_V2 = MasterKeys.parse(f"1:{KEY1},2:{KEY2}")
V2 = MasterKeys.parse(f"2:{KEY2}")


@dataclass
class App:
    """The app's view of the database: the runtime role (RLS applies on PostgreSQL)."""

    engine: AsyncEngine
    backend: Backend

    @property
    def maker(self) -> async_sessionmaker[AsyncSession]:
        return make_sessionmaker(self.engine)

    def scoped(self, firm: Firm) -> AsyncSession:
        db = self.maker()
        db.info[TENANT_KEY] = firm.tenant.id
        return db

    async def write(
        self,
        firm: Firm,
        actor: Membership,
        body: str,
        keys: MasterKeys = V1,
        session: SupervisionSession | None = None,
    ) -> Note:
        async with self.scoped(firm) as db, db.begin():
            reader = content.Reader(actor, keys)
            return await content.write_note(db, reader, (session or firm.session).id, body)

    async def read(
        self,
        firm: Firm,
        actor: Membership,
        keys: MasterKeys = V1,
        session: SupervisionSession | None = None,
    ) -> list[Note]:
        async with self.scoped(firm) as db, db.begin():
            reader = content.Reader(actor, keys)
            return await content.read_notes(db, reader, (session or firm.session).id)


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[App]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield App(engine, clean_db)
    await engine.dispose()


async def raw_notes(backend: Backend) -> list[tuple[uuid.UUID, bytes, int]]:
    """Every stored note as the schema owner sees it: id, body, key version."""
    async with backend.owner.connect() as conn:
        rows = await conn.execute(text("select id, body, key_version from session_notes"))
        return [(uuid.UUID(str(i)), bytes(b), v) for i, b, v in rows]


async def other_member(backend: Backend, firm: Firm, role: Role) -> Membership:
    user = await make_user(backend.owner, f"{role.value}-{uuid.uuid4().hex[:6]}@x.example", "X")
    return await add_member(backend.owner, firm.tenant, user, role)


# --- the author, and nobody else ------------------------------------------------------------


async def test_supervisor_reads_back_their_own_notes_in_order(app_db: App, firms: Firms) -> None:
    a = firms.a
    await app_db.write(a, a.supervisor, f"Ensimmäinen {MARKER}\r\n\r\nToinen kappale")
    await app_db.write(a, a.supervisor, "- lista\n- toinen")
    notes = await app_db.read(a, a.supervisor)
    assert [n.text for n in notes] == [
        f"Ensimmäinen {MARKER}\n\nToinen kappale",
        "- lista\n- toinen",
    ]
    assert notes[0].paragraphs == [f"Ensimmäinen {MARKER}", "Toinen kappale"]


async def test_session_supervisor_without_notes_gets_an_empty_list(
    app_db: App, firms: Firms
) -> None:
    assert await app_db.read(firms.a, firms.a.supervisor) == []


@pytest.mark.parametrize("who", ["owner", "admin"])
async def test_owner_and_admin_never_read_or_write_notes(
    app_db: App, firms: Firms, who: str
) -> None:
    a = firms.a
    await app_db.write(a, a.supervisor, MARKER)
    actor = getattr(a, who)
    with pytest.raises(NotFound) as caught:
        await app_db.read(a, actor)
    assert MARKER not in str(caught.value)
    with pytest.raises(NotFound):
        await app_db.write(a, actor, "yritys")


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.CLIENT_CONTACT, Role.SUPERVISEE])
async def test_other_members_get_not_found(
    app_db: App, clean_db: Backend, firms: Firms, role: Role
) -> None:
    a = firms.a
    await app_db.write(a, a.supervisor, MARKER)
    other = await other_member(clean_db, a, role)
    with pytest.raises(NotFound):
        await app_db.read(a, other)
    with pytest.raises(NotFound):
        await app_db.write(a, other, "yritys")


async def test_a_new_supervisor_does_not_inherit_notes_and_the_author_keeps_them(
    app_db: App, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await app_db.write(a, a.supervisor, MARKER)
    successor = await other_member(clean_db, a, Role.SUPERVISOR)
    sessions = SupervisionSession.__table__
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            update(sessions).where(sessions.c.id == a.session.id).values(supervisor_id=successor.id)
        )
    assert await app_db.read(a, successor) == []
    assert [n.text for n in await app_db.read(a, a.supervisor)] == [MARKER]
    with pytest.raises(NotFound):  # no longer the session's supervisor: no new notes
        await app_db.write(a, a.supervisor, "lisää")


async def test_another_firms_session_is_not_found(app_db: App, firms: Firms) -> None:
    await app_db.write(firms.b, firms.b.supervisor, MARKER)
    with pytest.raises(NotFound):
        await app_db.read(firms.a, firms.a.supervisor, session=firms.b.session)
    with pytest.raises(NotFound):
        await app_db.write(firms.a, firms.a.supervisor, "x", session=firms.b.session)


@pytest.mark.parametrize(
    ("body", "problem"),
    [("   \n ", "empty"), ("x" * (NOTE_MAX_CHARS + 1), "long"), ("a\x00b", "control")],
)
async def test_invalid_note_text_is_refused(
    app_db: App, firms: Firms, body: str, problem: str
) -> None:
    with pytest.raises(Invalid) as caught:
        await app_db.write(firms.a, firms.a.supervisor, body)
    assert set(caught.value.errors) == {"text"}


async def test_a_note_of_the_maximum_length_is_kept(app_db: App, firms: Firms) -> None:
    body = "ä" * NOTE_MAX_CHARS
    await app_db.write(firms.a, firms.a.supervisor, body)
    assert (await app_db.read(firms.a, firms.a.supervisor))[0].text == body


# --- at rest ------------------------------------------------------------------------------


async def test_plaintext_is_not_stored(app_db: App, clean_db: Backend, firms: Firms) -> None:
    note = await app_db.write(firms.a, firms.a.supervisor, f"Luottamuksellista {MARKER}")
    [(row_id, body, version)] = await raw_notes(clean_db)
    assert row_id == note.id and version == 1
    assert MARKER.encode() not in body and MARKER.encode("utf-16-le") not in body
    if not clean_db.is_postgres:
        async with clean_db.owner.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
        files = list(clean_db.settings.var_dir.glob("luotsi.db*"))
        assert files
        for path in files:
            assert MARKER.encode() not in path.read_bytes(), path.name


async def test_a_ciphertext_copied_to_another_row_fails_to_decrypt(
    app_db: App, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    first = await app_db.write(a, a.supervisor, MARKER)
    second = await app_db.write(a, a.supervisor, "toinen")
    notes = SessionNote.__table__
    async with clean_db.owner.begin() as conn:
        body = (await conn.execute(select(notes.c.body).where(notes.c.id == first.id))).scalar()
        await conn.execute(update(notes).where(notes.c.id == second.id).values(body=body))
    with pytest.raises(ContentUnreadable) as caught:
        await app_db.read(a, a.supervisor)
    assert str(second.id) in str(caught.value) and MARKER not in str(caught.value)


async def test_nothing_logs_the_content(
    app_db: App, firms: Firms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as captured:
        await app_db.write(firms.a, firms.a.supervisor, MARKER)
        await app_db.read(firms.a, firms.a.supervisor)
        with pytest.raises(NotFound):
            await app_db.read(firms.a, firms.a.owner)
    assert MARKER not in caplog.text
    assert MARKER not in repr(captured)


@postgres_only
async def test_rls_hides_another_firms_notes_from_the_app_role(
    app_db: App, clean_db: Backend, firms: Firms
) -> None:
    await app_db.write(firms.a, firms.a.supervisor, MARKER)
    async with app_db.engine.begin() as conn:
        assert (await conn.execute(text("select count(*) from session_notes"))).scalar() == 0
        await conn.execute(
            text("select set_config('app.tenant_id', :t, true)"), {"t": str(firms.b.tenant.id)}
        )
        leaked = await conn.execute(
            text("select count(*) from session_notes where tenant_id = :a"),
            {"a": str(firms.a.tenant.id)},
        )
        assert leaked.scalar() == 0
        await conn.execute(
            text("select set_config('app.tenant_id', :t, true)"), {"t": str(firms.a.tenant.id)}
        )
        assert (await conn.execute(text("select count(*) from session_notes"))).scalar() == 1


# --- rotation -----------------------------------------------------------------------------


async def test_rotation_reencrypts_every_firm_and_the_old_key_can_go(
    app_db: App, clean_db: Backend, firms: Firms
) -> None:
    await app_db.write(firms.a, firms.a.supervisor, f"A1 {MARKER}")
    await app_db.write(firms.a, firms.a.supervisor, "A2")
    await app_db.write(firms.b, firms.b.supervisor, "B1")
    before = {i: b for i, b, _v in await raw_notes(clean_db)}
    async with clean_db.owner.connect() as conn:
        stamps = dict((await conn.execute(text("select id, updated_at from session_notes"))).all())

    result = await content.rotate_keys_all_tenants(app_db.maker, V1_V2, batch_size=1)

    assert result.per_tenant == {"alfa": 2, "beeta": 1}
    assert (result.reencrypted, result.tenants, result.key_version) == (3, 2, 2)
    after = await raw_notes(clean_db)
    assert {v for _i, _b, v in after} == {2}
    assert all(before[i] != b and MARKER.encode() not in b for i, b, _v in after)
    async with clean_db.owner.connect() as conn:
        assert stamps == dict(
            (await conn.execute(text("select id, updated_at from session_notes"))).all()
        )
    # Version 1 removed: everything still reads.
    assert [n.text for n in await app_db.read(firms.a, firms.a.supervisor, V2)] == [
        f"A1 {MARKER}",
        "A2",
    ]
    assert [n.text for n in await app_db.read(firms.b, firms.b.supervisor, V2)] == ["B1"]


async def test_rotation_is_idempotent(app_db: App, firms: Firms) -> None:
    await app_db.write(firms.a, firms.a.supervisor, MARKER)
    await content.rotate_keys_all_tenants(app_db.maker, V1_V2)
    again = await content.rotate_keys_all_tenants(app_db.maker, V1_V2)
    assert (again.reencrypted, again.per_tenant) == (0, {})


async def test_notes_written_after_a_new_version_use_it(app_db: App, firms: Firms) -> None:
    await app_db.write(firms.a, firms.a.supervisor, "vanha", keys=V1)
    await app_db.write(firms.a, firms.a.supervisor, "uusi", keys=V1_V2)
    with pytest.raises(UnknownKeyVersion):
        await app_db.read(firms.a, firms.a.supervisor, keys=V2)
    notes = await app_db.read(firms.a, firms.a.supervisor, keys=V1_V2)
    assert [n.text for n in notes] == ["vanha", "uusi"]


async def test_the_apps_configured_keys_encrypt_notes(app_db: App, firms: Firms) -> None:
    keys = app_db.backend.settings.content_keys
    await app_db.write(firms.a, firms.a.supervisor, MARKER, keys=keys)
    assert [n.text for n in await app_db.read(firms.a, firms.a.supervisor, keys=keys)] == [MARKER]
    other = replace(app_db.backend.settings, master_keys=f"1:{KEY2}").content_keys
    with pytest.raises(ContentUnreadable):
        await app_db.read(firms.a, firms.a.supervisor, keys=other)
