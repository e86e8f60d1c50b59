"""Arranging billing for tests: a complete billing profile and drafts with lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.models import Invoice, InvoiceLine
from luotsi.billing.money import line_net_cents
from luotsi.billing.profile import get_profile
from luotsi.billing.references import ReferenceType
from luotsi.tenants.clients.models import ClientOrg


async def complete_profile(
    db: AsyncSession, *, next_number: int = 1000, reference_type: ReferenceType | None = None
) -> None:
    """Fill the firm's billing profile so that it can invoice."""
    profile = await get_profile(db)
    profile.street, profile.postal_code, profile.city = "Hämeenkatu 1 A", "33100", "Tampere"
    profile.iban, profile.bic = "FI21 1234 5600 0007 85", "NDEAFIHH"
    profile.email = "laskutus@firm.example"
    profile.next_number = next_number
    profile.reference_type = reference_type or ReferenceType.NATIONAL
    await db.flush()


@dataclass(frozen=True)
class Row:
    """A draft line: hand-added unless it names a session or a process agreement."""

    description: str = "Matkakulut"
    unit_cents: int = 12000
    quantity: str = "1"
    vat_basis_points: int = 2550
    session_id: uuid.UUID | None = None
    agreement_id: uuid.UUID | None = None
    process: bool = False
    day: date | None = None


async def add_draft(db: AsyncSession, org: ClientOrg, *rows: Row) -> Invoice:
    """A draft invoice to ``org`` with ``rows`` (one hand-added line when none are given)."""
    invoice = Invoice(org_id=org.id, language=org.invoice_language)
    db.add(invoice)
    await db.flush()
    for position, row in enumerate(rows or (Row(),)):
        quantity = Decimal(row.quantity)
        db.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                agreement_id=row.agreement_id,
                session_id=row.session_id,
                process=row.process,
                day=row.day,
                description=row.description,
                quantity=quantity,
                unit_cents=row.unit_cents,
                net_cents=line_net_cents(quantity, row.unit_cents),
                vat_basis_points=row.vat_basis_points,
            )
        )
    await db.flush()
    return invoice
