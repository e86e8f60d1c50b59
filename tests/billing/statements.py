"""Writing camt.054 reference-payment files for tests, as a Finnish bank sends them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

NS054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


@dataclass(frozen=True)
class Credit:
    """One incoming payment: an entry with one transaction."""

    cents: int
    reference: str = ""
    booked_on: date | None = None  # the statement's day when None
    archive: str = ""  # the bank's archive reference; none when ""
    payer: str = "Esimerkkikunta"
    message: str = ""


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _entry(credit: Credit, day: date) -> str:
    remittance = ""
    if credit.reference:
        remittance += f"<Strd><CdtrRefInf><Ref>{escape(credit.reference)}</Ref></CdtrRefInf></Strd>"
    if credit.message:
        remittance += f"<Ustrd>{escape(credit.message)}</Ustrd>"
    amount = f'<Amt Ccy="EUR">{_amount(credit.cents)}</Amt>'
    refs = (
        f"<Refs><AcctSvcrRef>{escape(credit.archive)}</AcctSvcrRef></Refs>"
        if credit.archive
        else ""
    )
    return (
        f"<Ntry>{amount}<CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{(credit.booked_on or day).isoformat()}</Dt></BookgDt>"
        f"<NtryDtls><TxDtls>{amount}{refs}"
        f"<RltdPties><Dbtr><Nm>{escape(credit.payer)}</Nm></Dbtr></RltdPties>"
        + (f"<RmtInf>{remittance}</RmtInf>" if remittance else "")
        + "</TxDtls></NtryDtls></Ntry>"
    )


def camt054(day: date, *credits: Credit) -> bytes:
    """A camt.054 notification of ``credits`` booked on ``day`` (unless a credit says)."""
    entries = "".join(_entry(credit, day) for credit in credits)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NS054}">'
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M{day:%Y%m%d}</MsgId></GrpHdr>"
        f"<Ntfctn><Id>N1</Id>{entries}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


# A "billion laughs": entities that expand to gigabytes if a parser resolves them.
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE Document ['
    b'<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
    b"<BkToCstmrDbtCdtNtfctn><Ntfctn><Ntry><AddtlNtryInf>&d;</AddtlNtryInf></Ntry>"
    b"</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
)
