"""Data migrations: what they do to rows written before them (on a file database, migrated
step by step as an upgrade in production would be)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from dateutil.relativedelta import relativedelta
from sqlalchemy import Integer, LargeBinary, String, Uuid, column, inspect, select, table, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import joinedload

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import BillingProfile, Invoice, InvoiceStatus, Payment
from luotsi.platform import clock
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, Base, UTCDateTime, make_engine, make_sessionmaker
from luotsi.platform.migrate import alembic_config, upgrade
from luotsi.platform.settings import Settings, load_settings
from luotsi.platform.storage import make_file_store
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementDocument,
    AgreementStatus,
    Review,
    ReviewDecision,
)
from luotsi.tenants.clients.models import ClientPerson, PersonRole
from luotsi.tenants.directory.models import Inquiry, StaffProfile
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SupervisionSession
from tests import conftest
from tests.backends import settings_env
from tests.factories import add_client_org, add_inquiry, add_person, make_firm, make_user
from tests.s3 import S3Server


async def test_migration_0008_writes_firms_business_ids_with_the_hyphen(tmp_path: Path) -> None:
    settings = load_settings(settings_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"), env_file="")
    await upgrade(settings, "0007")
    engine = make_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            for slug, business_id in (("a", "20774740"), ("b", "0737546-2"), ("c", "x")):
                await conn.execute(
                    text(
                        "insert into tenants (id, slug, name, business_id, status,"
                        " content_retention_months, created_at)"
                        " values (:id, :slug, 'Firm Oy', :bid, 'active', 24, :now)"
                    ),
                    {"id": uuid.uuid4().hex, "slug": slug, "bid": business_id, "now": clock.now()},
                )
        await upgrade(settings)
        async with engine.connect() as conn:
            rows = await conn.execute(text("select slug, business_id from tenants order by slug"))
            stored = dict(rows.tuples().all())
    finally:
        await engine.dispose()
    # A value that is not a business ID at all is left for a person to look at.
    assert stored == {"a": "2077474-0", "b": "0737546-2", "c": "x"}


async def test_migration_0011_clears_the_none_an_empty_form_published(tmp_path: Path) -> None:
    settings = load_settings(settings_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"), env_file="")
    await upgrade(settings, "0010")
    engine = make_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            for slug, description, email in (
                ("a", "None", "None"),
                ("b", "Työnohjausta Hyvinkäällä. None of it is therapy.", "info@b.example"),
            ):
                tenant_id = uuid.uuid4().hex
                await conn.execute(
                    text(
                        "insert into tenants (id, slug, name, business_id, status,"
                        " content_retention_months, created_at)"
                        " values (:id, :slug, 'Firm Oy', '0737546-2', 'active', 24, :now)"
                    ),
                    {"id": tenant_id, "slug": slug, "now": clock.now()},
                )
                await conn.execute(
                    text(
                        "insert into firm_profiles (tenant_id, id, description_fi, description_sv,"
                        " description_en, public_email, public_phone, directory_enabled,"
                        " updated_at) values (:t, :id, :d, :d, 'None', :e, '', 1, :now)"
                    ),
                    {
                        "t": tenant_id,
                        "id": uuid.uuid4().hex,
                        "d": description,
                        "e": email,
                        "now": clock.now(),
                    },
                )
        await upgrade(settings)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "select t.slug, p.description_fi, p.description_sv, p.description_en,"
                    " p.public_email from firm_profiles p join tenants t on t.id = p.tenant_id"
                    " order by t.slug"
                )
            )
            stored = {row[0]: tuple(row[1:]) for row in rows}
    finally:
        await engine.dispose()
    text_b = "Työnohjausta Hyvinkäällä. None of it is therapy."
    assert stored == {"a": ("", "", "", ""), "b": (text_b, text_b, "", "info@b.example")}


@pytest.fixture(params=["sqlite", "postgres"])
async def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        server = conftest._state["pg"]
        if server is None:
            pytest.skip(f"PostgreSQL not available: {conftest._state['pg_how']}")
        url = server.url_for(await server.create_database(migrated=False))
    return load_settings(settings_env(tmp_path, url), env_file="")


async def _insert_as_of(engine: AsyncEngine, model: type[Base], **values: object) -> uuid.UUID:
    """A row of ``model``'s table as the database's current revision has it.

    Columns the revision lacks are left out and the ones it has are filled from ``values``, else
    from the model's defaults, so a later migration adding a column does not break the test of
    an earlier one.
    """
    values.setdefault("id", uuid.uuid4())
    name = model.__table__.name
    async with engine.begin() as conn:
        present = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns(name)}
        )
        row: dict[str, object] = {}
        columns = [col for col in model.__table__.columns if col.name in present]
        for col in columns:
            if col.name in values:
                row[col.name] = values[col.name]
            elif col.default is not None and col.default.is_scalar:
                row[col.name] = col.default.arg
            elif col.default is not None and col.default.is_callable:
                row[col.name] = col.default.arg(None)
        as_of = table(name, *(column(col.name, col.type) for col in columns))
        await conn.execute(as_of.insert().values(row))
    return values["id"]  # type: ignore[return-value]


async def _add_membership(engine: AsyncEngine, tenant: Tenant, name: str) -> uuid.UUID:
    user = await make_user(engine, f"{name.lower()}@example.fi", name)
    return await _insert_as_of(
        engine, Membership, tenant_id=tenant.id, user_id=user.id, role="supervisor"
    )


async def _add_agreement(engine: AsyncEngine, tenant: Tenant, org_id: uuid.UUID) -> uuid.UUID:
    """An active agreement without supervisors or supervisees, as of the current revision."""
    return await _insert_as_of(
        engine,
        Agreement,
        tenant_id=tenant.id,
        org_id=org_id,
        kind=SupervisionKind.INDIVIDUAL,
        start_date=clock.today(),
        end_date=clock.today() + timedelta(days=365),
        status=AgreementStatus.ACTIVE,
    )


async def test_migration_0012_gives_history_its_deleted_members_back(unmigrated: Settings) -> None:
    await upgrade(unmigrated, "0011")
    engine = make_engine(unmigrated.owner_database_url)
    try:
        firm = await make_firm(engine, "a", "Firm Oy", "0737546-2")
        other = await make_firm(engine, "b", "Other Oy", "0737546-2")
        kept = await _add_membership(engine, firm, "Kept")
        elsewhere = await _add_membership(engine, other, "Elsewhere")
        # Deleted before 0012: the row is gone, the ids stay in the firm's history.
        gone = Membership(id=uuid.uuid4())
        org = await add_client_org(engine, firm)
        person = await add_person(
            engine, firm, org, PersonRole.HR_CONTACT, "Hanna", membership_id=uuid.uuid4()
        )
        agreement_id = await _add_agreement(engine, firm, org.id)
        session_id = await _insert_as_of(
            engine,
            SupervisionSession,
            tenant_id=firm.id,
            agreement_id=agreement_id,
            supervisor_id=gone.id,
            starts_at=clock.now(),
            duration_minutes=60,
            uid=f"{uuid.uuid4()}@luotsi",
        )
        notes = table(
            "session_notes",
            *(column(c, Uuid()) for c in ("tenant_id", "id", "session_id", "author_membership_id")),
            column("body", LargeBinary()),
            column("key_version", Integer()),
            column("created_at", UTCDateTime()),
            column("updated_at", UTCDateTime()),
        )
        async with engine.begin() as conn:
            await conn.execute(
                notes.insert().values(
                    tenant_id=firm.id,
                    id=uuid.uuid4(),
                    session_id=session_id,
                    author_membership_id=gone.id,
                    body=b"ciphertext",
                    key_version=1,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        # An inquiry assigned to a member of another firm points at nothing in its own.
        inquiry = await add_inquiry(
            engine, firm, assigned_membership_id=elsewhere, requested_profile_id=uuid.uuid4()
        )
        assigned = await add_inquiry(engine, firm, assigned_membership_id=kept)

        await upgrade(unmigrated)

        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firm.id
            restored = await db.scalar(
                select(Membership)
                .options(joinedload(Membership.user))
                .where(Membership.id == gone.id)
            )
            assert restored is not None and restored.deactivated_at is not None
            assert restored.user.name == "Entinen jäsen" and not restored.user.is_active
            assert restored.user.password_hash is None
            held = await db.scalar(
                select(SupervisionSession).where(SupervisionSession.id == session_id)
            )
            assert held is not None and held.supervisor_id == gone.id
            cleared = await db.scalar(select(Inquiry).where(Inquiry.id == inquiry.id))
            assert cleared is not None
            assert (cleared.assigned_membership_id, cleared.requested_profile_id) == (None, None)
            still = await db.scalar(select(Inquiry).where(Inquiry.id == assigned.id))
            assert still is not None and still.assigned_membership_id == kept
            login = await db.scalar(select(ClientPerson).where(ClientPerson.id == person.id))
            assert login is not None and login.membership_id is None
            current = await db.scalar(select(Membership).where(Membership.id == kept))
            assert current is not None and current.deactivated_at is None
    finally:
        await engine.dispose()


async def test_migration_0012_stops_on_content_of_no_person_and_changes_nothing(
    unmigrated: Settings,
) -> None:
    await upgrade(unmigrated, "0011")
    engine = make_engine(unmigrated.owner_database_url)
    try:
        firm = await make_firm(engine, "a", "Firm Oy", "0737546-2")
        await _add_membership(engine, firm, "Kept")
        org = await add_client_org(engine, firm)
        agreement_id = await _add_agreement(engine, firm, org.id)
        nobody = uuid.uuid4()
        goals = table(
            "goals",
            *(column(c, Uuid()) for c in ("tenant_id", "id", "agreement_id", "person_id")),
            column("source", String()),
            column("body", LargeBinary()),
            column("key_version", Integer()),
            column("created_at", UTCDateTime()),
            column("updated_at", UTCDateTime()),
        )
        async with engine.begin() as conn:
            await conn.execute(
                goals.insert().values(
                    tenant_id=firm.id,
                    id=uuid.uuid4(),
                    agreement_id=agreement_id,
                    person_id=nobody,
                    source="own",
                    body=b"ciphertext",
                    key_version=1,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
        with pytest.raises(RuntimeError) as stopped:
            await upgrade(unmigrated)
        assert "goals.person_id: 1 value(s)" in str(stopped.value)
        assert str(nobody) in str(stopped.value)
        async with engine.connect() as conn:
            version = await conn.scalar(text("select version_num from alembic_version"))
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("memberships")]
            )
        assert version == "0011" and "deactivated_at" not in columns
    finally:
        await engine.dispose()


async def test_migration_0015_gives_every_agreement_its_next_review_date(
    unmigrated: Settings,
) -> None:
    await upgrade(unmigrated, "0014")
    engine = make_engine(unmigrated.owner_database_url)
    try:
        firm = await make_firm(engine, "a", "Firm Oy", "0737546-2")
        org = await add_client_org(engine, firm)
        start = clock.today() - timedelta(days=100)
        never_reviewed = await _add_agreement(engine, firm, org.id)
        reviewed = await _insert_as_of(
            engine,
            Agreement,
            tenant_id=firm.id,
            org_id=org.id,
            kind=SupervisionKind.INDIVIDUAL,
            start_date=start,
            end_date=start + timedelta(days=365),
            review_interval_months=3,
            status=AgreementStatus.ACTIVE,
        )
        for held_on in (start + timedelta(days=80), start + timedelta(days=60)):
            await _insert_as_of(
                engine,
                Review,
                tenant_id=firm.id,
                agreement_id=reviewed,
                held_on=held_on,
                decision=ReviewDecision.CONTINUE,
            )
        ending = await _insert_as_of(
            engine,
            Agreement,
            tenant_id=firm.id,
            org_id=org.id,
            kind=SupervisionKind.GROUP,
            start_date=start,
            end_date=start + timedelta(days=120),  # before six months are up
            status=AgreementStatus.ACTIVE,
        )
        await upgrade(unmigrated)
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Agreement.__table__.c.id, Agreement.__table__.c.review_due_on)
            )
            due = dict(rows.tuples().all())
    finally:
        await engine.dispose()
    assert due == {
        never_reviewed: clock.today() + relativedelta(months=6),
        reviewed: start + timedelta(days=80) + relativedelta(months=3),
        ending: start + timedelta(days=120),
    }


async def test_migration_0016_keeps_every_audit_row(unmigrated: Settings) -> None:
    await upgrade(unmigrated, "0015")
    engine = make_engine(unmigrated.owner_database_url)
    now = clock.now()
    old = now - relativedelta(months=5)
    try:
        ids = [
            await _insert_as_of(
                engine,
                AuditEvent,
                at=at,
                action="login.failed",
                actor_name="",
                object_type="",
                ip="192.0.2.1",
                user_agent="",
            )
            for at in (old, now)
        ]
        await upgrade(unmigrated)
        async with engine.connect() as conn:
            rows = await conn.execute(select(AuditEvent.__table__.c.id, AuditEvent.__table__.c.at))
            assert sorted(rows.tuples().all(), key=lambda row: row[1]) == [
                (ids[0], old),
                (ids[1], now),
            ]
            if unmigrated.is_postgres:
                default = "SELECT count(*) FROM audit_partitions.audit_events_default"
                assert await conn.scalar(text(default)) == 0  # each in its month
        await upgrade(unmigrated, "0015")
        async with engine.connect() as conn:
            kept = await conn.scalars(select(AuditEvent.__table__.c.id))
            assert set(kept) == set(ids)
    finally:
        await engine.dispose()


# (table, bytes column before 0017, key column after)
STORED_FILES = (
    ("staff_profiles", "photo", "photo_key"),
    ("billing_profiles", "logo", "logo_key"),
    ("agreement_documents", "pdf", "pdf_key"),
)


async def _downgrade(settings: Settings, revision: str) -> None:
    """Alembic's downgrade, run as :func:`luotsi.platform.migrate.upgrade` runs upgrades."""

    def run(connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        cfg.attributes["files"] = make_file_store(settings)
        command.downgrade(cfg, revision)

    engine = make_engine(settings.owner_database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _file_columns(engine: AsyncEngine, column_of: int) -> dict[str, object]:
    """Each table's one value of its bytes column (0) or key column (1), by table."""
    found: dict[str, object] = {}
    async with engine.connect() as conn:
        for name, *columns in STORED_FILES:
            found[name] = (
                await conn.execute(text(f"select {columns[column_of]} from {name}"))
            ).scalar_one()
    return found


@pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)
async def test_migration_0017_moves_file_bytes_into_the_store_and_back(
    unmigrated: Settings, storage: str, request: pytest.FixtureRequest
) -> None:
    settings = unmigrated
    if storage == "s3":
        s3: S3Server = request.getfixturevalue("s3_server")
        settings = s3.settings(unmigrated, f"migration-{uuid.uuid4().hex}")
    await upgrade(settings, "0016")
    engine = make_engine(settings.owner_database_url)
    contents = {name: f"{name} bytes".encode() for name, *_columns in STORED_FILES}
    try:
        firm = await make_firm(engine, "a", "Firm Oy", "0737546-2")
        membership = await _add_membership(engine, firm, "Maija")
        org = await add_client_org(engine, firm)
        agreement = await _add_agreement(engine, firm, org.id)
        await _insert_as_of(
            engine, StaffProfile, tenant_id=firm.id, membership_id=membership, display_name="M"
        )
        await _insert_as_of(engine, BillingProfile, tenant_id=firm.id)
        await _insert_as_of(
            engine, AgreementDocument, tenant_id=firm.id, agreement_id=agreement, filename="a.pdf"
        )
        async with engine.begin() as conn:
            for name, data_column, _key in STORED_FILES:
                await conn.execute(
                    text(f"update {name} set {data_column} = :data"), {"data": contents[name]}
                )

        await upgrade(settings)
        keys = await _file_columns(engine, 1)
        files = make_file_store(settings)
        for name, key in keys.items():
            assert isinstance(key, str) and key.startswith(f"{firm.id}/")
            assert await files.get(firm.id, key) == contents[name]
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {
                    name: {col["name"] for col in inspect(c).get_columns(name)}
                    for name, *_rest in STORED_FILES
                }
            )
        assert all(data not in columns[name] for name, data, _key in STORED_FILES)

        await _downgrade(settings, "0016")
        assert await _file_columns(engine, 0) == contents
    finally:
        await engine.dispose()


