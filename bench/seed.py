"""Benchmark data at scale: 2,000 firms and what they hold, written with COPY.

Not part of the app (nothing under ``luotsi`` imports it) and not part of the suite, except
for a tiny scale in tests/bench/test_seed.py. Run it by hand against an empty PostgreSQL
database; it migrates the database to head first:

    createdb -h 127.0.0.1 -U postgres luotsi_bench
    LUOTSI_MASTER_KEYS=... .venv/bin/python -m bench.seed \\
        --database-url postgresql://postgres@127.0.0.1:5432/luotsi_bench --scale 1

At scale 1: 2,000 firms, 20,000 supervisors (each with a staff profile in the directory),
200,000 client people in about 19,000 organisations, 100,000 agreements, 3 million sessions over
two years around today, the invoices of the last twelve whole months (a line per held
session; the older ones paid) and 40,000 inquiries from the public pages. Firm sizes follow
Zipf's law (the n-th largest firm has 1/n of the largest one's people), so a few firms are
large and most are small; firm 1 (``f0001``) is the largest and the last one the smallest.
``--scale 0.01`` makes a hundredth.

Every row carries its firm's ``tenant_id`` and the composite foreign keys of the schema, which
the database checks during the COPY (foreign-key triggers stay on) except for invoice lines:
those of issued invoices are refused by the freeze trigger, so that COPY runs with
``session_replication_role = replica``. A few sessions of each of the first firms get a
supervisor's note encrypted with the configured master keys (``LUOTSI_MASTER_KEYS``), so the
content paths have something to decrypt; the rest of the content tables stay empty.

Everyone signs in with :data:`BENCH_PASSWORD`: the owner of firm ``f0001`` is
``omistaja@f0001.bench.luotsi.localhost``, its supervisors ``ohjaaja1@…``, ``ohjaaja2@…``;
the HR contact of each firm's first organisation ``hr@f0001-asiakas.bench.luotsi.localhost``
has a portal login. Use an empty database: the seed does not check for earlier rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncEngine

from luotsi.billing.invoices import buyer_of, seller_of
from luotsi.billing.models import BillingProfile
from luotsi.billing.references import ReferenceType, reference_for
from luotsi.platform import clock
from luotsi.platform.crypto import ContentCipher
from luotsi.platform.db import make_engine
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.identity import configure_password_hashing, hash_password
from luotsi.platform.migrate import upgrade
from luotsi.platform.settings import Settings, load_settings
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.content.models import NOTE_BODY

BENCH_PASSWORD = "bench-salasana-2026"  # noqa: S105 - the benchmark data's shared password
DOMAIN = "bench.luotsi.localhost"

# At scale 1.
FIRMS = 2_000
SUPERVISORS = 20_000
PEOPLE = 200_000
PEOPLE_PER_ORG = 10  # an HR contact, a manager and eight supervisees
AGREEMENTS = 100_000
SESSIONS = 3_000_000
INQUIRIES = 40_000  # from the public pages, over the last two years
INVOICED_MONTHS = 12
NOTED_FIRMS = 20  # the firms whose first sessions get an encrypted note
NOTES_PER_FIRM = 5
BATCH = 50_000  # rows buffered per table before they are copied

KINDS = ("individual", "individual", "individual", "group", "work_community", "leadership")
LANGUAGES = (",fi,", ",fi,", ",fi,", ",fi,sv,", ",en,fi,", ",sv,")
REGIONS = ("01", "02", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14")


def zipf_split(total: int, parts: int, minimum: int = 1) -> list[int]:
    """``total`` split over ``parts`` in Zipf proportions (the i-th gets 1/i of the first's),
    each at least ``minimum``, the remainders going to the largest parts first."""
    weights = [1 / rank for rank in range(1, parts + 1)]
    return _split(total, weights, minimum)


def _split(total: int, weights: Sequence[float], minimum: int) -> list[int]:
    spare = total - minimum * len(weights)
    if spare < 0:
        return [minimum] * len(weights)
    whole = sum(weights)
    exact = [spare * w / whole for w in weights]
    counts = [math.floor(x) for x in exact]
    left = spare - sum(counts)
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[:left]:
        counts[i] += 1
    return [minimum + c for c in counts]


@dataclass
class Sizes:
    """How much of everything one run makes."""

    firms: int
    supervisors: int
    people: int
    agreements: int
    sessions: int
    inquiries: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        firms = max(2, round(FIRMS * scale))
        return cls(
            firms=firms,
            supervisors=max(firms, round(SUPERVISORS * scale)),
            people=max(firms * PEOPLE_PER_ORG, round(PEOPLE * scale)),
            agreements=max(firms, round(AGREEMENTS * scale)),
            sessions=max(firms, round(SESSIONS * scale)),
            inquiries=max(firms, round(INQUIRIES * scale)),
        )


# Columns of each table, in the order the rows below give them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("id", "slug", "name", "business_id", "status", "created_at"),
    "users": (
        "id",
        "email",
        "name",
        "password_hash",
        "locale",
        "email_verified_at",
        "is_operator",
        "is_active",
        "created_at",
    ),
    "memberships": ("tenant_id", "id", "user_id", "role", "created_at"),
    "firm_profiles": (
        "tenant_id",
        "id",
        "description_fi",
        "description_sv",
        "description_en",
        "public_email",
        "public_phone",
        "directory_enabled",
        "updated_at",
    ),
    "billing_profiles": (
        "tenant_id",
        "id",
        "legal_name",
        "business_id",
        "street",
        "postal_code",
        "city",
        "email",
        "phone",
        "iban",
        "bic",
        "next_number",
        "payment_term_days",
        "penalty_interest",
        "reminder_fee_cents",
        "language",
        "reference_type",
        "vat_exemption_text",
        "full_names_on_lines",
        "updated_at",
    ),
    "staff_profiles": (
        "tenant_id",
        "id",
        "membership_id",
        "display_name",
        "title",
        "phone",
        "public_email",
        "bio_fi",
        "bio_sv",
        "bio_en",
        "languages",
        "kinds",
        "remote_anywhere",
        "visible",
        "active",
        "updated_at",
    ),
    "service_areas": ("tenant_id", "id", "profile_id", "region_code"),
    "client_orgs": (
        "tenant_id",
        "id",
        "name",
        "business_id",
        "org_type",
        "billing_street",
        "billing_postal_code",
        "billing_city",
        "einvoice_address",
        "einvoice_operator",
        "invoice_email",
        "invoice_language",
        "payment_term_days",
        "internal_notes",
        "created_at",
        "updated_at",
    ),
    "client_people": (
        "tenant_id",
        "id",
        "org_id",
        "role",
        "name",
        "email",
        "phone",
        "title",
        "membership_id",
        "created_at",
    ),
    "agreements": (
        "tenant_id",
        "id",
        "org_id",
        "kind",
        "title",
        "manager_id",
        "hr_contact_id",
        "start_date",
        "end_date",
        "session_minutes",
        "cadence_weeks",
        "price_cents",
        "vat_basis_points",
        "cancellation_hours",
        "review_interval_months",
        "reminders_enabled",
        "status",
        "status_changed_at",
        "created_at",
        "updated_at",
        "pricing",
        "review_due_on",
    ),
    "agreement_supervisors": ("tenant_id", "id", "agreement_id", "membership_id"),
    "agreement_supervisees": ("tenant_id", "id", "agreement_id", "person_id"),
    "supervision_sessions": (
        "tenant_id",
        "id",
        "agreement_id",
        "supervisor_id",
        "kind",
        "starts_at",
        "duration_minutes",
        "status",
        "billable",
        "late_cancellation",
        "cancelled_at",
        "actual_minutes",
        "remote",
        "address",
        "meeting_url",
        "uid",
        "sequence",
        "reminder_sent_at",
        "created_at",
        "updated_at",
    ),
    "inquiries": (
        "tenant_id",
        "id",
        "organisation",
        "name",
        "email",
        "phone",
        "kind",
        "message",
        "language",
        "consent_at",
        "status",
        "assigned_membership_id",
        "created_at",
        "updated_at",
    ),
    "session_notes": (
        "tenant_id",
        "id",
        "session_id",
        "author_membership_id",
        "body",
        "key_version",
        "created_at",
        "updated_at",
    ),
    "invoices": (
        "tenant_id",
        "id",
        "org_id",
        "kind",
        "status",
        "period_start",
        "period_end",
        "language",
        "buyer_reference",
        "notes",
        "restores_sessions",
        "number",
        "reference",
        "reference_type",
        "issued_on",
        "due_on",
        "seller",
        "buyer",
        "net_cents",
        "vat_cents",
        "gross_cents",
        "paid_cents",
        "created_by",
        "created_at",
        "updated_at",
        "issued_by",
        "issued_at",
    ),
    "invoice_lines": (
        "tenant_id",
        "id",
        "invoice_id",
        "position",
        "agreement_id",
        "session_id",
        "process",
        "day",
        "description",
        "quantity",
        "unit",
        "unit_cents",
        "net_cents",
        "vat_basis_points",
        "minutes",
    ),
    "payments": (
        "tenant_id",
        "id",
        "invoice_id",
        "paid_on",
        "amount_cents",
        "source",
        "reference",
        "payer",
        "archive_ref",
        "note",
        "created_at",
    ),
}
# Parents before children: each flush copies in this order, so foreign keys find their rows.
ORDER = tuple(COLUMNS)
# Lines of issued invoices: the freeze trigger refuses them unless triggers are off.
WITHOUT_TRIGGERS = {"invoice_lines"}


@dataclass
class Report:
    """What one run made, and how long it took."""

    sizes: Sizes
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    largest_firm: str = ""
    smallest_firm: str = ""


class Writer:
    """Buffers rows per table and copies them in dependency order when a buffer fills."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn  # asyncpg
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in ORDER}
        self.counts = dict.fromkeys(ORDER, 0)

    async def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)
        if len(self.rows[table]) >= BATCH:
            await self.flush()

    async def flush(self) -> None:
        for table in ORDER:
            rows = self.rows[table]
            if not rows:
                continue
            if table in WITHOUT_TRIGGERS:
                await self.conn.execute("SET session_replication_role = replica")
            await self.conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
            if table in WITHOUT_TRIGGERS:
                await self.conn.execute("SET session_replication_role = DEFAULT")
            self.counts[table] += len(rows)
            self.rows[table] = []


