"""Payments received, what each invoice is worth now, and bank statements read in.

An invoice's state is **derived, never stored**: its gross total less the payments matched to
it and the issued credit notes that credit it is its open balance, and the state follows from
that balance, the due date and today (:class:`InvoiceState`). The two sums are kept on the
invoice (``paid_cents``, ``credited_cents``) by the only functions that change them:
:func:`count_paid` wherever a payment is added, deleted or matched, :func:`count_credited`
when a credit note is issued. :func:`balance_columns` gives the balance and state as column
expressions of any query of invoices, so a single statement gives the balances of any number
of invoices (:func:`states`) and an invoice list filters, sorts and totals by state in SQL
(:func:`state_filter`) without aggregating the firm's payments.

Payments are recorded by hand (:func:`record_payment`) or read from a bank's camt.053/054 file
(:func:`import_statement`): each incoming credit is matched to an issued invoice by its
reference, the national and the RF form of the same reference alike. The bank's archive
reference of the entry is kept, unique per firm, so importing a file again adds nothing. A
payment whose reference matches no invoice is kept unmatched until someone matches it by hand
(:func:`unmatched_payments`, :func:`match_payment`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, delete, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.iso7064 import mod_97_10

from luotsi.billing import references
from luotsi.billing.camt import IncomingPayment, StatementError, read_statement
from luotsi.billing.document import DocumentKind
from luotsi.billing.models import Invoice, InvoiceStatus, Payment, PaymentSource
from luotsi.billing.settings import parse_euros
from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_, LabelledEnum, ngettext
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Page, paginate
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookEvent, emit
from luotsi.tenants.clients.models import ClientOrg

MAX_NOTE = 300
UNMATCHED_PER_PAGE = 25  # the payments page

T = TypeVar("T", bound=tuple[Any, ...])


class InvoiceState(LabelledEnum):
    DRAFT = "draft", N_("Draft")
    OPEN = "open", N_("Open")
    PARTLY_PAID = "partly_paid", N_("Partly paid")
    PAID = "paid", N_("Paid")
    OVERDUE = "overdue", N_("Overdue")
    CREDITED = "credited", N_("Credited")
    CREDIT_NOTE = "credit_note", N_("Credit note")


OPEN_STATES = (InvoiceState.OPEN, InvoiceState.PARTLY_PAID, InvoiceState.OVERDUE)


@dataclass(frozen=True)
class Balance:
    """What an invoice is worth today. ``open_cents`` below zero is an over-payment."""

    gross_cents: int
    paid_cents: int
    credited_cents: int  # by issued credit notes, as a positive sum
    open_cents: int
    state: InvoiceState
    due_on: date | None

    @property
    def overpaid_cents(self) -> int:
        return max(0, -self.open_cents)


class BalanceColumns(NamedTuple):
    """Column expressions of an invoice's balance and state (:func:`balance_columns`)."""

    paid_cents: ColumnElement[int]
    credited_cents: ColumnElement[int]
    open_cents: ColumnElement[int]
    state: ColumnElement[str]


def balance_columns(today: date | None = None) -> BalanceColumns:
    """The columns that give an invoice's balance and state on ``today``, for any query of
    :class:`Invoice`: ``b = balance_columns(); select(Invoice, b.open_cents).where(b.state ==
    InvoiceState.OVERDUE)``. They read the invoice's own sums: nothing is joined."""
    today = today or clock.today()
    paid_cents = Invoice.paid_cents
    credited_cents = Invoice.credited_cents
    is_invoice = and_(Invoice.status == InvoiceStatus.ISSUED, Invoice.kind == DocumentKind.INVOICE)
    open_cents = case(
        (is_invoice, Invoice.gross_cents - paid_cents - credited_cents), else_=literal(0)
    )
    state = case(
        (Invoice.status == InvoiceStatus.DRAFT, literal(InvoiceState.DRAFT.value)),
        (Invoice.kind == DocumentKind.CREDIT_NOTE, literal(InvoiceState.CREDIT_NOTE.value)),
        (
            open_cents <= 0,
            case(
                (credited_cents >= Invoice.gross_cents, literal(InvoiceState.CREDITED.value)),
                else_=literal(InvoiceState.PAID.value),
            ),
        ),
        (Invoice.due_on < today, literal(InvoiceState.OVERDUE.value)),
        (paid_cents > 0, literal(InvoiceState.PARTLY_PAID.value)),
        else_=literal(InvoiceState.OPEN.value),
    )
    return BalanceColumns(
        paid_cents.label("paid_cents"),
        credited_cents.label("credited_cents"),
        open_cents.label("open_cents"),
        state.label("state"),
    )


