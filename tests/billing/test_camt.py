"""Reading incoming payments from camt.054 and camt.053 files the tests write themselves."""

from __future__ import annotations

from datetime import date

import pytest

from luotsi.billing.camt import IncomingPayment, StatementError, read_statement
from luotsi.platform import i18n

NS054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"
NS053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def tx(amount: str, *, ref: str = "", payer: str = "", message: str = "", archive: str = "") -> str:
    parts = [f'<Amt Ccy="EUR">{amount}</Amt>' if amount else ""]
    if archive:
        parts.append(f"<Refs><AcctSvcrRef>{archive}</AcctSvcrRef></Refs>")
    if payer:
        parts.append(f"<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>")
    remittance = ""
    if ref:
        remittance += f"<Strd><CdtrRefInf><Ref>{ref}</Ref></CdtrRefInf></Strd>"
    if message:
        remittance += f"<Ustrd>{message}</Ustrd>"
    if remittance:
        parts.append(f"<RmtInf>{remittance}</RmtInf>")
    return f"<TxDtls>{''.join(parts)}</TxDtls>"


def entry(
    amount: str,
    *details: str,
    kind: str = "CRDT",
    booked: str = "2026-11-30",
    reversal: bool = False,
) -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{kind}</CdtDbtInd>'
        + ("<RvslInd>true</RvslInd>" if reversal else "")
        + f"<BookgDt><Dt>{booked}</Dt></BookgDt><AcctSvcrRef>ARCH-{amount}</AcctSvcrRef>"
        + (f"<NtryDtls>{''.join(details)}</NtryDtls>" if details else "")
        + "</Ntry>"
    )


def camt054(*entries: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NS054}">'
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>1</MsgId></GrpHdr>"
        f"<Ntfctn><Id>N1</Id>{''.join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def test_a_batch_of_reference_payments_is_one_payment_per_transaction() -> None:
    data = camt054(
        entry(
            "530.00",
            tx("150.60", ref="1009", payer="Kaupunki Oy", archive="A1"),
            tx("379.40", ref="RF09 8685 1625 9619 897", payer="Hyvinvointialue"),
        ),
        entry("12.00", tx("12.00", message="Lasku 1001 kiitos", payer="Yhdistys ry")),
        entry("99.00", kind="DBIT"),  # money out: not a payment to us
        entry("44.00", tx("44.00", ref="1009"), reversal=True),  # returned by the bank
    )
    assert read_statement(data) == [
        IncomingPayment(15060, date(2026, 11, 30), "1009", "Kaupunki Oy", "", "A1"),
        IncomingPayment(
            37940, date(2026, 11, 30), "RF09868516259619897", "Hyvinvointialue", "", "ARCH-530.00"
        ),
        IncomingPayment(
            1200, date(2026, 11, 30), "", "Yhdistys ry", "Lasku 1001 kiitos", "ARCH-12.00"
        ),
    ]


def test_a_statement_camt053_and_an_entry_without_details_are_read() -> None:
    data = (
        f'<Document xmlns="{NS053}"><BkToCstmrStmt><Stmt>'
        + entry("20.00", booked="2026-12-01")
        + entry("7.50", tx("", ref="00001009"), booked="2026-12-02")
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()
    payments = read_statement(data)
    assert [(p.cents, p.booked_on, p.reference) for p in payments] == [
        (2000, date(2026, 12, 1), ""),
        (750, date(2026, 12, 2), "1009"),  # the entry's amount; leading zeros dropped
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not xml at all", "not a readable XML file"),
        (b"<Document><Other/></Document>", "not an ISO 20022"),
        (camt054(entry("10.00", tx("ten"))), "not a number"),
        (camt054(entry("10.00", tx("10.001"))), "positive sum in cents"),
        (camt054(entry("10.00", tx("10.00"), booked="")), "booking date"),
        (camt054(entry("10.00")).replace(b'Ccy="EUR"', b'Ccy="SEK"'), "not in euros"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Document>&b;</Document>',
            "not a readable XML file",
        ),
        (b" " * (10 * 1024 * 1024 + 1), "larger than 10 MB"),
    ],
)
def test_a_file_that_is_not_a_readable_camt_file_says_why(data: bytes, reason: str) -> None:
    with i18n.language("en"), pytest.raises(StatementError, match=reason):
        read_statement(data)


def test_the_reason_is_in_the_users_language() -> None:
    with i18n.language("fi"), pytest.raises(StatementError, match="ei ole luettava XML"):
        read_statement(b"<")