async def test_migration_0034_sums_what_each_invoice_was_paid_and_credited(
    unmigrated: Settings,
) -> None:
    await upgrade(unmigrated, "0033")
    engine = make_engine(unmigrated.owner_database_url)
    try:
        firm = await make_firm(engine, "a", "Firm Oy", "0737546-2")
        org = await add_client_org(engine, firm)

        async def invoice(number: int | None, gross: int, **values: object) -> uuid.UUID:
            status = InvoiceStatus.DRAFT if number is None else InvoiceStatus.ISSUED
            return await _insert_as_of(
                engine,
                Invoice,
                tenant_id=firm.id,
                org_id=org.id,
                status=status,
                number=number,
                gross_cents=gross,
                **values,
            )

        async def payment(invoice_id: uuid.UUID | None, cents: int) -> None:
            await _insert_as_of(
                engine,
                Payment,
                tenant_id=firm.id,
                invoice_id=invoice_id,
                paid_on=clock.today(),
                amount_cents=cents,
            )

        paid = await invoice(1, 10000)
        credited = await invoice(2, 5000)
        untouched = await invoice(3, 700)
        note = await invoice(4, -2000, kind=DocumentKind.CREDIT_NOTE, credited_id=credited)
        draft_note = await invoice(None, -1000, kind=DocumentKind.CREDIT_NOTE, credited_id=paid)
        for invoice_id, cents in ((paid, 6000), (paid, 4000), (credited, 500), (None, 999)):
            await payment(invoice_id, cents)

        await upgrade(unmigrated)
        async with engine.connect() as conn:
            rows = await conn.execute(text("select id, paid_cents, credited_cents from invoices"))
            sums = {uuid.UUID(str(row[0])): (row[1], row[2]) for row in rows}
        assert sums == {
            paid: (10000, 0),
            credited: (500, 2000),
            untouched: (0, 0),
            note: (0, 0),
            draft_note: (0, 0),
        }
        # The issued invoice takes a payment; its document stays frozen.
        invoices = table(
            "invoices",
            column("id", Uuid()),
            column("paid_cents", Integer()),
            column("gross_cents", Integer()),
            column("notes", String()),
        )
        of_paid = invoices.update().where(invoices.c.id == paid)
        async with engine.begin() as conn:
            await conn.execute(of_paid.values(paid_cents=1))
        with pytest.raises(DBAPIError, match="credit note"):
            async with engine.begin() as conn:
                await conn.execute(of_paid.values(gross_cents=1))

        await _downgrade(unmigrated, "0033")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("invoices")}
            )
        assert "paid_cents" not in columns and "gross_cents" in columns
        with pytest.raises(DBAPIError, match="credit note"):
            async with engine.begin() as conn:
                await conn.execute(of_paid.values(notes="x"))
    finally:
        await engine.dispose()