async def count_paid(db: AsyncSession, cents_by_invoice: Mapping[uuid.UUID, int]) -> None:
    """Add each amount to its invoice's paid sum (a negative amount takes it away).

    Called in the transaction that adds, deletes or re-matches the payments, after they are
    flushed: two statements however many invoices a bank file pays. The rows are locked first
    in the order of their ids (so two files paying the same invoices cannot wait for each
    other), then each is updated by adding to what it holds, so two payments of one invoice
    written at once both count: the second waits for the first's lock.
    """
    wanted = {invoice_id: cents for invoice_id, cents in cents_by_invoice.items() if cents}
    if not wanted:
        return
    await db.execute(
        select(Invoice.id)
        .where(Invoice.id.in_(wanted))
        .order_by(Invoice.id)
        .with_for_update(key_share=True)  # the UPDATE's own lock: payments' keys may share it
    )
    await db.execute(
        update(Invoice)
        .where(Invoice.id.in_(wanted))
        .values(paid_cents=Invoice.paid_cents + case(wanted, value=Invoice.id, else_=0))
        .execution_options(synchronize_session="fetch")
    )


async def count_credited(db: AsyncSession, credit_note: Invoice) -> None:
    """Count a credit note just issued in the credited sum of the invoice it credits."""
    if credit_note.credited_id is not None:
        await db.execute(
            update(Invoice)
            .where(Invoice.id == credit_note.credited_id)
            .values(credited_cents=Invoice.credited_cents - credit_note.gross_cents)
        )


def _paid_by(payments: Iterable[Payment]) -> dict[uuid.UUID, int]:
    """The matched ``payments``' amounts summed per invoice."""
    sums: dict[uuid.UUID, int] = defaultdict(int)
    for payment in payments:
        if payment.invoice_id is not None:
            sums[payment.invoice_id] += payment.amount_cents
    return sums


def state_filter(query: Select[T], *wanted: InvoiceState, today: date | None = None) -> Select[T]:
    """``query`` of invoices narrowed to those in one of the states ``wanted`` on ``today``."""
    state = balance_columns(today).state
    return query.where(state.in_([wanted_state.value for wanted_state in wanted]))


async def states(
    db: AsyncSession, invoice_ids: list[uuid.UUID], today: date | None = None
) -> dict[uuid.UUID, Balance]:
    """The balance and state of each of ``invoice_ids`` on ``today``, in one statement."""
    if not invoice_ids:
        return {}
    b = balance_columns(today)
    rows = await db.execute(
        select(
            Invoice.id,
            Invoice.gross_cents,
            Invoice.due_on,
            Invoice.kind,
            Invoice.status,
            b.paid_cents,
            b.credited_cents,
            b.open_cents,
            b.state,
        ).where(Invoice.id.in_(invoice_ids))
    )
    found = {}
    for row in rows:
        issued_invoice = row.status == InvoiceStatus.ISSUED and row.kind == DocumentKind.INVOICE
        found[row.id] = Balance(
            gross_cents=row.gross_cents,
            paid_cents=int(row.paid_cents) if issued_invoice else 0,
            credited_cents=int(row.credited_cents) if issued_invoice else 0,
            open_cents=int(row.open_cents),
            state=InvoiceState(row.state),
            due_on=row.due_on,
        )
    return found


async def balance_of(db: AsyncSession, invoice_id: uuid.UUID, today: date | None = None) -> Balance:
    """One invoice's balance (:class:`NotFound` when the firm has no such invoice)."""
    found = await states(db, [invoice_id], today)
    if invoice_id not in found:
        raise NotFound("invoice")
    return found[invoice_id]


