"""members are deactivated, not deleted; every reference between firm tables is a composite key

Memberships get ``deactivated_at``. Every reference from one firm table to another becomes a
foreign key ``(tenant_id, x_id)`` to the referred table's ``(tenant_id, id)``, and link tokens
are unique per firm. Before the keys are added, rows that would break them are looked for:

- a reference to a membership that was deleted (members used to be deleted) from history
  (sessions, notes and their writers, assignments, agreements' supervisors, calendar feeds)
  gets the membership back, deactivated, with a placeholder account that cannot sign in;
- an optional reference that points at nothing (a person's login or invitation, an inquiry's
  assignee or supervisor page, an evaluation's meeting) is cleared, as the app already showed
  it as none;
- anything else (a supervisee's content pointing at no person) stops the migration with a
  list of what to look at: there is no repair that is right without a person deciding.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform import clock

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

RESTORE = "restore"  # give a deleted membership back, deactivated
CLEAR = "clear"  # set the optional reference to NULL
REPORT = "report"  # stop and list the rows

# (table, column, referred table, what to do with a row that points at nothing)
REFERENCES = (
    ("agreement_supervisors", "membership_id", "memberships", RESTORE),
    ("supervision_sessions", "supervisor_id", "memberships", RESTORE),
    ("session_notes", "author_membership_id", "memberships", RESTORE),
    ("session_notes", "handed_over_from", "memberships", RESTORE),
    ("assignments", "author_membership_id", "memberships", RESTORE),
    ("calendar_feeds", "membership_id", "memberships", RESTORE),
    ("client_people", "membership_id", "memberships", CLEAR),
    ("client_people", "invitation_id", "invitations", CLEAR),
    ("inquiries", "assigned_membership_id", "memberships", CLEAR),
    ("inquiries", "requested_profile_id", "staff_profiles", CLEAR),
    ("evaluations", "session_id", "supervision_sessions", CLEAR),
    ("assignments", "person_id", "client_people", REPORT),
    ("assignment_responses", "person_id", "client_people", REPORT),
    ("goals", "person_id", "client_people", REPORT),
    ("evaluations", "person_id", "client_people", REPORT),
    ("erasure_requests", "person_id", "client_people", REPORT),
    ("supervision_sessions", "manager_invited_by", "client_people", REPORT),
)
# The naming convention's name would pass PostgreSQL's 63 characters.
FK_NAMES = {
    ("supervision_sessions", "manager_invited_by"): "fk_supervision_sessions_manager_invited_by"
}
TOKEN_TABLES = ("invitations", "calendar_feeds", "agreement_acceptances")
PLACEHOLDER_NAME = "Entinen jäsen"  # "former member": the person's own account is gone


def _fk_name(table: str, column: str, referred: str) -> str:
    return FK_NAMES.get((table, column), f"fk_{table}_tenant_id_{column}_{referred}")


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(
        name, sa.column("tenant_id", sa.Uuid()), *(sa.column(c, sa.Uuid()) for c in columns)
    )


def _dangling(table: str, column: str, referred: str) -> sa.Select[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, value) of the rows whose reference has no row in the same firm."""
    rows = _table(table, column)
    target = _table(referred, "id")
    exists = (
        sa.select(sa.literal(1))
        .select_from(target)
        .where(target.c.tenant_id == rows.c.tenant_id, target.c.id == rows.c[column])
        .exists()
    )
    return (
        sa.select(rows.c.tenant_id, rows.c[column])
        .where(rows.c[column].is_not(None), ~exists)
        .distinct()
    )


