"""The migrated schema against the Citus plan (luotsi/platform/distribution.py), and the plan
against docs/scaling.md: every table placed; distributed tables keep tenant_id in the primary
key, in every unique rule and in every key between them; no key Citus could not keep."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

import luotsi.models  # noqa: F401  (registers every table on the metadata)
from luotsi.platform.db import tenant_tables
from luotsi.platform.distribution import (
    ALLOWED_REFERENCES,
    DISTRIBUTED_TABLES,
    DISTRIBUTION_COLUMN,
    PLAN,
    Placement,
    TablePlan,
    plan_markdown,
)
from tests.conftest import Backend

SCALING_DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
BEGIN, END = "<!-- distribution plan: begin -->", "<!-- distribution plan: end -->"
TENANT = DISTRIBUTION_COLUMN


def _tables(conn: Connection) -> set[str]:
    """The schema's tables; on PostgreSQL without partitions (their parent is placed)."""
    names = set(inspect(conn).get_table_names())
    if conn.dialect.name == "postgresql":
        names -= set(conn.execute(text("select relname from pg_class where relispartition")))
    return names


def _plan_problems(conn: Connection, plan: dict[str, TablePlan]) -> list[str]:
    inspector = inspect(conn)
    tables = _tables(conn)
    problems = [f"{name}: not in the plan" for name in sorted(tables - plan.keys())]
    problems += [f"{name}: planned, not in the schema" for name in sorted(plan.keys() - tables)]
    for name in sorted(tables & plan.keys()):
        placement = plan[name].placement
        if placement is Placement.DISTRIBUTED:
            key = inspector.get_pk_constraint(name)["constrained_columns"]
            if TENANT not in key:
                problems.append(f"{name}: primary key {key} lacks {TENANT}")
            # PostgreSQL lists a unique constraint's index among the indexes too: once each.
            rules = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)}
            rules |= {tuple(i["column_names"]) for i in inspector.get_indexes(name) if i["unique"]}
            problems += [
                f"{name}: unique {list(c)} lacks {TENANT}" for c in sorted(rules) if TENANT not in c
            ]
        for fk in inspector.get_foreign_keys(name):
            target = fk["referred_table"]
            if target not in plan:
                continue  # reported above
            to = plan[target].placement
            local, remote = fk["constrained_columns"], fk["referred_columns"]
            if (placement, to) not in ALLOWED_REFERENCES:
                problems.append(f"{name} -> {target}: a {placement} table references a {to} one")
            elif (placement, to) == (Placement.DISTRIBUTED, Placement.DISTRIBUTED) and (
                dict(zip(local, remote, strict=True)).get(TENANT) != TENANT
            ):
                problems.append(f"{name}{local} -> {target}{remote}: lacks {TENANT}")
    return problems


async def test_the_schema_keeps_to_the_distribution_plan(backend: Backend) -> None:
    async with backend.owner.connect() as conn:
        problems = await conn.run_sync(_plan_problems, PLAN)
    assert problems == []


async def test_the_plan_check_finds_what_citus_would_refuse(backend: Backend) -> None:
    # Positive control: tables breaking each rule, and one nobody placed, are reported.
    controls = {
        "control_parents": TablePlan(Placement.DISTRIBUTED),
        "control_children": TablePlan(Placement.DISTRIBUTED),
        "control_codes": TablePlan(Placement.REFERENCE),
    }
    uuid_type = "uuid" if backend.is_postgres else "char(32)"
    statements = [
        "create table control_parents (tenant_id char(32) not null, id char(32) not null,"
        " code varchar(10), primary key (tenant_id, id), constraint uq_control_parents_id"
        " unique (id))",
        "create table control_children (tenant_id char(32) not null, id char(32) not null,"
        f" parent_id char(32), message_id {uuid_type}, primary key (id),"
        " foreign key (parent_id) references control_parents (id),"
        " foreign key (message_id) references outbox (id))",
        "create table control_codes (code varchar(10) primary key, tenant_id char(32),"
        " id char(32), foreign key (tenant_id, id) references control_parents (tenant_id, id))",
        "create table control_unplaced (id char(32) primary key)",
    ]
    async with backend.owner.begin() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)
        try:
            problems = await conn.run_sync(_plan_problems, {**PLAN, **controls})
        finally:
            for table in ("control_unplaced", "control_codes", "control_children"):
                await conn.exec_driver_sql(f"drop table {table}")
            await conn.exec_driver_sql("drop table control_parents")
    assert sorted(problems) == sorted(
        [
            "control_unplaced: not in the plan",
            "control_children: primary key ['id'] lacks tenant_id",
            "control_children -> outbox: a distributed table references a coordinator one",
            "control_children['parent_id'] -> control_parents['id']: lacks tenant_id",
            "control_codes -> control_parents: a reference table references a distributed one",
            "control_parents: unique ['id'] lacks tenant_id",
        ]
    )


def test_every_firm_table_is_distributed_and_nothing_else_is() -> None:
    assert len(set(DISTRIBUTED_TABLES)) == len(DISTRIBUTED_TABLES)
    assert sorted(DISTRIBUTED_TABLES) == tenant_tables()


def test_docs_scaling_shows_the_plan() -> None:
    doc = SCALING_DOC.read_text()
    assert BEGIN in doc and END in doc, f"docs/scaling.md lacks the markers {BEGIN} {END}"
    shown = doc.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == plan_markdown(), (
        "docs/scaling.md shows another plan than luotsi/platform/distribution.py; put this "
        f"between its markers:\n{plan_markdown()}"
    )