async def announce_paid(db: AsyncSession, before: dict[uuid.UUID, Balance]) -> None:
    """Send ``invoice_paid`` to the firm's webhooks for each invoice of ``before`` (their
    balances before the payments just flushed) that is now paid and was not then."""
    if not before:
        return
    after = await states(db, list(before))
    await emit(
        db,
        WebhookEvent.INVOICE_PAID,
        *(
            {
                "invoice_id": invoice_id,
                "state": balance.state.value,
                "gross_cents": balance.gross_cents,
                "paid_cents": balance.paid_cents,
                "open_cents": balance.open_cents,
                "due_on": balance.due_on,
            }
            for invoice_id, balance in after.items()
            if balance.state is InvoiceState.PAID
            and before[invoice_id].state is not InvoiceState.PAID
        ),
    )


# --- recording payments by hand -----------------------------------------------------------


async def _payable_invoice(db: AsyncSession, invoice_id: uuid.UUID) -> Invoice:
    """An issued invoice (not a credit note) that a payment can be matched to."""
    invoice = await db.scalar(select(Invoice).where(Invoice.id == invoice_id))
    if invoice is None:
        raise NotFound("invoice")
    if invoice.is_draft or invoice.is_credit_note:
        raise Invalid.field("invoice", _("Payments are recorded on issued invoices only."))
    return invoice


def parse_payment_amount(text: str) -> int | None:
    """Euros as typed, with a decimal comma or point, negative for money returned:
    "125,50" -> 12550, "-5" -> -500; None if not an amount."""
    text = text.strip()
    sign = -1 if text[:1] in ("-", "\u2212") else 1
    cents = parse_euros(text[1:] if sign < 0 else text)
    return None if cents is None else sign * cents


async def record_payment(
    db: AsyncSession,
    actor: Membership,
    invoice_id: uuid.UUID,
    paid_on: date | None,
    amount_cents: int | None,
    note: str = "",
) -> Payment:
    """Record money received for an issued invoice by hand.

    ``amount_cents`` is None when the amount typed was not one (see ``parse_payment_amount``).
    A negative amount corrects (money returned); more than the open balance is accepted and
    shows as an over-payment.
    """
    require(permissions.can_manage_billing(actor), "billing")
    invoice = await _payable_invoice(db, invoice_id)
    errors = {}
    if paid_on is None:
        errors["paid_on"] = _("Enter the day the payment was received.")
    elif paid_on > clock.today():
        errors["paid_on"] = _("The payment day cannot be in the future.")
    if amount_cents is None:
        errors["amount"] = _("Enter the amount in euros, e.g. 125,50.")
    elif amount_cents == 0:
        errors["amount"] = _("Enter an amount other than zero.")
    note = note.strip()
    if len(note) > MAX_NOTE:
        errors["note"] = i18n.too_long(MAX_NOTE)
    if errors:
        raise Invalid(errors)
    assert paid_on is not None and amount_cents is not None
    before = await states(db, [invoice.id])
    payment = Payment(
        invoice_id=invoice.id,
        paid_on=paid_on,
        amount_cents=amount_cents,
        source=PaymentSource.MANUAL,
        reference=invoice.reference,
        note=note,
        created_by=actor.id,
    )
    db.add(payment)
    await db.flush()
    await count_paid(db, _paid_by([payment]))
    await announce_paid(db, before)
    return payment


