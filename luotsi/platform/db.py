"""Database base classes, engines and automatic tenant scoping.

Every tenant-owned table derives from :class:`TenantScoped`: its primary key is
``(tenant_id, id)``. A session knows its tenant through ``session.info["tenant_id"]``; every ORM
query then gets a ``tenant_id`` criterion added, and every new row gets (or is checked against)
the session's tenant: rows added to the session, and the values of ``insert()`` and
``update()`` statements (stamped when absent, refused when another tenant's). A query of a
tenant table in a session without a tenant raises :class:`TenantNotSet`; code that must cross
tenants opens :func:`unscoped_session` and says so. Raw SQL (``text()``, driver SQL) cannot be
scoped, so only an unscoped session runs it (:class:`RawSQLRefused` elsewhere). On PostgreSQL
the tenant is also set as ``app.tenant_id`` for row-level security.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Enum,
    ForeignKey,
    MetaData,
    Result,
    String,
    Uuid,
    bindparam,
    event,
    func,
    literal,
    select,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    QueryableAttribute,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import Executable, Insert, Select, Update, visitors
from sqlalchemy.sql.base import ExecutableOption
from sqlalchemy.sql.elements import BindParameter, ClauseElement, ColumnClause, TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.sql.util import find_tables
from sqlalchemy.types import TypeDecorator

from luotsi.platform.errors import RawSQLRefused, TenantNotSet
from luotsi.platform.logs import bind_ids, ids_bound

TENANT_KEY = "tenant_id"
USER_KEY = "user_id"
UNSCOPED_KEY = "unscoped"
# The execution option of :func:`unscoped_memberships_of_user`.
UNSCOPED_MEMBERSHIPS_OF_USER = "unscoped_memberships_of_user"
# Marks a connection that a session without UNSCOPED_KEY uses: no raw SQL on it.
RAW_SQL_REFUSED = "luotsi_raw_sql_refused"
SelectT = TypeVar("SelectT", bound=Select[Any])

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
        if value.tzinfo is UTC:  # asyncpg's, for every value: nothing to convert
            return value
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


class OwnRows:
    """Mixin for a tenant table whose every row belongs to one user (its ``user_id``): that
    user may read their own rows in every firm (:func:`unscoped_memberships_of_user`; on
    PostgreSQL the table's ``own_rows`` policy)."""


def inline(value: Any) -> BindParameter[Any]:
    """``value`` written into the SQL text rather than sent as a parameter.

    For the condition a partial index is defined by (``status = 'pending'``): PostgreSQL uses
    the index only when it sees the value, which a cached generic plan of a parameter does not.
    Compare a column with it (``Model.status == inline("pending")``) so it takes the column's type.
    """
    return bindparam(None, value, literal_execute=True)


def str_enum(enum_cls: type[enum.StrEnum]) -> Enum:
    """A portable column type for a string enum, storing its values (not its names)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class _Models:
    """What the checks below need of the models, recomputed only when a model is defined
    (counting the registry's mappers builds a set of them all: too slow for every statement)."""

    def __init__(self) -> None:
        self.generation = 0
        self._seen = -1
        self._tenant: frozenset[str] = frozenset()
        self._own: dict[str, type[Any]] = {}

    def _refresh(self) -> None:
        if self._seen != self.generation:
            self._tenant = frozenset(tenant_tables())
            self._own = {
                m.local_table.description: m.class_
                for m in Base.registry.mappers
                if issubclass(m.class_, OwnRows)
            }
            self._seen = self.generation

    def tenant_tables(self) -> frozenset[str]:
        """The names of the tenant tables."""
        self._refresh()
        return self._tenant

    def own_rows(self) -> dict[str, type[Any]]:
        """The :class:`OwnRows` models by their table's name."""
        self._refresh()
        return self._own


_MODELS = _Models()


@event.listens_for(Base, "after_mapper_constructed", propagate=True)
def _model_defined(mapper: Any, cls: type[Any]) -> None:
    _MODELS.generation += 1


def tenant_tables() -> list[str]:
    """Names of every tenant-owned table in the metadata."""
    return sorted(
        mapper.local_table.description
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantScoped)
    )


# --- scoping --------------------------------------------------------------------------------


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_execute(state: ORMExecuteState) -> Result[Any] | None:
    info = state.session.info
    tenant_id = info.get(TENANT_KEY)
    unscoped = tenant_id is None and bool(info.get(UNSCOPED_KEY))
    user_id = state.execution_options.get(UNSCOPED_MEMBERSHIPS_OF_USER)
    if unscoped and user_id is None:
        return None
    if tenant_id is not None and user_id is None and not state.is_insert:
        # The criterion first: the analysis below then computes the cache key of the very
        # statement SQLAlchemy compiles, which keeps it (one key a statement, not two).
        # Options are not part of the tree the analysis walks, so it finds the same tables.
        state.statement = state.statement.options(_tenant_criterion(tenant_id))
    tables = _tenant_tables_of(state, raw_allowed=unscoped)
    if user_id is not None:
        _limit_to_memberships_of_user(state, tables, user_id)
        return None
    if tenant_id is None:
        if tables:
            raise TenantNotSet(f"{', '.join(sorted(tables))} used in a session without a tenant")
        return None
    if state.is_insert:
        return _stamp_insert(state, tenant_id)
    if state.is_update:
        _check_update_values(state, tenant_id)
    return None


@functools.lru_cache(maxsize=1024)
def _tenant_criterion(tenant_id: uuid.UUID) -> ExecutableOption:
    """The criterion limiting every tenant table of a statement to ``tenant_id``'s rows.

    Kept per tenant (SQLAlchemy analyses the lambda each time one is made: a fifth of a
    statement's own time in Python); the value reaches the SQL as a bound parameter.
    """
    return with_loader_criteria(
        TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
    )


# What the checks below found for a statement's shape: its cache key (SQLAlchemy's, which
# also keys its compiled SQL, so equal keys mean the same tables and the same raw SQL), whether
# raw SQL was allowed, and the models' generation (a model defined later may add a tenant table).
# Refusals are never kept: a statement that failed fails again. Bounded: cleared when full.
_ANALYSED: dict[tuple[Any, ...], frozenset[str]] = {}
_ANALYSED_MAX = 4096


def _tenant_tables_of(state: ORMExecuteState, *, raw_allowed: bool) -> frozenset[str]:
    """The tenant tables of the statement (:func:`_tenant_tables_in`) after refusing raw SQL,
    analysed once per statement shape: the walks over the tree were a quarter of a dashboard's
    time in Python."""
    cache_key = cast(ClauseElement, state.statement)._generate_cache_key()
    key = None if cache_key is None else (cache_key.key, raw_allowed, _MODELS.generation)
    if key is not None and (known := _ANALYSED.get(key)) is not None:
        return known
    selects = _selects_refusing_raw_sql(state.statement, raw_allowed=raw_allowed)
    tables = frozenset(_tenant_tables_in(state, selects))
    if key is not None:
        if len(_ANALYSED) >= _ANALYSED_MAX:
            _ANALYSED.clear()
        _ANALYSED[key] = tables
    return tables


def _selects_refusing_raw_sql(statement: Executable, *, raw_allowed: bool) -> list[Select[Any]]:
    """Every SELECT in the statement's tree; raw SQL in it is refused unless ``raw_allowed``.

    Raw SQL (``text()``, ``literal_column()``) names tables that neither the tenant criterion
    nor the checks below can see, so only an unscoped session may run it.
    """
    selects = []
    for element in visitors.iterate(cast(ClauseElement, statement)):
        if isinstance(element, Select):
            selects.append(element)
        elif not raw_allowed and _is_raw_sql(element):
            raise RawSQLRefused(
                "raw SQL (text(), literal_column()) cannot be scoped to a tenant: write it with "
                "ORM constructs, or run it in an unscoped_session()"
            )
    return selects


def _is_raw_sql(element: object) -> bool:
    if isinstance(element, TextClause | TextualSelect):
        return True
    # func.count() counts literal_column("*"): the one literal that names nothing.
    return isinstance(element, ColumnClause) and element.is_literal and element.name != "*"


def _tenant_tables_in(state: ORMExecuteState, selects: list[Select[Any]]) -> set[str]:
    """The tenant tables the statement uses; fails closed on one the criterion cannot reach.

    The criterion is attached to ORM entities; a table named only in a WHERE clause (as in
    ``select(func.count()).where(Model.x == y)``) has none and would go unfiltered. Such a query
    must name its entity: ``select(func.count()).select_from(Model)``. Entities of subqueries
    (``Model.id.in_(select(Other.model_id))``) get the criterion too, so they count as covered.
    An ``insert()`` needs no criterion: its values are checked (:func:`_stamp_insert`).
    """
    statement = state.statement
    covered = {m.local_table.description for m in state.all_mappers}
    if state.is_insert:
        covered.add(cast(Insert, statement).table.description)
    for inner in selects:
        # Column entities, select_from() and join() targets of every SELECT in the tree get
        # the criterion. SQLAlchemy keeps them in these attributes; tests cover every shape,
        # so an upgrade that moves them fails loudly.
        explicit = (
            list(inner._raw_columns)
            + list(inner._from_obj)
            + [join[0] for join in inner._setup_joins]
        )
        for obj in explicit:
            mapper = getattr(obj, "_annotations", {}).get("parentmapper")
            if mapper is not None:
                covered.add(mapper.local_table.description)
    named = {
        table.description
        for table in find_tables(
            cast(ClauseElement, statement),
            include_joins=True,
            include_aliases=True,
            include_crud=True,
        )
    }
    tables = (named | covered) & _MODELS.tenant_tables()
    for name in sorted(tables - covered):
        raise TenantNotSet(f"{name} queried without its entity; use select_from()")
    return tables


def _limit_to_memberships_of_user(
    state: ORMExecuteState, tables: frozenset[str], user_id: uuid.UUID
) -> None:
    """The one way across tenants in a request: a user's own memberships (the firm switcher)
    and their own rows of the other :class:`OwnRows` tables (the unread notifications).

    Only such tables may be read so, and only the user's rows; on PostgreSQL their
    ``own_rows`` policies admit exactly those.
    """
    if not state.is_select:
        raise TenantNotSet("unscoped_memberships_of_user() is for reading memberships")
    own = _MODELS.own_rows()
    if "memberships" not in tables or not tables <= own.keys():
        others = ", ".join(sorted(tables - own.keys())) or "no memberships"
        raise TenantNotSet(f"unscoped_memberships_of_user() reads memberships only, not {others}")
    state.statement = state.statement.options(*_own_rows_criteria(tables, user_id))


@functools.lru_cache(maxsize=1024)
def _own_rows_criteria(tables: frozenset[str], user_id: uuid.UUID) -> tuple[ExecutableOption, ...]:
    """The criteria limiting the :class:`OwnRows` ``tables`` to ``user_id``'s rows, kept as
    :func:`_tenant_criterion` is (the sign-in session and the workspace use them every request)."""
    own = _MODELS.own_rows()
    return tuple(
        with_loader_criteria(own[name], lambda cls: cls.user_id == user_id)
        for name in sorted(tables)
    )


def unscoped_memberships_of_user(statement: SelectT, user_id: uuid.UUID) -> SelectT:
    """``statement`` reads ``user_id``'s memberships in every firm, whatever the session's tenant.

    Other tenant tables are refused, but for the user's own rows of :class:`OwnRows` tables.
    """
    return statement.execution_options(**{UNSCOPED_MEMBERSHIPS_OF_USER: user_id})


def _parameter_sets(state: ORMExecuteState) -> list[dict[str, Any]]:
    params = state.parameters
    if params is None:
        return []
    if isinstance(params, Mapping):
        return [dict(params)]
    return [dict(p) for p in params]


def _given_tenant(values: Mapping[Any, Any], tenant_id: uuid.UUID, what: str) -> bool:
    """Whether ``values`` (a row, a SET clause, parameters) name a tenant; refuse another's."""
    for key, value in values.items():
        if (key if isinstance(key, str) else getattr(key, "key", None)) != "tenant_id":
            continue
        if isinstance(value, BindParameter):
            value = value.effective_value
        if isinstance(value, ClauseElement):
            raise TenantNotSet(f"{what}: tenant_id must be a value, not an SQL expression")
        try:
            same = value is not None and uuid.UUID(str(value)) == tenant_id
        except ValueError:
            same = False
        if not same:
            raise TenantNotSet(f"{what} for another tenant in this session")
        return True
    return False


def _stamp_insert(state: ORMExecuteState, tenant_id: uuid.UUID) -> Result[Any] | None:
    """Give an ``insert()`` into a tenant table the session's tenant; refuse another tenant's."""
    statement = cast(Insert, state.statement)
    table = statement.table.description
    if table not in _MODELS.tenant_tables():
        return None
    what = f"insert into {table}"
    if statement.select is not None:
        raise TenantNotSet(f"{what} from a SELECT cannot be checked; insert values")
    params = _parameter_sets(state)
    given = [_given_tenant(p, tenant_id, what) for p in params]
    if statement._multi_values:
        columns = statement.table.c
        rows: list[list[dict[Any, Any]]] = []
        for given_rows in statement._multi_values:
            rows.append([])
            for given_row in given_rows:
                # A row is a dict, or a tuple of values of the table's columns in order.
                if isinstance(given_row, Mapping):
                    row = dict(given_row)
                else:
                    row = dict(zip(columns, given_row, strict=False))
                if not _given_tenant(row, tenant_id, what):
                    row[columns.tenant_id] = tenant_id
                rows[-1].append(row)
        # Insert.values() cannot change rows already given: a copy gets the stamped ones.
        stamped = statement._generate()
        stamped._multi_values = tuple(rows)
        state.statement = stamped
        return None
    if _given_tenant(statement._values or {}, tenant_id, what) or (params and all(given)):
        return None
    if len(params) > 1:  # executemany: each parameter set gets the tenant
        return state.invoke_statement(params=[{"tenant_id": tenant_id} for _ in params])
    state.statement = statement.values(tenant_id=tenant_id)
    return None


def _check_update_values(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """An ``update()`` never moves a row to another tenant (the criterion limits its WHERE)."""
    statement = cast(Update, state.statement)
    what = f"update of {statement.table.description}"
    _given_tenant(statement._values or {}, tenant_id, what)
    _given_tenant(dict(statement._ordered_values or ()), tenant_id, what)
    for params in _parameter_sets(state):
        _given_tenant(params, tenant_id, what)


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
def _set_connection_scope(session: Session, transaction: Any, connection: Connection) -> None:
    _apply_scope(connection, session.info)


def _apply_scope(connection: Connection, info: dict[str, Any]) -> None:
    """Tell the connection what the session may do: RLS settings, and whether raw SQL runs."""
    if info.get(TENANT_KEY) is not None or not info.get(UNSCOPED_KEY):
        # In place: the mark lives as long as this checkout of the connection.
        connection.execution_options(**{RAW_SQL_REFUSED: True})
    if connection.dialect.name != "postgresql":
        return
    tenant_id = info.get(TENANT_KEY)
    user_id = info.get(USER_KEY)
    if tenant_id is None and user_id is None:
        return  # the settings are transaction-local: a new transaction starts without them
    connection.execute(
        select(
            func.set_config("app.tenant_id", str(tenant_id) if tenant_id else "", True),
            func.set_config("app.user_id", str(user_id) if user_id else "", True),
        )
    )


def _refuse_raw_sql_on_marked_connection(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext | None,
    executemany: bool,
) -> None:
    """The session's own connection (``await db.connection()``) runs no raw SQL either.

    Statements of the session come compiled from ORM and Core constructs; driver SQL
    (``exec_driver_sql``) has no compiled form, and ``text()`` compiles from a TextClause.
    """
    if not conn.get_execution_options().get(RAW_SQL_REFUSED) or context is None:
        return
    compiled = context.compiled
    if compiled is None or isinstance(compiled.statement, TextClause | TextualSelect):
        raise RawSQLRefused(
            "raw SQL on the connection of a session that is not unscoped: write it with ORM "
            "constructs, or run it in an unscoped_session()"
        )


async def scope_to_tenant(db: AsyncSession, tenant_id: uuid.UUID, *, applied: bool = False) -> None:
    """Put ``tenant_id`` on the session; from now on every query and row is this tenant's.

    ``applied``: the statement that found the tenant already set it on the connection
    (:func:`applying_scope`), so no statement of its own is needed."""
    current = db.info.get(TENANT_KEY)
    if current is not None and current != tenant_id:
        raise TenantNotSet("session is already scoped to another tenant")
    db.info[TENANT_KEY] = tenant_id
    bind_ids(tenant_id=tenant_id)  # every later log line of the request names the firm
    if not applied:
        await _refresh_settings(db)


async def set_session_user(
    db: AsyncSession, user_id: uuid.UUID | None, *, applied: bool = False
) -> None:
    """Name the signed-in user for the ``memberships`` policy that lists a user's own firms
    (``applied``: as :func:`scope_to_tenant`)."""
    db.info[USER_KEY] = user_id
    if not applied:
        await _refresh_settings(db)


def applying_scope(
    db: AsyncSession,
    statement: SelectT,
    *,
    tenant_id: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
    user_id: ColumnElement[Any] | QueryableAttribute[Any] | None = None,
) -> SelectT:
    """``statement``, which finds the firm or the user of a request, setting them on the
    connection (PostgreSQL's row-level security) as it returns its row: one statement instead
    of a lookup and a ``set_config``. The settings are taken from the row's own columns, so
    the statement must return at most one row, and only the row it accepts (put every
    condition in its WHERE); then call :func:`scope_to_tenant` or :func:`set_session_user`
    with ``applied=True``. SQLite has nothing to set: the statement is returned unchanged."""
    if db.bind.dialect.name != "postgresql":
        return statement
    settings = [
        func.set_config(name, cast_(column, String), True)
        for name, column in (("app.tenant_id", tenant_id), ("app.user_id", user_id))
        if column is not None
    ]
    return cast(SelectT, statement.add_columns(*settings))


async def _refresh_settings(db: AsyncSession) -> None:
    if db.in_transaction():
        conn = await db.connection()
        await conn.run_sync(lambda c: _apply_scope(c, db.info))


# --- engines and sessions ---------------------------------------------------------------


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLite's own lower() folds ASCII only: "Äänekoski" would never match "ään" in a search.
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _unique_statement_name() -> str:
    return f"__luotsi_{uuid.uuid4().hex}__"


# asyncpg behind PgBouncer in transaction mode: consecutive transactions of one client
# connection may run on different server connections, so a statement prepared in one is
# unknown (or, by asyncpg's numbered names, another statement) in the next. No cache of
# prepared statements, in asyncpg or in SQLAlchemy's adapter, and names that never repeat.
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": _unique_statement_name,
}


def make_engine(url: str, *, pgbouncer: bool = False, **kwargs: Any) -> AsyncEngine:
    """The engine for ``url``; ``pgbouncer``: the URL leads to PgBouncer in transaction mode
    (``LUOTSI_PGBOUNCER``). The tenant and user settings are transaction-local
    (``set_config(..., true)``) and locks transaction-level, so they hold under it."""
    # Statement parameters never reach logs or error messages: they can hold personal data.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        if pgbouncer:
            kwargs["connect_args"] = {**PGBOUNCER_CONNECT_ARGS, **kwargs.get("connect_args", {})}
        engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_raw_sql_on_marked_connection)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unscoped_session(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for code that crosses tenants (worker, operator console, demo data).

    It reads global tables freely; tenant tables only after :func:`scope_to_tenant` or, on
    SQLite, by explicit choice. It is the one session that runs raw SQL (``text()``), until it
    is scoped to a tenant. Under PostgreSQL RLS still hides every tenant row until a tenant is
    set, so this is no master key.
    """
    async with maker() as db:
        db.info[UNSCOPED_KEY] = True
        yield db


@asynccontextmanager
async def tenant_session(
    maker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID
) -> AsyncIterator[AsyncSession]:
    """A session scoped to one tenant, committed when the block ends without error."""
    with ids_bound(tenant_id=tenant_id):  # the log lines of the block name the firm
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
