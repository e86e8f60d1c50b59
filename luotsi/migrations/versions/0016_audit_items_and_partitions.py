"""audit log: a row lists the items a page view opened; partitioned by month on PostgreSQL

- ``audit_events.items``: the values one transaction opened (JSONB on PostgreSQL with a GIN
  index for "who opened item X", JSON on SQLite), and an index on ``(tenant_id, object_id)``.
- The key becomes ``(id, at)``. On PostgreSQL the table is rebuilt partitioned by range of
  ``at``, a partition per month in the schema ``audit_partitions`` (the app's role has no
  rights there: it reaches the rows only through ``audit_events`` and its row-level
  security), plus a default partition so that no insert ever fails for want of a month. Every
  existing row is copied. Two functions of the owner, run by the app's role through the
  retention job: ``luotsi_audit_partitions(first, last)`` creates the months missing in
  between (moving any of their rows out of the default partition) and
  ``luotsi_audit_drop_before(cutoff)`` drops the months wholly before the cutoff and deletes
  the default partition's older rows. The app's role may not run them until
  :func:`luotsi.platform.migrate.ensure_app_role` grants it.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import TENANT_POLICY, USER_POLICY

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC_DATETIME = luotsi.platform.db.UTCDateTime(timezone=True)
PLAIN_INDEXES = {
    "ix_audit_events_tenant_id_at": ["tenant_id", "at"],
    "ix_audit_events_actor_user_id": ["actor_user_id"],
    "ix_audit_events_tenant_id_context_id": ["tenant_id", "context_id"],
}
MONTHS_AHEAD = 2  # the months created now after the current one (the job keeps them ahead)

COLUMNS = (
    "id, tenant_id, at, actor_user_id, actor_name, action, object_type, object_id, "
    "context_id, ip, user_agent"
)

PARTITIONS_FUNCTION = """
CREATE FUNCTION luotsi_audit_partitions(first_month date, last_month date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  month date := date_trunc('month', first_month)::date;
  made integer := 0;
  part text;
  low timestamptz;
  high timestamptz;
BEGIN
  WHILE month <= last_month LOOP
    part := 'audit_events_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM');
    IF to_regclass('audit_partitions.' || part) IS NULL THEN
      low := month::timestamp AT TIME ZONE 'UTC';
      high := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
      EXECUTE format('CREATE TABLE audit_partitions.%I (LIKE public.audit_events)', part);
      EXECUTE format(
        'WITH moved AS (DELETE FROM audit_partitions.audit_events_default'
        ' WHERE at >= %L AND at < %L RETURNING *) INSERT INTO audit_partitions.%I'
        ' SELECT * FROM moved', low, high, part);
      EXECUTE format(
        'ALTER TABLE public.audit_events ATTACH PARTITION audit_partitions.%I'
        ' FOR VALUES FROM (%L) TO (%L)', part, low, high);
      made := made + 1;
    END IF;
    month := (month + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$
"""

DROP_FUNCTION = """
CREATE FUNCTION luotsi_audit_drop_before(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  part text;
  month date;
  removed bigint := 0;
  deleted bigint;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.audit_events'::regclass
      AND c.relname ~ '^audit_events_y[0-9]{4}m[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    month := to_date(substr(part, 15, 4) || substr(part, 20, 2), 'YYYYMM');
    IF ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
      EXECUTE format('DROP TABLE audit_partitions.%I', part);
      removed := removed + 1;
    END IF;
  END LOOP;
  DELETE FROM audit_partitions.audit_events_default WHERE at < cutoff;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN removed + deleted;
END $$
"""


def _postgresql_upgrade() -> None:
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_0015")
    op.execute("ALTER TABLE audit_events_0015 RENAME CONSTRAINT pk_audit_events TO pk_audit_0015")
    for name in PLAIN_INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        """
        CREATE TABLE audit_events (
          id uuid NOT NULL,
          tenant_id uuid,
          at timestamp with time zone NOT NULL,
          actor_user_id uuid,
          actor_name varchar(200) NOT NULL,
          action varchar(40) NOT NULL,
          object_type varchar(40) NOT NULL,
          object_id uuid,
          context_id uuid,
          ip varchar(45) NOT NULL,
          user_agent varchar(200) NOT NULL,
          items jsonb,
          CONSTRAINT pk_audit_events PRIMARY KEY (id, at)
        ) PARTITION BY RANGE (at)
        """
    )
    op.execute("CREATE SCHEMA audit_partitions")
    op.execute("REVOKE ALL ON SCHEMA audit_partitions FROM PUBLIC")
    op.execute(
        "CREATE TABLE audit_partitions.audit_events_default PARTITION OF audit_events DEFAULT"
    )
    for name, columns in PLAIN_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events ({', '.join(columns)})")
    op.execute(
        "CREATE INDEX ix_audit_events_tenant_id_object_id ON audit_events (tenant_id, object_id)"
    )
    op.execute(
        "CREATE INDEX ix_audit_events_items ON audit_events USING gin (items jsonb_path_ops)"
    )
    op.execute(PARTITIONS_FUNCTION)
    op.execute(DROP_FUNCTION)
    for function in (
        "luotsi_audit_partitions(date, date)",
        "luotsi_audit_drop_before(timestamptz)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    # A partition for every month that has rows and the months just ahead, then the rows (the
    # latest row's month too: rows written by a clock ahead of the server's, as the suite's
    # other days write them, would otherwise land in the default partition).
    latest = "(SELECT max(at) FROM audit_events_0015)"
    ahead = f"greatest({latest}, now() + interval '{MONTHS_AHEAD} months')::date"
    first = "coalesce((SELECT min(at) FROM audit_events_0015), now())::date"
    op.execute(f"SELECT luotsi_audit_partitions({first}, {ahead})")
    op.execute(f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM audit_events_0015")  # noqa: S608
    op.execute("DROP TABLE audit_events_0015")
    _postgresql_rules()


def _postgresql_rules() -> None:
    """Append-only and row-level security, as migrations 0006 and 0007 set them."""
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC")
    op.execute("ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_read ON audit_events FOR SELECT USING ({TENANT_POLICY})")
    op.execute(
        "CREATE POLICY tenant_append ON audit_events FOR INSERT "
        f"WITH CHECK (tenant_id IS NULL OR {TENANT_POLICY})"
    )
    own = USER_POLICY.replace("user_id", "actor_user_id", 1)
    op.execute(
        f"CREATE POLICY own_sign_ins ON audit_events FOR SELECT USING (tenant_id IS NULL AND {own})"
    )


def _postgresql_downgrade() -> None:
    """Back to one plain table keyed by id; a row of many items becomes the row of its
    summary (its items are lost: the old table had no place for them)."""
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_0016")
    op.execute("ALTER TABLE audit_events_0016 RENAME CONSTRAINT pk_audit_events TO pk_audit_0016")
    for name in [*PLAIN_INDEXES, "ix_audit_events_tenant_id_object_id", "ix_audit_events_items"]:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        """
        CREATE TABLE audit_events (
          id uuid NOT NULL,
          tenant_id uuid,
          at timestamp with time zone NOT NULL,
          actor_user_id uuid,
          actor_name varchar(200) NOT NULL,
          action varchar(40) NOT NULL,
          object_type varchar(40) NOT NULL,
          object_id uuid,
          ip varchar(45) NOT NULL,
          user_agent varchar(200) NOT NULL,
          context_id uuid,
          CONSTRAINT pk_audit_events PRIMARY KEY (id)
        )
        """
    )
    for name, columns in PLAIN_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events ({', '.join(columns)})")
    op.execute(f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM audit_events_0016")  # noqa: S608
    op.execute("DROP TABLE audit_events_0016")
    op.execute("DROP SCHEMA audit_partitions CASCADE")
    op.execute("DROP FUNCTION luotsi_audit_partitions(date, date)")
    op.execute("DROP FUNCTION luotsi_audit_drop_before(timestamptz)")
    _postgresql_rules()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
        return
    with op.batch_alter_table("audit_events", schema=None, recreate="always") as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch_op.drop_constraint("pk_audit_events", type_="primary")
        batch_op.create_primary_key("pk_audit_events", ["id", "at"])
        batch_op.create_index(
            "ix_audit_events_tenant_id_object_id", ["tenant_id", "object_id"], unique=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_downgrade()
        return
    with op.batch_alter_table("audit_events", schema=None, recreate="always") as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_object_id")
        batch_op.drop_constraint("pk_audit_events", type_="primary")
        batch_op.create_primary_key("pk_audit_events", ["id"])
        batch_op.drop_column("items")
