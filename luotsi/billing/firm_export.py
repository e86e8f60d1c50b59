"""The owner's export of all of the firm's data: one zip, each kind of record as JSON and CSV.

It lives in billing, the top domain layer, because it takes the invoices and payments along
with the clients, agreements and sessions. Each kind is one statement over the kind's table
(:data:`KINDS`), with every column except secrets (token and password hashes, storage keys,
key versions). Confidential content (session notes, assignments and their responses, goals,
evaluations, the limits of confidentiality) is not in it: its tables are not among the kinds,
and the README inside the zip says so. Only the content module reads content, and only for
its author (or, where shared, the supervisee): an owner who supervises may add the session
notes they keep themself (``my_session_notes.json``, from
:func:`luotsi.tenants.content.export_kept_notes`), never anyone else's.
"""

from __future__ import annotations

import enum
import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import LargeBinary, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from luotsi.billing.models import Invoice, InvoiceLine, Payment
from luotsi.platform import clock, permissions
from luotsi.platform.audit import AuditEvent
from luotsi.platform.exports import Number, csv_bytes
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementEvent,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.directory.models import Inquiry
from luotsi.tenants.sessions.models import SessionChange, SupervisionSession

SECRET_COLUMNS = frozenset({"tenant_id", "token_hash", "password_hash", "key_version"})

KINDS: tuple[tuple[str, type[Any]], ...] = (
    ("client_organisations", ClientOrg),
    ("client_people", ClientPerson),
    ("agreements", Agreement),
    ("agreement_supervisors", AgreementSupervisor),
    ("agreement_supervisees", AgreementSupervisee),
    ("agreement_reviews", Review),
    ("agreement_events", AgreementEvent),
    ("sessions", SupervisionSession),
    ("session_changes", SessionChange),
    ("invoices", Invoice),
    ("invoice_lines", InvoiceLine),
    ("payments", Payment),
    ("inquiries", Inquiry),
    ("audit_events", AuditEvent),
)
"""The kinds of record in the zip besides ``staff`` (the members, with their names)."""


def exported_columns(model: type[Any]) -> list[InstrumentedAttribute[Any]]:
    """A model's columns as the zip holds them: all but :data:`SECRET_COLUMNS`, storage keys
    (``*_key``) and binary columns, in the table's order."""
    columns = []
    for column in model.__table__.columns:
        if column.name in SECRET_COLUMNS or column.name.endswith("_key"):
            continue
        if isinstance(column.type, LargeBinary):
            continue
        columns.append(getattr(model, column.key))
    return columns


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: Sequence[Sequence[Any]]


def _plain(value: Any) -> Any:
    """A value as JSON holds it: ids and times as text (ISO 8601), enums as their codes."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | datetime | date):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _cell(value: Any) -> object:
    plain = _plain(value)
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, int):
        return Number(str(plain))
    if isinstance(plain, dict):
        return json.dumps(plain, ensure_ascii=False, sort_keys=True)
    return plain


async def firm_tables(db: AsyncSession, actor: Membership) -> list[Table]:
    """Every kind of the firm's records (see the module's docstring), one statement each."""
    require(permissions.can_export_firm_data(actor), "firm_export")
    staff_columns = exported_columns(Membership)
    staff = await db.execute(
        select(*staff_columns, User.name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == actor.tenant_id)
        .order_by(Membership.created_at, Membership.id)
    )
    tables = [
        Table(
            "staff",
            [column.key for column in staff_columns] + ["name", "email"],
            staff.tuples().all(),
        )
    ]
    for name, model in KINDS:
        columns = exported_columns(model)
        rows = await db.execute(
            select(*columns).where(model.tenant_id == actor.tenant_id).order_by(*columns[:1])
        )
        tables.append(Table(name, [column.key for column in columns], rows.tuples().all()))
    return tables


OWN_NOTES_FILE = "my_session_notes.json"


def _readme(tenant: Tenant, tables: list[Table], own_notes: list[dict[str, Any]] | None) -> str:
    lines = [
        _("All data of %(firm)s, exported on %(day)s.")
        % {"firm": tenant.name, "day": clock.today().isoformat()},
        "",
        _(
            "Each kind of record is here twice: as JSON (UTF-8, times in UTC as ISO 8601) and "
            "as CSV (semicolons, UTF-8 with a byte order mark, for Excel). Amounts are in "
            "cents."
        ),
        "",
        _(
            "Confidential content is not included: session notes, between-session assignments "
            "and the responses to them, goals, evaluations and the agreed limits of "
            "confidentiality. Only their author (and, where shared, the supervisee) can read "
            "them in Luotsi."
        ),
        _("Secrets are not included either: password and link hashes, and storage keys."),
        "",
    ]
    if own_notes is not None:
        lines += [
            _(
                "%(file)s: the session notes that you, who made this export, keep yourself "
                "(decrypted; nobody else's notes). Keep this file especially safe."
            )
            % {"file": OWN_NOTES_FILE},
            "",
        ]
    lines += [f"{table.name}.json, {table.name}.csv: {len(table.rows)}" for table in tables]
    if own_notes is not None:
        lines.append(f"{OWN_NOTES_FILE}: {len(own_notes)}")
    return "\r\n".join(lines) + "\r\n"


def firm_zip(
    tenant: Tenant, tables: list[Table], own_notes: list[dict[str, Any]] | None = None
) -> bytes:
    """The zip of :func:`firm_tables`: ``README.txt``, and ``<kind>.json`` and ``<kind>.csv``
    for each kind; with ``own_notes`` (the exporter's own, see the module's docstring) also
    :data:`OWN_NOTES_FILE`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(tenant, tables, own_notes))
        if own_notes is not None:
            archive.writestr(OWN_NOTES_FILE, json.dumps(own_notes, ensure_ascii=False, indent=1))
        for table in tables:
            records = [
                {column: _plain(value) for column, value in zip(table.columns, row, strict=True)}
                for row in table.rows
            ]
            archive.writestr(
                f"{table.name}.json", json.dumps(records, ensure_ascii=False, indent=1)
            )
            cells = [[_cell(value) for value in row] for row in table.rows]
            archive.writestr(f"{table.name}.csv", csv_bytes([table.columns, *cells]))
    return out.getvalue()