async def get_payment(db: AsyncSession, actor: Membership, payment_id: uuid.UUID) -> Payment:
    """A payment of the firm, matched or not."""
    require(permissions.can_manage_billing(actor), "billing")
    payment = await db.scalar(select(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("payment")
    return payment


async def payments_of(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> list[Payment]:
    """The payments matched to an invoice, oldest first."""
    require(permissions.can_manage_billing(actor), "billing")
    rows = await db.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice_id)
        .order_by(Payment.paid_on, Payment.created_at)
    )
    return list(rows)


async def delete_payment(db: AsyncSession, actor: Membership, payment_id: uuid.UUID) -> None:
    """Delete a payment recorded by hand (a mistake).

    A card payment is refused too: Stripe did take the money; a refund made in Stripe is
    recorded as a negative payment.

    A payment read from a bank statement is refused: the bank did receive it, and deleting
    it would let the next import of the same file add it again. Match it to the right
    invoice instead (:func:`match_payment`).
    """
    payment = await get_payment(db, actor, payment_id)
    if payment.source is PaymentSource.BANK:
        raise Invalid.field(
            "payment",
            _("A payment from a bank statement is not deleted: match it to the right invoice."),
        )
    if payment.source is PaymentSource.CARD:
        raise Invalid.field(
            "payment",
            _(
                "A card payment is not deleted: Stripe received it. Record a refund made in"
                " Stripe as a negative payment."
            ),
        )
    await db.execute(delete(Payment).where(Payment.id == payment.id))
    if payment.invoice_id is not None:
        await count_paid(db, {payment.invoice_id: -payment.amount_cents})


async def unmatched_payments(
    db: AsyncSession, actor: Membership, page: int = 1, per_page: int = UNMATCHED_PER_PAGE
) -> Page[Payment]:
    """One page of the bank payments whose reference matched no invoice, the latest first."""
    require(permissions.can_manage_billing(actor), "billing")
    return await paginate(
        db,
        Payment,
        [Payment.invoice_id.is_(None)],
        [Payment.paid_on.desc(), Payment.created_at.desc(), Payment.id],
        page,
        per_page,
    )


async def match_payment(
    db: AsyncSession, actor: Membership, payment_id: uuid.UUID, invoice_id: uuid.UUID | None
) -> Payment:
    """Match a bank payment to an issued invoice (``None``: back to the unmatched ones)."""
    payment = await get_payment(db, actor, payment_id)
    before = {}
    if invoice_id is not None:
        invoice_id = (await _payable_invoice(db, invoice_id)).id
        before = await states(db, [invoice_id])
    moved: dict[uuid.UUID, int] = defaultdict(int)
    if payment.invoice_id is not None:
        moved[payment.invoice_id] -= payment.amount_cents
    if invoice_id is not None:
        moved[invoice_id] += payment.amount_cents
    payment.invoice_id = invoice_id
    await db.flush()
    await count_paid(db, moved)
    await announce_paid(db, before)
    return payment


# --- bank statements ----------------------------------------------------------------------


@dataclass
class ImportResult:
    """What an import did. A payment is in exactly one of the lists."""

    paid: list[Payment] = field(default_factory=list)  # paid its invoice in full
    partial: list[Payment] = field(default_factory=list)  # left part of the invoice open
    overpaid: list[Payment] = field(default_factory=list)  # more than was open
    unmatched: list[Payment] = field(default_factory=list)  # no invoice has its reference
    duplicates: list[IncomingPayment] = field(default_factory=list)  # imported before: skipped

    @property
    def matched(self) -> list[Payment]:
        return [*self.paid, *self.partial, *self.overpaid]

    @property
    def added(self) -> int:
        return len(self.matched) + len(self.unmatched)

    def summary(self) -> str:
        """One translated sentence for the page: what was added, what was skipped."""
        if not self.added and self.duplicates:
            return ngettext(
                "Nothing new: the file's payment was imported before.",
                "Nothing new: all %(num)d payments of the file were imported before.",
                len(self.duplicates),
            ) % {"num": len(self.duplicates)}
        parts = [
            ngettext("%(num)d payment added", "%(num)d payments added", self.added)
            % {"num": self.added},
            ngettext(
                "%(num)d matched to an invoice", "%(num)d matched to invoices", len(self.matched)
            )
            % {"num": len(self.matched)},
        ]
        if self.unmatched:
            parts.append(_("%(num)d to match by hand") % {"num": len(self.unmatched)})
        if self.duplicates:
            parts.append(
                ngettext(
                    "%(num)d imported before and skipped",
                    "%(num)d imported before and skipped",
                    len(self.duplicates),
                )
                % {"num": len(self.duplicates)}
            )
        return ", ".join(parts) + "."


def reference_forms(reference: str) -> list[str]:
    """The compact forms an invoice may carry for a payment's ``reference``: the reference
    itself and its national or RF twin (an RF reference wraps the national one)."""
    text = references.compact(reference)
    if not text or not references.is_valid(text):
        return []
    if text.startswith("RF"):
        return [text, references.compact(text[4:])]
    return [text, f"RF{mod_97_10.calc_check_digits(text + 'RF')}{text}"]


def _archive_keys(incoming: list[IncomingPayment]) -> list[str]:
    """The key that makes each entry importable once: the bank's archive reference, or (for a
    bank that gives none) a digest of the entry and its ordinal among identical ones."""
    seen: Counter[tuple[object, ...]] = Counter()
    keys = []
    for entry in incoming:
        if entry.archive_id:
            keys.append(entry.archive_id[:64])
            continue
        fields = (entry.booked_on, entry.cents, entry.reference, entry.payer, entry.message)
        seen[fields] += 1
        digest = hashlib.sha256(repr((*fields, seen[fields])).encode()).hexdigest()[:40]
        keys.append(f"entry:{digest}")
    return keys


async def import_statement(db: AsyncSession, actor: Membership, data: bytes) -> ImportResult:
    """Read a camt.053/camt.054 file's incoming payments and match them to invoices.

    Raises :class:`Invalid` (field ``file``) when the file cannot be read, with the reason.
    Entries imported before (by the bank's archive reference) are skipped and listed.
    """
    require(permissions.can_manage_billing(actor), "billing")
    try:
        incoming = read_statement(data)
    except StatementError as error:
        raise Invalid.field("file", str(error)) from None
    keys = _archive_keys(incoming)
    known = set(
        await db.scalars(select(Payment.archive_ref).where(Payment.archive_ref.in_(set(keys))))
    )
    forms = {entry.reference: reference_forms(entry.reference) for entry in incoming}
    wanted = {form for found in forms.values() for form in found}
    invoices = {
        invoice.reference: invoice
        for invoice in await db.scalars(
            select(Invoice).where(
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.kind == DocumentKind.INVOICE,
                Invoice.reference.in_(wanted),
            )
        )
    }
    balances = await states(db, [invoice.id for invoice in invoices.values()])
    still_open = {invoice_id: balance.open_cents for invoice_id, balance in balances.items()}

    result = ImportResult()
    for entry, key in zip(incoming, keys, strict=True):
        if key in known:
            result.duplicates.append(entry)
            continue
        known.add(key)
        invoice = next((invoices[f] for f in forms[entry.reference] if f in invoices), None)
        payment = Payment(
            invoice_id=invoice.id if invoice else None,
            paid_on=entry.booked_on,
            amount_cents=entry.cents,
            source=PaymentSource.BANK,
            reference=entry.reference[:35],
            payer=entry.payer[:140],
            archive_ref=key,
            note=entry.message[:MAX_NOTE],
            created_by=actor.id,
        )
        db.add(payment)
        if invoice is None:
            result.unmatched.append(payment)
            continue
        still_open[invoice.id] -= entry.cents
        left = still_open[invoice.id]
        (result.partial if left > 0 else result.paid if left == 0 else result.overpaid).append(
            payment
        )
    try:
        await db.flush()
    except IntegrityError:  # another import of the same entries committed meanwhile
        raise Invalid.field(
            "file", _("The same payments are being imported right now. Try again in a moment.")
        ) from None
    await count_paid(db, _paid_by(result.matched))
    await announce_paid(db, balances)
    return result


async def open_invoices(db: AsyncSession, actor: Membership) -> list[tuple[Invoice, str, int]]:
    """Issued invoices with something still to pay, with the organisation's name and the
    open amount, by number: what an unmatched payment can be matched to."""
    require(permissions.can_manage_billing(actor), "billing")
    b = balance_columns()
    rows = await db.execute(
        select(Invoice, ClientOrg.name, b.open_cents)
        .join(ClientOrg, ClientOrg.id == Invoice.org_id)
        .where(b.state.in_([s.value for s in OPEN_STATES]))
        .order_by(Invoice.number)
    )
    return [(invoice, name, int(open_cents)) for invoice, name, open_cents in rows.tuples()]
