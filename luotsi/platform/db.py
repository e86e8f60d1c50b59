"""Database base classes, engines and automatic tenant scoping.

Every tenant-owned table derives from :class:`TenantScoped`: its primary key is
``(tenant_id, id)``. A session knows its tenant through ``session.info["tenant_id"]``; every ORM
query then gets a ``tenant_id`` criterion added, and every new row gets (or is checked against)
the session's tenant. A query of a tenant table in a session without a tenant raises
:class:`TenantNotSet`; code that must cross tenants opens :func:`unscoped_session` and says so.
On PostgreSQL the tenant is also set as ``app.tenant_id`` for row-level security.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, String, Uuid, event, literal, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import Select, visitors
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables
from sqlalchemy.types import TypeDecorator

from luotsi.platform.errors import TenantNotSet

TENANT_KEY = "tenant_id"
USER_KEY = "user_id"
UNSCOPED_KEY = "unscoped"
ALL_TENANTS_OF_USER = "all_tenants_of_user"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, uuid.UUID: Uuid}


class TenantScoped:
    """Mixin for tenant-owned tables: ``tenant_id`` NOT NULL, primary key ``(tenant_id, id)``."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-20
        )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-10)


def str_enum(enum_cls: type[enum.StrEnum]) -> Enum:
    """A portable column type for a string enum, storing its values (not its names)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class _TenantTableNames:
    """The names of tenant tables, recomputed only when a model is added."""

    def __init__(self) -> None:
        self._names: frozenset[str] = frozenset()
        self._mapper_count = -1

    def __contains__(self, name: object) -> bool:
        count = len(Base.registry.mappers)
        if count != self._mapper_count:
            self._names = frozenset(tenant_tables())
            self._mapper_count = count
        return name in self._names


_TENANT_TABLE_NAMES = _TenantTableNames()


def tenant_tables() -> list[str]:
    """Names of every tenant-owned table in the metadata."""
    return sorted(
        mapper.local_table.description
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    )


# --- scoping --------------------------------------------------------------------------------


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_execute(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_TENANTS_OF_USER) is not None:
        # A user's own rows across firms (the firm switcher); the query filters on user_id and
        # on PostgreSQL the ``own_memberships`` policy admits exactly those rows.
        return
    info = state.session.info
    tenant_id = info.get(TENANT_KEY)
    if tenant_id is None:
        if info.get(UNSCOPED_KEY):
            return
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            raise TenantNotSet("tenant table queried in a session without a tenant")
        _refuse_tables_without_entities(state)
        return
    _refuse_tables_without_entities(state)
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


def _refuse_tables_without_entities(state: ORMExecuteState) -> None:
    """Fail closed on a tenant table that the tenant criterion cannot reach.

    The criterion is attached to ORM entities; a table named only in a WHERE clause (as in
    ``select(func.count()).where(Model.x == y)``) has none and would go unfiltered. Such a query
    must name its entity: ``select(func.count()).select_from(Model)``. Entities of subqueries
    (``Model.id.in_(select(Other.model_id))``) get the criterion too, so they count as covered.
    """
    statement = state.statement
    covered = {m.local_table.description for m in state.all_mappers}
    for element in visitors.iterate(cast(ClauseElement, statement)):
        if not isinstance(element, Select):
            continue
        # Column entities, select_from() and join() targets of every SELECT in the tree get
        # the criterion. SQLAlchemy keeps them in these attributes; tests cover every shape,
        # so an upgrade that moves them fails loudly.
        explicit = (
            list(element._raw_columns)
            + list(element._from_obj)
            + [join[0] for join in element._setup_joins]
        )
        for obj in explicit:
            mapper = getattr(obj, "_annotations", {}).get("parentmapper")
            if mapper is not None:
                covered.add(mapper.local_table.description)
    for table in find_tables(
        cast(ClauseElement, statement), include_joins=True, include_aliases=True
    ):
        if table.name in _TENANT_TABLE_NAMES and table.name not in covered:
            raise TenantNotSet(f"{table.name} queried without its entity; use select_from()")


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    unscoped = session.info.get(UNSCOPED_KEY)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            if tenant_id is None:
                raise TenantNotSet(f"new {type(obj).__name__} in a session without a tenant")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and obj.tenant_id != tenant_id:
            raise TenantNotSet(f"{type(obj).__name__} of another tenant in this session")
        elif tenant_id is None and not unscoped:
            raise TenantNotSet(f"{type(obj).__name__} written in a session without a tenant")


@event.listens_for(Session, "after_begin")
def _set_rls_settings(session: Session, transaction: Any, connection: Any) -> None:
    if connection.dialect.name != "postgresql":
        return
    _apply_settings(connection, session.info)


def _apply_settings(connection: Any, info: dict[str, Any]) -> None:
    tenant_id = info.get(TENANT_KEY)
    user_id = info.get(USER_KEY)
    connection.execute(
        text("select set_config('app.tenant_id', :t, true), set_config('app.user_id', :u, true)"),
        {"t": str(tenant_id) if tenant_id else "", "u": str(user_id) if user_id else ""},
    )


async def scope_to_tenant(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Put ``tenant_id`` on the session; from now on every query and row is this tenant's."""
    current = db.info.get(TENANT_KEY)
    if current is not None and current != tenant_id:
        raise TenantNotSet("session is already scoped to another tenant")
    db.info[TENANT_KEY] = tenant_id
    await _refresh_settings(db)