@dataclass
class Firm:
    number: int
    supervisors: int
    people: int
    agreements: int
    sessions: int
    inquiries: int

    @property
    def slug(self) -> str:
        return f"f{self.number:04d}"

    @property
    def domain(self) -> str:
        return f"{self.slug}.{DOMAIN}"


def firms_of(sizes: Sizes) -> list[Firm]:
    supervisors = zipf_split(sizes.supervisors, sizes.firms)
    people = _split(sizes.people, supervisors, PEOPLE_PER_ORG)
    agreements = _split(sizes.agreements, supervisors, 1)
    sessions = _split(sizes.sessions, agreements, 1)
    inquiries = _split(sizes.inquiries, supervisors, 1)
    return [
        Firm(i + 1, *counts)
        for i, counts in enumerate(
            zip(supervisors, people, agreements, sessions, inquiries, strict=True)
        )
    ]


def _business_id(n: int) -> str:
    """A valid Finnish business ID from ``n`` (the next number when ``n``'s has no check digit)."""
    while True:
        base = f"{2_000_000 + n % 7_000_000:07d}"
        remainder = sum(w * int(d) for w, d in zip((7, 9, 10, 5, 8, 4, 2), base, strict=True)) % 11
        if remainder != 1:
            return f"{base}-{(11 - remainder) % 11}"
        n += 1


