"""Incoming payments read from a bank's ISO 20022 camt.054 or camt.053 file.

Finnish banks deliver reference payments (*viitesiirrot*) as camt.054 notifications, and
account statements as camt.053; both list entries (``Ntry``) whose transaction details
(``TxDtls``) carry the amount, the payer and the structured creditor reference. Only credits
are payments to us; debits and reversed entries are left out. The namespaces differ between
message versions (camt.054.001.02 ... .08), so elements are found by local name.

The file comes from a user's upload: it is parsed with defusedxml (no entity expansion, no
external entities, no DTDs), and anything that is not a camt file, or not XML at all, raises
:class:`StatementError` with a reason the page can show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from luotsi.billing import references
from luotsi.platform.i18n import gettext as _

MAX_BYTES = 10 * 1024 * 1024  # a month of reference payments of a big firm is well under this


class StatementError(ValueError):
    """The upload is not a camt.053/camt.054 file this module can read; ``str()`` says why."""


@dataclass(frozen=True)
class IncomingPayment:
    cents: int
    booked_on: date
    reference: str  # compact, "" when the payer wrote a free-text message instead
    payer: str
    message: str  # the unstructured remittance text, if any
    archive_id: str  # the bank's reference of the entry (arkistointitunnus)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _find(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next(_children(element, name), None)
    return element


def _text(element: Element | None, *path: str) -> str:
    found = _find(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _cents(element: Element | None) -> int:
    if element is None or element.get("Ccy", "EUR") != "EUR":
        raise StatementError(_("The file has an amount that is not in euros."))
    try:
        amount = Decimal((element.text or "").strip())
    except InvalidOperation:
        raise StatementError(_("The file has an amount that is not a number.")) from None
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise StatementError(_("The file has an amount that is not a positive sum in cents."))
    return int(amount * 100)


def _day(entry: Element) -> date:
    text = _text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm")[:10]
    text = text or _text(entry, "ValDt", "Dt")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise StatementError(_("The file has an entry without a booking date.")) from None


def _reference(details: Element) -> str:
    structured = _text(details, "RmtInf", "Strd", "CdtrRefInf", "Ref")
    return references.compact(structured) if structured else ""


def read_statement(data: bytes) -> list[IncomingPayment]:
    """The incoming payments of camt file ``data``, in the file's order."""
    if len(data) > MAX_BYTES:
        raise StatementError(_("The file is larger than 10 MB."))
    try:
        root = SafeTree.fromstring(data)
    except (ParseError, DefusedXmlException):
        raise StatementError(_("The file is not a readable XML file.")) from None
    body = next(iter(root), None) if _local(root.tag) == "Document" else None
    if body is None or _local(body.tag) not in {"BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt"}:
        raise StatementError(_("The file is not an ISO 20022 camt.053 or camt.054 file."))
    payments = []
    for report in (*_children(body, "Ntfctn"), *_children(body, "Stmt")):
        for entry in _children(report, "Ntry"):
            if _text(entry, "CdtDbtInd") != "CRDT" or _text(entry, "RvslInd") == "true":
                continue
            booked_on = _day(entry)
            archive_id = _text(entry, "AcctSvcrRef")
            details = [d for nd in _children(entry, "NtryDtls") for d in _children(nd, "TxDtls")]
            if not details:  # an entry without details is one payment of the entry's amount
                payments.append(
                    IncomingPayment(_cents(_find(entry, "Amt")), booked_on, "", "", "", archive_id)
                )
                continue
            for tx in details:
                amount = _find(tx, "Amt")
                if amount is None:
                    amount = _find(tx, "AmtDtls", "TxAmt", "Amt")
                if amount is None and len(details) == 1:
                    amount = _find(entry, "Amt")
                payments.append(
                    IncomingPayment(
                        cents=_cents(amount),
                        booked_on=booked_on,
                        reference=_reference(tx),
                        payer=_text(tx, "RltdPties", "Dbtr", "Nm")
                        or _text(tx, "RltdPties", "Dbtr", "Pty", "Nm"),
                        message=" ".join(
                            (u.text or "").strip() for u in _children_of(tx, "RmtInf", "Ustrd")
                        ).strip(),
                        archive_id=_text(tx, "Refs", "AcctSvcrRef") or archive_id,
                    )
                )
    return payments


def _children_of(element: Element, parent: str, name: str) -> Iterator[Element]:
    found = _find(element, parent)
    return _children(found, name) if found is not None else iter(())