async def set_session_user(db: AsyncSession, user_id: uuid.UUID | None) -> None:
    """Name the signed-in user for the ``memberships`` policy that lists a user's own firms."""
    db.info[USER_KEY] = user_id
    await _refresh_settings(db)


async def _refresh_settings(db: AsyncSession) -> None:
    if db.in_transaction() and db.bind.dialect.name == "postgresql":
        conn = await db.connection()
        await conn.run_sync(lambda c: _apply_settings(c, db.info))


# --- engines and sessions ---------------------------------------------------------------


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # Statement parameters never reach logs or error messages: they can hold personal data.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine | AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def unscope_session(db: AsyncSession) -> None:
    """Let this request's session cross tenants (signup, invitation links). Use rarely."""
    db.info[UNSCOPED_KEY] = True


@asynccontextmanager
async def unscoped_session(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for code that crosses tenants (signup, worker, operator console).

    It reads global tables freely; tenant tables only after :func:`scope_to_tenant` or, on
    SQLite, by explicit choice. Under PostgreSQL RLS still hides every tenant row until a tenant
    is set, so this is no master key.
    """
    async with maker() as db:
        db.info[UNSCOPED_KEY] = True
        yield db


@asynccontextmanager
async def tenant_session(
    maker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID
) -> AsyncIterator[AsyncSession]:
    """A session scoped to one tenant, committed when the block ends without error."""
    async with maker() as db:
        db.info[TENANT_KEY] = tenant_id
        async with db.begin():
            yield db


class CodeSet(TypeDecorator[frozenset[str]]):
    """A small set of short codes ("fi", "group") kept in one text column as ``,a,b,``.

    The delimiters on both ends let :func:`has_code` match a whole code with ``LIKE`` on every
    backend, so a filter such as "speaks Swedish" stays a plain SQL condition.
    """

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        codes = sorted(value or ())
        if not all(code.isidentifier() for code in codes):
            raise ValueError(f"codes are identifiers: {codes!r}")
        return f",{','.join(codes)}," if codes else ""

    def process_result_value(self, value: str | None, dialect: Any) -> frozenset[str]:
        return frozenset(code for code in (value or "").split(",") if code)


def has_code(column: Any, code: str) -> Any:
    """SQL condition: the :class:`CodeSet` column contains ``code``."""
    if not code.isidentifier():
        raise ValueError(f"codes are identifiers: {code!r}")
    pattern = literal(f"%,{code.replace('_', '!_')},%", String())  # a pattern, not a CodeSet
    return column.like(pattern, escape="!")