def _restore_memberships(conn: sa.Connection, pairs: set[tuple[uuid.UUID, uuid.UUID]]) -> None:
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("email", sa.String()),
        sa.column("name", sa.String()),
        sa.column("password_hash", sa.String()),
        sa.column("locale", sa.String()),
        sa.column("is_operator", sa.Boolean()),
        sa.column("is_active", sa.Boolean()),
        sa.column("created_at", luotsi.platform.db.UTCDateTime()),
    )
    memberships = sa.table(
        "memberships",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("role", sa.String()),
        sa.column("created_at", luotsi.platform.db.UTCDateTime()),
        sa.column("deactivated_at", luotsi.platform.db.UTCDateTime()),
    )
    now = clock.now()
    for tenant_id, membership_id in sorted(pairs):
        user_id = uuid.uuid4()
        conn.execute(
            users.insert().values(
                id=user_id,
                email=f"former-member-{tenant_id.hex[:8]}-{membership_id.hex}@luotsi.invalid",
                name=PLACEHOLDER_NAME,
                password_hash=None,
                locale="fi",
                is_operator=False,
                is_active=False,
                created_at=now,
            )
        )
        conn.execute(
            memberships.insert().values(
                tenant_id=tenant_id,
                id=membership_id,
                user_id=user_id,
                role="supervisor",
                created_at=now,
                deactivated_at=now,
            )
        )


Dangling = dict[tuple[str, str, str], list[tuple[uuid.UUID, uuid.UUID]]]


def _check(conn: sa.Connection) -> Dangling:
    """Every reference that points at nothing, by (table, column, repair); raises, before
    anything is changed, when one of them has no repair that is right without a person."""
    found: Dangling = {}
    problems: list[str] = []
    for table, column, referred, repair in REFERENCES:
        rows = [(t, v) for t, v in conn.execute(_dangling(table, column, referred))]
        if rows and repair == REPORT:
            sample = ", ".join(f"{t} / {v}" for t, v in rows[:5])
            problems.append(
                f"{table}.{column}: {len(rows)} value(s) with no row in {referred} of the same"
                f" firm (tenant_id / {column}: {sample})"
            )
        elif rows:
            found[(table, column, repair)] = rows
    if problems:
        raise RuntimeError(
            "Migration 0012 stopped: these references point at nothing, and no repair is right"
            " without a person deciding. Nothing was changed.\n" + "\n".join(problems)
        )
    return found


def _apply_repairs(conn: sa.Connection, found: Dangling) -> None:
    restore: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for (table, column, repair), rows in found.items():
        if repair == RESTORE:
            restore.update(rows)
            continue
        references = _table(table, column)
        for tenant_id, value in rows:
            conn.execute(
                references.update()
                .where(references.c.tenant_id == tenant_id, references.c[column] == value)
                .values({column: None})
            )
    _restore_memberships(conn, restore)


def _tables_touched() -> list[str]:
    return sorted({name for table, _c, referred, _r in REFERENCES for name in (table, referred)})


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # the owner crosses firms here only: row security is forced on it otherwise
        for table in _tables_touched():
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    found = _check(conn)  # first: SQLite does not take back an ALTER TABLE if it stops
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.add_column(
            sa.Column(
                "deactivated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    _apply_repairs(conn, found)
    if postgres:
        for table in _tables_touched():
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")

    for table in TOKEN_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_token_hash", type_="unique")
            batch_op.create_unique_constraint(
                f"uq_{table}_tenant_id_token_hash", ["tenant_id", "token_hash"]
            )
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, referred, _repair in REFERENCES:
        by_table.setdefault(table, []).append((column, referred))
    for table, references in by_table.items():
        # One rebuild per table on SQLite; plain ALTER TABLE on PostgreSQL. No ON DELETE: the
        # referred rows are never deleted on their own (see docs/decisions.md), and a composite
        # SET NULL would null tenant_id too.
        with op.batch_alter_table(table) as batch_op:
            for column, referred in references:
                batch_op.create_foreign_key(
                    _fk_name(table, column, referred),
                    referred,
                    ["tenant_id", column],
                    ["tenant_id", "id"],
                )


def downgrade() -> None:
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, referred, _repair in REFERENCES:
        by_table.setdefault(table, []).append((column, referred))
    for table, references in by_table.items():
        with op.batch_alter_table(table) as batch_op:
            for column, referred in references:
                batch_op.drop_constraint(_fk_name(table, column, referred), type_="foreignkey")
    for table in TOKEN_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_tenant_id_token_hash", type_="unique")
            batch_op.create_unique_constraint(f"uq_{table}_token_hash", ["token_hash"])
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.drop_column("deactivated_at")
