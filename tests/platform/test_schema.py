"""The migrated schema, read back from each database: every reference between firm tables is a
composite foreign key, every unique rule includes the firm, and the ORM models say the same."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CHAR, MetaData, Uuid, inspect
from sqlalchemy.engine import Connection

import luotsi.models  # noqa: F401  (registers every table on the metadata)
from luotsi.platform.db import Base
from tests.conftest import Backend
from tests.platform.test_tenancy import GLOBAL_TABLES_WITH_TENANT_REFERENCE

# Columns of firm tables that look like references and deliberately have no foreign key, by
# reason. Who did something, as history: an id in the global users table, kept even if the
# account is ever removed; it cannot point into another firm.
USER_IDS_KEPT_AS_HISTORY = {
    ("agreements", "status_changed_by"),
    ("agreement_events", "actor_user_id"),
    ("agreement_reviews", "recorded_by"),
    ("session_changes", "actor_user_id"),
    ("confidentiality_limits", "updated_by_user_id"),
    ("goals", "created_by_user_id"),
    ("evaluations", "recorded_by_user_id"),
    ("erasure_requests", "requested_by_user_id"),
    ("erasure_requests", "decided_by_user_id"),
}
NOT_IDS = {  # Y-tunnus, 1234567-8
    ("client_orgs", "business_id"),
    ("billing_profiles", "business_id"),
}
STRIPE_IDS = {("subscription_payments", "stripe_invoice_id")}  # Stripe's in_..., not ours
# The Luotsi-Delivery header of a webhook: one delivery's id across its attempts, no row's.
DELIVERY_IDS = {("webhook_deliveries", "delivery_id")}
NOT_REFERENCES = USER_IDS_KEPT_AS_HISTORY | NOT_IDS | STRIPE_IDS | DELIVERY_IDS


def _is_uuid(column: dict[str, Any]) -> bool:
    kind = column["type"]
    return isinstance(kind, Uuid) or (isinstance(kind, CHAR) and kind.length == 32)


def _reference_problems(conn: Connection) -> list[str]:
    inspector = inspect(conn)
    tables = inspector.get_table_names()
    columns = {t: inspector.get_columns(t) for t in tables}
    firm_tables = {t for t in tables if any(c["name"] == "tenant_id" for c in columns[t])}
    firm_tables -= GLOBAL_TABLES_WITH_TENANT_REFERENCE
    problems = []
    for table in sorted(firm_tables):
        covered: set[str] = set()
        for fk in inspector.get_foreign_keys(table):
            local, remote = fk["constrained_columns"], fk["referred_columns"]
            composite = len(local) == 2 and local[0] == "tenant_id"
            composite = composite and remote == ["tenant_id", "id"]
            if fk["referred_table"] in firm_tables and not composite:
                problems.append(f"{table}{local} -> {fk['referred_table']}{remote}")
                continue
            covered.update(local)
        for column in columns[table]:
            name = column["name"]
            if name in ("tenant_id", "id") or name in covered:
                continue
            looks_like_reference = name.endswith("_id") or _is_uuid(column)
            if looks_like_reference and (table, name) not in NOT_REFERENCES:
                problems.append(f"{table}.{name}: no composite foreign key (tenant_id, {name})")
    return problems


def _unique_problems(conn: Connection) -> list[str]:
    inspector = inspect(conn)
    problems = set()
    for table in inspector.get_table_names():
        if table in GLOBAL_TABLES_WITH_TENANT_REFERENCE:
            continue
        if "tenant_id" not in {c["name"] for c in inspector.get_columns(table)}:
            continue
        rules = [u["column_names"] for u in inspector.get_unique_constraints(table)]
        rules += [i["column_names"] for i in inspector.get_indexes(table) if i["unique"]]
        problems |= {f"{table}: unique {cols} lacks tenant_id" for cols in rules}
        problems -= {
            f"{table}: unique {cols} lacks tenant_id" for cols in rules if "tenant_id" in cols
        }
    return sorted(problems)


async def test_every_reference_between_firm_tables_is_a_composite_foreign_key(
    backend: Backend,
) -> None:
    async with backend.owner.connect() as conn:
        problems = await conn.run_sync(_reference_problems)
    assert problems == []


async def test_the_reference_check_finds_plain_ids(backend: Backend) -> None:
    # Positive control: a firm table with a plain membership id, and a UUID column not named
    # *_id (each backend's own UUID type), is reported.
    uuid_type = "uuid" if backend.is_postgres else "char(32)"
    async with backend.owner.begin() as conn:
        await conn.exec_driver_sql(
            "create table control_plain_refs (tenant_id char(32) not null, id char(32) not null,"
            f" membership_id char(32), keeper {uuid_type}, primary key (tenant_id, id))"
        )
        try:
            problems = await conn.run_sync(_reference_problems)
        finally:
            await conn.exec_driver_sql("drop table control_plain_refs")
    assert problems == [
        "control_plain_refs.membership_id: no composite foreign key (tenant_id, membership_id)",
        "control_plain_refs.keeper: no composite foreign key (tenant_id, keeper)",
    ]


async def test_every_unique_rule_of_a_firm_table_includes_the_firm(backend: Backend) -> None:
    async with backend.owner.connect() as conn:
        problems = await conn.run_sync(_unique_problems)
    assert problems == []


async def test_the_unique_check_finds_a_rule_without_the_firm(backend: Backend) -> None:
    async with backend.owner.begin() as conn:
        await conn.exec_driver_sql(
            "create table control_tokens (tenant_id char(32) not null, id char(32) not null,"
            " token_hash varchar(64), primary key (tenant_id, id),"
            " constraint uq_control_tokens unique (token_hash))"
        )
        try:
            problems = await conn.run_sync(_unique_problems)
        finally:
            await conn.exec_driver_sql("drop table control_tokens")
    assert problems == ["control_tokens: unique ['token_hash'] lacks tenant_id"]


def _differences(conn: Connection, metadata: MetaData) -> list[Any]:
    elsewhere = {  # indexes the models create on another backend only (``ddl_if``)
        index.name
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if index._ddl_if is not None and index._ddl_if.dialect not in (None, conn.dialect.name)
    }

    def on_this_backend(_item: Any, name: Any, kind: str, _reflected: bool, _other: Any) -> bool:
        return not (kind == "index" and name in elsewhere)

    opts = {"compare_type": True, "include_object": on_this_backend}
    context = MigrationContext.configure(conn, opts=opts)
    return list(compare_metadata(context, metadata))


# SQLite cannot reflect expression indexes; those (the trigram ones) are PostgreSQL's only and
# compared there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
async def test_the_models_match_the_migrated_schema(backend: Backend) -> None:
    async with backend.owner.connect() as conn:
        differences = await conn.run_sync(_differences, Base.metadata)
    assert differences == []


async def test_the_model_comparison_sees_a_missing_foreign_key(backend: Backend) -> None:
    # Positive control: models without one of the composite keys differ from the database.
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    sessions = metadata.tables["supervision_sessions"]
    supervisor_fk = next(
        fk for fk in sessions.foreign_key_constraints if "supervisor_id" in fk.column_keys
    )
    sessions.constraints.remove(supervisor_fk)
    async with backend.owner.connect() as conn:
        differences = await conn.run_sync(_differences, metadata)
    assert [d[0] for d in differences] == ["remove_fk"]