def _helsinki(day: date, hour: int) -> datetime:
    return datetime.combine(day, clock_time(hour), HELSINKI).astimezone(UTC)


class Seeder:
    def __init__(self, writer: Writer, today: date, password_hash: str, cipher: ContentCipher):
        self.w = writer
        self.today = today
        self.now = _helsinki(today, 12)
        self.password_hash = password_hash
        self.cipher = cipher
        self.rng = random.Random(2026)  # noqa: S311 - the same data on every run, not secrets
        self.to_note: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []  # session, author, time

    async def firm(self, firm: Firm) -> None:
        rng, now = self.rng, self.now
        tenant_id = uuid.uuid4()
        created = now - timedelta(days=800)
        name = f"Bench Työnohjaus {firm.number:04d} Oy"
        business_id = _business_id(firm.number)
        await self.w.add("tenants", (tenant_id, firm.slug, name, business_id, "active", created))
        owner = await self._member(tenant_id, f"omistaja@{firm.domain}", "Olli Omistaja", "owner")
        supervisors = [
            await self._member(
                tenant_id, f"ohjaaja{i}@{firm.domain}", f"Ohjaaja {i} {firm.slug}", "supervisor"
            )
            for i in range(1, firm.supervisors + 1)
        ]
        await self.w.add(
            "firm_profiles",
            (tenant_id, uuid.uuid4(), "Työnohjausta koko Suomeen.", "", "", "", "", True, now),
        )
        profile = BillingProfile(
            legal_name=name,
            business_id=business_id,
            street="Asemakatu 2",
            postal_code="00100",
            city="Helsinki",
            email=f"laskutus@{firm.domain}",
            phone="+358405550100",
            iban="FI21 1234 5600 0007 85",
            bic="NDEAFIHH",
            penalty_interest="Viivästyskorko korkolain mukaan.",
            vat_exemption_text="",
        )
        for i, membership_id in enumerate(supervisors):
            profile_id = uuid.uuid4()
            await self.w.add(
                "staff_profiles",
                (
                    tenant_id,
                    profile_id,
                    membership_id,
                    f"Ohjaaja {i + 1} {firm.slug}",
                    "Työnohjaaja (STOry)",
                    "+358405550101",
                    f"ohjaaja{i + 1}@{firm.domain}",
                    "Ratkaisukeskeinen työnohjaaja.",
                    "",
                    "",
                    rng.choice(LANGUAGES),
                    ",group,individual,",
                    rng.random() < 0.3,
                    True,
                    True,
                    now,
                ),
            )
            for region in rng.sample(REGIONS, 2):
                await self.w.add("service_areas", (tenant_id, uuid.uuid4(), profile_id, region))
        orgs = await self._orgs(tenant_id, firm, created)
        self.to_note = []
        sessions_per_agreement = _split(firm.sessions, [1.0] * firm.agreements, 1)
        held_by_org_month: dict[tuple[int, date], list[tuple[Any, ...]]] = {}
        for k, count in enumerate(sessions_per_agreement):
            org_index = k % len(orgs)
            await self._agreement(
                tenant_id,
                orgs[org_index],
                org_index,
                rng.choice(supervisors),
                count,
                held_by_org_month,
            )
        await self._invoices(tenant_id, firm, profile, orgs, owner, held_by_org_month)
        await self._inquiries(tenant_id, firm, supervisors)
        if firm.number <= NOTED_FIRMS:
            await self._notes(tenant_id)

    async def _member(self, tenant_id: uuid.UUID, email: str, name: str, role: str) -> uuid.UUID:
        user_id, membership_id = uuid.uuid4(), uuid.uuid4()
        created = self.now - timedelta(days=700)
        await self.w.add(
            "users", (user_id, email, name, self.password_hash, "fi", created, False, True, created)
        )
        await self.w.add("memberships", (tenant_id, membership_id, user_id, role, created))
        return membership_id

    async def _orgs(self, tenant_id: uuid.UUID, firm: Firm, created: datetime) -> list[_Org]:
        orgs: list[_Org] = []
        count = max(1, firm.people // PEOPLE_PER_ORG)
        people = _split(firm.people, [1.0] * count, min(PEOPLE_PER_ORG, firm.people // count))
        for j, size in enumerate(people):
            org = ClientOrg(
                name=f"Asiakas {j + 1} ({firm.slug})",
                business_id=_business_id(firm.number * 1000 + j),
                org_type="municipality" if j % 3 == 0 else "company",
                billing_street="Laskutuskuja 1",
                billing_postal_code="00100",
                billing_city="Helsinki",
                einvoice_address="",
                einvoice_operator="",
                invoice_email=f"laskut{j + 1}@{firm.slug}-asiakas.{DOMAIN}",
                invoice_language="fi",
            )
            org_id = uuid.uuid4()
            await self.w.add(
                "client_orgs",
                (
                    tenant_id,
                    org_id,
                    org.name,
                    org.business_id,
                    org.org_type,
                    org.billing_street,
                    org.billing_postal_code,
                    org.billing_city,
                    "",
                    "",
                    org.invoice_email,
                    "fi",
                    14,
                    "",
                    created,
                    created,
                ),
            )
            person_ids = []
            for p in range(size):
                role = "hr_contact" if p == 0 else "manager" if p == 1 else "supervisee"
                email = f"{'hr' if p == 0 else f'h{j}-{p}'}@{firm.slug}-asiakas.{DOMAIN}"
                membership_id = None
                if p == 0 and j == 0:  # the first organisation's HR contact signs in
                    membership_id = await self._member(
                        tenant_id, email, "Hanna Henkilöstö", "client_contact"
                    )
                person_id = uuid.uuid4()
                await self.w.add(
                    "client_people",
                    (
                        tenant_id,
                        person_id,
                        org_id,
                        role,
                        f"Henkilö {j + 1}-{p + 1}",
                        email,
                        "",
                        "",
                        membership_id,
                        created,
                    ),
                )
                person_ids.append(person_id)
            orgs.append(_Org(org_id, org.name, json.dumps(buyer_of(org)), person_ids))
        return orgs

    async def _agreement(
        self,
        tenant_id: uuid.UUID,
        org: _Org,
        org_index: int,
        supervisor_id: uuid.UUID,
        sessions: int,
        held: dict[tuple[int, date], list[tuple[Any, ...]]],
    ) -> None:
        rng, today = self.rng, self.today
        kind = rng.choice(KINDS)
        cadence = 2 if kind == "individual" else 4
        minutes = 60 if kind == "individual" else 90
        price = 9000 if kind == "individual" else 16000
        # Start on a weekday within the last two years, so that about half are still running.
        start = today - timedelta(days=rng.randrange(14, 730))
        start -= timedelta(days=max(0, start.weekday() - 4))
        end = start + timedelta(weeks=cadence * sessions)
        status = "active" if end >= today else "ended"
        review_due = None
        if status == "active":
            review_due = start + relativedelta(months=6)
            while review_due < today:
                review_due += relativedelta(months=6)
        agreement_id = uuid.uuid4()
        created = _helsinki(start, 9) - timedelta(days=14)
        changed = created if status == "active" else _helsinki(end, 9)
        await self.w.add(
            "agreements",
            (
                tenant_id,
                agreement_id,
                org.id,
                kind,
                "",
                org.people[1] if len(org.people) > 1 else None,
                org.people[0],
                start,
                end,
                minutes,
                cadence,
                price,
                2550,
                48,
                6,
                True,
                status,
                changed,
                created,
                changed,
                "per_session",
                review_due,
            ),
        )
        await self.w.add(
            "agreement_supervisors", (tenant_id, uuid.uuid4(), agreement_id, supervisor_id)
        )
        supervisees = org.people[2:] or org.people
        chosen = rng.sample(supervisees, 1 if kind == "individual" else min(4, len(supervisees)))
        for person_id in chosen:
            await self.w.add(
                "agreement_supervisees", (tenant_id, uuid.uuid4(), agreement_id, person_id)
            )
        hour = rng.randrange(8, 17)
        remote = rng.random() < 0.4
        for n in range(sessions):
            starts = _helsinki(start + timedelta(weeks=cadence * n), hour)
            past = starts < self.now
            status = "planned"
            if past:
                status = "cancelled_by_client" if n % 11 == 7 else "held"
            session_id = uuid.uuid4()
            await self.w.add(
                "supervision_sessions",
                (
                    tenant_id,
                    session_id,
                    agreement_id,
                    supervisor_id,
                    "session",
                    starts,
                    minutes,
                    status,
                    status == "held",
                    False,
                    starts - timedelta(days=3) if status == "cancelled_by_client" else None,
                    minutes if status == "held" else None,
                    remote,
                    "" if remote else "Työnohjaustila, Asemakatu 2",
                    "https://meet.example/bench" if remote else "",
                    f"{session_id}@luotsi",
                    0,
                    starts - timedelta(hours=48) if past else None,
                    created,
                    created,
                ),
            )
            if status == "held" and len(self.to_note) < NOTES_PER_FIRM:
                self.to_note.append((session_id, supervisor_id, starts))
            if status == "held":
                month = starts.astimezone(HELSINKI).date().replace(day=1)
                held.setdefault((org_index, month), []).append(
                    (agreement_id, session_id, starts.astimezone(HELSINKI).date(), minutes, price)
                )

    async def _invoices(
        self,
        tenant_id: uuid.UUID,
        firm: Firm,
        profile: BillingProfile,
        orgs: list[_Org],
        owner: uuid.UUID,
        held: dict[tuple[int, date], list[tuple[Any, ...]]],
    ) -> None:
        """An invoice a month for each organisation with held sessions, for the last whole
        months: a line per session, issued on the month's last day, paid unless recent."""
        seller = json.dumps(seller_of(profile))  # COPY takes JSON as its text
        number = 1000
        this_month = self.today.replace(day=1)
        for back in range(INVOICED_MONTHS, 0, -1):
            month = this_month - relativedelta(months=back)
            period_end = month + relativedelta(months=1) - timedelta(days=1)
            issued_at = _helsinki(period_end, 15)
            due_on = period_end + timedelta(days=14)
            for org_index, org in enumerate(orgs):
                sessions = held.get((org_index, month))
                if not sessions:
                    continue
                invoice_id = uuid.uuid4()
                net = sum(s[4] for s in sessions)
                vat = round(net * 0.255)
                reference = reference_for(number, ReferenceType.NATIONAL)
                paid = due_on < self.today - timedelta(days=14)
                await self.w.add(
                    "invoices",
                    (
                        tenant_id,
                        invoice_id,
                        org.id,
                        "invoice",
                        "issued",
                        month,
                        period_end,
                        "fi",
                        "",
                        "",
                        False,
                        number,
                        reference,
                        "national",
                        period_end,
                        due_on,
                        seller,
                        org.buyer,
                        net,
                        vat,
                        net + vat,
                        net + vat if paid else 0,
                        owner,
                        issued_at,
                        issued_at,
                        owner,
                        issued_at,
                    ),
                )
                for position, (agreement_id, session_id, day, minutes, price) in enumerate(
                    sessions
                ):
                    await self.w.add(
                        "invoice_lines",
                        (
                            tenant_id,
                            uuid.uuid4(),
                            invoice_id,
                            position,
                            agreement_id,
                            session_id,
                            False,
                            day,
                            "Työnohjaus",
                            1,
                            "kpl",
                            price,
                            price,
                            2550,
                            minutes,
                        ),
                    )
                if paid:
                    await self.w.add(
                        "payments",
                        (
                            tenant_id,
                            uuid.uuid4(),
                            invoice_id,
                            due_on - timedelta(days=2),
                            net + vat,
                            "manual",
                            reference,
                            org.name,
                            "",
                            "",
                            issued_at + timedelta(days=12),
                        ),
                    )
                number += 1
        await self.w.add(
            "billing_profiles",
            (
                tenant_id,
                uuid.uuid4(),
                profile.legal_name,
                profile.business_id,
                profile.street,
                profile.postal_code,
                profile.city,
                profile.email,
                profile.phone,
                profile.iban,
                profile.bic,
                number,
                14,
                profile.penalty_interest,
                500,
                "fi",
                "national",
                "",
                False,
                self.now,
            ),
        )

    async def _inquiries(
        self, tenant_id: uuid.UUID, firm: Firm, supervisors: list[uuid.UUID]
    ) -> None:
        """Inquiries from the public page over two years, most of them dealt with."""
        rng = self.rng
        for i in range(firm.inquiries):
            at = self.now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
            status = rng.choices(("new", "contacted", "converted", "closed"), (1, 2, 3, 4))[0]
            assigned = rng.choice(supervisors) if status != "new" else None
            await self.w.add(
                "inquiries",
                (
                    tenant_id,
                    uuid.uuid4(),
                    f"Kysyjä {i + 1} Oy",
                    f"Kysyjä {i + 1}",
                    f"kysyja{i + 1}@{firm.slug}-kysyjat.{DOMAIN}",
                    "",
                    rng.choice(KINDS),
                    "Tarvitsisimme työnohjausta tiimillemme.",
                    "fi",
                    at,
                    status,
                    assigned,
                    at,
                    at,
                ),
            )

    async def _notes(self, tenant_id: uuid.UUID) -> None:
        """A supervisor's note, encrypted for its own row, on a few of the firm's held sessions."""
        for session_id, author_id, starts in self.to_note:
            note_id = uuid.uuid4()
            body = self.cipher.encrypt(
                "Puhuttiin työpäivän rajaamisesta.", NOTE_BODY.binding(tenant_id, note_id)
            )
            await self.w.add(
                "session_notes",
                (
                    tenant_id,
                    note_id,
                    session_id,
                    author_id,
                    body,
                    self.cipher.current_version,
                    starts,
                    starts,
                ),
            )


@dataclass
class _Org:
    id: uuid.UUID
    name: str
    buyer: str  # JSON
    people: list[uuid.UUID]  # the HR contact, the manager, then the supervisees


async def seed(settings: Settings, scale: float, today: date | None = None) -> Report:
    """Migrate ``settings``' PostgreSQL database to head and fill it at ``scale``."""
    if not settings.is_postgres:
        raise ValueError("the benchmark data is for PostgreSQL (COPY)")
    started = time.perf_counter()
    await upgrade(settings)
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    sizes = Sizes.at(scale)
    firms = firms_of(sizes)
    report = Report(sizes, largest_firm=firms[0].slug, smallest_firm=firms[-1].slug)
    engine = make_engine(settings.owner_database_url)
    try:
        report.counts = await _fill(engine, settings, firms, today or clock.today())
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute("ANALYZE")  # type: ignore[union-attr]
    finally:
        await engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


async def _fill(
    engine: AsyncEngine, settings: Settings, firms: list[Firm], today: date
) -> dict[str, int]:
    cipher = ContentCipher(settings.content_keys)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        apg = raw.driver_connection
        async with apg.transaction():  # type: ignore[union-attr]
            writer = Writer(apg)
            seeder = Seeder(writer, today, hash_password(BENCH_PASSWORD), cipher)
            for firm in firms:
                await seeder.firm(firm)
            await writer.flush()
    return writer.counts


def _rows(counts: dict[str, int]) -> Iterator[str]:
    for table, count in counts.items():
        yield f"| {table} | {count:,} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="else LUOTSI_DATABASE_URL")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 2,000 firms")
    args = parser.parse_args()
    environ = None
    if args.database_url:
        import os

        environ = {**os.environ, "LUOTSI_DATABASE_URL": args.database_url}
    settings = load_settings(environ)
    settings.require_keys()
    report = asyncio.run(seed(settings, args.scale))
    print(f"seeded at scale {args.scale} in {report.seconds:.1f} s")
    print(f"largest firm {report.largest_firm}, smallest {report.smallest_firm}")
    print("| table | rows |\n| --- | --- |")
    print("\n".join(_rows(report.counts)))


if __name__ == "__main__":
    main()
