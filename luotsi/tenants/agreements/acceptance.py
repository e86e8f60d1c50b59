"""Acceptance of an agreement by its parties, and the agreement as shown to them.

Draft -> pending: each party (supervisees, manager, HR contact) gets a single-use link by
e-mail; when all have accepted (or the firm records a signature on paper) the agreement becomes
active and its PDF is kept. A party asking for a change sends it back to draft.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import clock, i18n, permissions, storage
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, new_token, token_hash
from luotsi.platform.notifications import NotificationKind, notify, words_of
from luotsi.platform.permissions import require
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.platform.webhooks import WebhookEvent, emit
from luotsi.tenants.agreements.drafts import AgreementInput, check_agreement, decimal_text
from luotsi.tenants.agreements.models import (
    AGREEMENT_WHOLE,
    Acceptance,
    AcceptanceResponse,
    Agreement,
    AgreementDocument,
    AgreementEvent,
    AgreementStatus,
    EventKind,
    Party,
    Pricing,
)
from luotsi.tenants.agreements.pdf import AgreementSheet, render_agreement_pdf
from luotsi.tenants.agreements.service import (
    ACCEPTANCE_LIFETIME,
    MAX_COMMENT,
    MAX_NOTE,
    PARTY_ORDER,
    firm_email,
    get_agreement,
    mail_language,
    queue_firm_email,
    record_event,
    set_status,
    staff_names,
    supervisors_and_office,
)
from luotsi.tenants.clients.models import ClientPerson


def _parties(agreement: Agreement) -> list[tuple[Party, ClientPerson]]:
    parties = [(Party.SUPERVISEE, p) for p in agreement.supervisee_people]
    if agreement.manager is not None:
        parties.append((Party.MANAGER, agreement.manager))
    if agreement.hr_contact is not None:
        parties.append((Party.HR_CONTACT, agreement.hr_contact))
    return parties


async def current_acceptances(db: AsyncSession, agreement: Agreement) -> list[Acceptance]:
    """The acceptances of the latest sending (one round shares its ``sent_at``)."""
    latest = await db.scalar(
        select(func.max(Acceptance.sent_at)).where(Acceptance.agreement_id == agreement.id)
    )
    if latest is None:
        return []
    rows = await db.scalars(
        select(Acceptance)
        .where(Acceptance.agreement_id == agreement.id, Acceptance.sent_at == latest)
        .options(joinedload(Acceptance.person))
    )
    return sorted(rows, key=lambda a: (PARTY_ORDER[a.party], a.person.name))


async def _void_open_links(db: AsyncSession, agreement: Agreement, now: datetime) -> None:
    for acceptance in await db.scalars(
        select(Acceptance).where(Acceptance.agreement_id == agreement.id, Acceptance.response == "")
    ):
        acceptance.response = AcceptanceResponse.VOIDED
        acceptance.responded_at = now


async def send_for_acceptance(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, *, base_url: str
) -> list[Acceptance]:
    """Draft -> pending: e-mail each party (supervisees, manager, HR contact) a single-use link.

    The links are valid for 30 days; only their hashes are stored. Every party must have an
    e-mail address.
    """
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.DRAFT:
        raise Invalid.field("send", _("Only a draft can be sent for acceptance."))
    try:
        await check_agreement(db, AgreementInput.of(agreement))
    except Invalid:
        raise Invalid.field(
            "send",
            _("Some terms are no longer valid (a person may have been archived): edit the draft."),
        ) from None
    parties = _parties(agreement)
    missing = [person.name for _party, person in parties if not person.email]
    if missing:
        raise Invalid.field(
            "send",
            _("Add an e-mail address for %(names)s under Clients first.")
            % {"names": ", ".join(missing)},
        )
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    now = clock.now()
    sent = []
    language = mail_language(agreement.org)
    for party, person in parties:
        token, hashed = new_token()
        acceptance = Acceptance(
            agreement_id=agreement.id,
            party=party,
            person_id=person.id,
            token_hash=hashed,
            sent_at=now,
            expires_at=now + ACCEPTANCE_LIFETIME,
        )
        db.add(acceptance)
        sent.append(acceptance)
        queue_firm_email(
            db,
            tenant,
            "agreement_acceptance",
            person.email,
            language,
            agreement=agreement,
            person=person,
            party=party,
            link=f"{base_url}/accept/{tenant.slug}/{token}",
            expires=clock.today(acceptance.expires_at),
        )
    set_status(agreement, AgreementStatus.PENDING, actor.user_id)
    record_event(
        db, agreement, EventKind.SENT, actor=actor, note=", ".join(p.name for _x, p in parties)
    )
    await db.flush()
    return sent


async def withdraw_from_acceptance(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> Agreement:
    """Pending -> draft: the open links stop working, so the draft can be corrected."""
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.PENDING:
        raise Invalid.field(
            "status", _("Only an agreement waiting for acceptance can be withdrawn.")
        )
    await _void_open_links(db, agreement, clock.now())
    set_status(agreement, AgreementStatus.DRAFT, actor.user_id)
    record_event(db, agreement, EventKind.WITHDRAWN, actor=actor)
    await db.flush()
    return agreement


async def acceptance_by_token(db: AsyncSession, token: str) -> Acceptance:
    """The acceptance behind a link, in the firm the session is scoped to; else NotFound."""
    if not token or len(token) > 100:
        raise NotFound("acceptance")
    acceptance = await db.scalar(
        select(Acceptance)
        .where(Acceptance.token_hash == token_hash(token))
        .options(joinedload(Acceptance.person))
    )
    if acceptance is None:
        raise NotFound("acceptance")
    return acceptance


async def agreement_of(db: AsyncSession, acceptance: Acceptance) -> Agreement:
    """The agreement an acceptance link is for (the link itself is the permission)."""
    return await db.get_one(
        Agreement, (acceptance.tenant_id, acceptance.agreement_id), options=AGREEMENT_WHOLE
    )


async def respond_to_acceptance(
    db: AsyncSession,
    files: FileStore,
    acceptance: Acceptance,
    *,
    accept: bool,
    comment: str = "",
    base_url: str,
) -> Agreement:
    """Record a party's answer through their link.

    Accepting: when every party of the round has accepted, the agreement becomes active and
    its PDF is kept. Asking for a change (a comment is required): the agreement goes back to
    draft and the other open links of the round stop working.
    """
    now = clock.now()
    comment = comment.strip()
    if not accept and not comment:
        raise Invalid.field("comment", _("Tell the firm what should be changed."))
    if len(comment) > MAX_COMMENT:
        raise Invalid.field("comment", i18n.too_long(MAX_COMMENT))
    # Parties may answer at the same moment: one at a time per agreement.
    agreement = (
        (
            await db.execute(
                select(Agreement)
                .where(Agreement.id == acceptance.agreement_id)
                .with_for_update(of=Agreement)
                .execution_options(populate_existing=True)
                .options(*AGREEMENT_WHOLE)
            )
        )
        .unique()
        .scalar_one_or_none()
    )
    await db.refresh(acceptance, ["response", "responded_at", "comment", "expires_at"])
    if agreement is None or acceptance.link_state(now) != "open":
        raise Invalid.field("link", acceptance.link_state(now))
    if agreement.status != AgreementStatus.PENDING:
        raise Invalid.field("link", AcceptanceResponse.VOIDED)
    acceptance.responded_at = now
    name = f"{acceptance.person.name} ({acceptance.party.label})"
    if not accept:
        acceptance.response = AcceptanceResponse.CHANGE_REQUESTED
        acceptance.comment = comment
        await _void_open_links(db, agreement, now)
        set_status(agreement, AgreementStatus.DRAFT, None)
        record_event(db, agreement, EventKind.CHANGE_REQUESTED, name=name)
        await db.flush()
        await _notify_office_of_change_request(db, agreement, acceptance, base_url)
        return agreement
    acceptance.response = AcceptanceResponse.ACCEPTED
    record_event(db, agreement, EventKind.ACCEPTED, name=name)
    await db.flush()
    round_ = await current_acceptances(db, agreement)
    if all(a.response == AcceptanceResponse.ACCEPTED for a in round_):
        await _activate(db, files, agreement, None, base_url=base_url)
    return agreement


async def _notify_office_of_change_request(
    db: AsyncSession, agreement: Agreement, acceptance: Acceptance, base_url: str
) -> None:
    # The comment itself is read in Luotsi: nothing a party types is e-mailed onwards.
    tenant = await db.get_one(Tenant, agreement.tenant_id)

    def change_requested(_member: Membership, user: User) -> dict[str, Any]:
        return firm_email(
            tenant,
            "agreement_change_requested",
            user.email,
            user.locale,
            agreement=agreement,
            person=acceptance.person,
            party=acceptance.party,
            link=f"{base_url}/t/{tenant.slug}/agreements/{agreement.id}",
        )

    await notify(
        db,
        tenant,
        await supervisors_and_office(db, agreement),
        NotificationKind.CHANGE_REQUESTED,
        f"agreements/{agreement.id}",
        words_of(person=acceptance.person.name, organisation=agreement.org.name),
        base_url=base_url,
        email=change_requested,
    )


async def mark_accepted_on_paper(
    db: AsyncSession,
    files: FileStore,
    actor: Membership,
    agreement_id: uuid.UUID,
    *,
    confirmed: bool,
    note: str = "",
    base_url: str,
) -> Agreement:
    """Activate a draft or pending agreement whose parties signed it outside Luotsi.

    Owners and admins only, with an explicit confirmation; open links stop working.
    """
    agreement = await get_agreement(db, actor, agreement_id)
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status not in (AgreementStatus.DRAFT, AgreementStatus.PENDING):
        raise Invalid.field("status", _("Only a draft or a pending agreement can be accepted."))
    errors = {}
    if not confirmed:
        errors["confirm"] = _("Confirm that the parties have signed the agreement.")
    if len(note.strip()) > MAX_NOTE:
        errors["note"] = i18n.too_long(MAX_NOTE)
    if errors:
        raise Invalid(errors)
    await _void_open_links(db, agreement, clock.now())
    record_event(db, agreement, EventKind.ACCEPTED_ON_PAPER, actor=actor, note=note.strip())
    await db.flush()
    await _activate(db, files, agreement, actor, base_url=base_url)
    return agreement


async def _activate(
    db: AsyncSession,
    files: FileStore,
    agreement: Agreement,
    actor: Membership | None,
    *,
    base_url: str,
) -> AgreementDocument:
    """Make the agreement active, keep its PDF and tell its supervisors."""
    set_status(agreement, AgreementStatus.ACTIVE, actor.user_id if actor else None)
    record_event(db, agreement, EventKind.ACTIVATED, actor=actor)
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    await db.flush()
    filename, pdf = await _render_pdf(db, agreement, tenant, kept=True)
    key = await files.put(db, agreement.tenant_id, storage.AGREEMENTS, pdf, ".pdf")
    document = AgreementDocument(agreement_id=agreement.id, filename=filename, pdf_key=key)
    db.add(document)
    supervisors = {link.membership_id for link in agreement.supervisors}

    def activated(member: Membership, user: User) -> dict[str, Any] | None:
        if member.id not in supervisors:
            return None  # the office gets the plain notice: "you are its supervisor" is not so
        return firm_email(
            tenant,
            "agreement_activated",
            user.email,
            user.locale,
            agreement=agreement,
            start=agreement.start_date,
            end=agreement.end_date,
            link=f"{base_url}/t/{tenant.slug}/agreements/{agreement.id}",
        )

    await emit(
        db,
        WebhookEvent.AGREEMENT_ACCEPTED,
        {
            "agreement_id": agreement.id,
            "org_id": agreement.org_id,
            "kind": agreement.kind.value,
            "status": agreement.status.value,
            "start_date": agreement.start_date,
            "end_date": agreement.end_date,
            "session_quota": agreement.session_quota,
        },
    )
    await notify(
        db,
        tenant,
        await supervisors_and_office(db, agreement),
        NotificationKind.AGREEMENT_ACCEPTED,
        f"agreements/{agreement.id}",
        words_of(organisation=agreement.org.name),
        base_url=base_url,
        email=activated,
    )
    await db.flush()
    return document


# --- terms as shown to people, and the PDF --------------------------------------------------


def agreement_terms(agreement: Agreement, supervisor_names: list[str]) -> list[tuple[str, str]]:
    """The agreement's terms as (label, value) rows in the current language.

    The one wording of the terms: the acceptance page, the agreement page and the PDF show
    these rows. Terms and parties only, never content.
    """
    rows = [
        (_("Client organisation"), agreement.org.name),
        (_("Form of supervision"), agreement.kind.label),
    ]
    if agreement.title:
        rows.append((_("Group or team"), agreement.title))
    rows += [
        (_("Supervisors"), ", ".join(supervisor_names) or "–"),
        (_("Supervisees"), ", ".join(p.name for p in agreement.supervisee_people) or "–"),
        (_("Manager"), agreement.manager.name if agreement.manager else "–"),
        (_("HR contact"), agreement.hr_contact.name if agreement.hr_contact else "–"),
        (
            _("Term"),
            f"{i18n.format_date(agreement.start_date)} – {i18n.format_date(agreement.end_date)}",
        ),
        (
            _("Session length"),
            i18n.ngettext("%(num)d minute", "%(num)d minutes", agreement.session_minutes)
            % {"num": agreement.session_minutes},
        ),
        (
            _("Cadence"),
            i18n.ngettext("Every week", "Every %(num)d weeks", agreement.cadence_weeks)
            % {"num": agreement.cadence_weeks},
        ),
        (
            _("Sessions"),
            i18n.ngettext("%(num)d session", "%(num)d sessions", agreement.session_quota)
            % {"num": agreement.session_quota}
            if agreement.session_quota is not None
            else _("Open-ended, until the end date"),
        ),
        (price_label(agreement.pricing), price_text(agreement)),
        (_("Cancellations"), cancellation_text(agreement.cancellation_hours)),
        (
            _("Review of continuation"),
            i18n.ngettext("Every month", "Every %(num)d months", agreement.review_interval_months)
            % {"num": agreement.review_interval_months},
        ),
    ]
    return rows


async def terms_of(db: AsyncSession, agreement: Agreement) -> list[tuple[str, str]]:
    """:func:`agreement_terms` with the supervisors' names looked up."""
    names = await staff_names(db, [s.membership_id for s in agreement.supervisors])
    return agreement_terms(agreement, sorted(names.values()))


def vat_text(basis_points: int) -> str:
    return f"{decimal_text(basis_points, cents=False)} %"


def price_label(pricing: Pricing) -> str:
    """What the price is for: "Price per session" or "Price of the process"."""
    if pricing == Pricing.PER_PROCESS:
        return _("Price of the process")
    return _("Price per session")


def price_text(agreement: Agreement) -> str:
    """ "120,00 € + VAT 25,5 % = 150,60 €"."""
    return _("%(price)s + VAT %(vat)s = %(total)s") % {
        "price": i18n.format_money(agreement.price_cents),
        "vat": vat_text(agreement.vat_basis_points),
        "total": i18n.format_money(agreement.price_with_vat_cents),
    }


def cancellation_text(hours: int) -> str:
    if hours == 0:
        return _("A cancelled session is billable only as a no-show.")
    return i18n.ngettext(
        "A session cancelled later than %(num)d hour before it is billable.",
        "A session cancelled later than %(num)d hours before it is billable.",
        hours,
    ) % {"num": hours}


async def _render_pdf(
    db: AsyncSession, agreement: Agreement, tenant: Tenant, *, kept: bool
) -> tuple[str, bytes]:
    """The agreement as a PDF in the organisation's language: terms, parties, acceptances."""
    names = await staff_names(db, [s.membership_id for s in agreement.supervisors])
    supervisors = sorted(names.values())
    acceptances = (
        [a for a in await current_acceptances(db, agreement) if a.responded_at]
        if agreement.status != AgreementStatus.DRAFT
        else []
    )
    paper = await db.scalar(
        select(AgreementEvent)
        .where(
            AgreementEvent.agreement_id == agreement.id,
            AgreementEvent.kind == EventKind.ACCEPTED_ON_PAPER.value,
        )
        .order_by(AgreementEvent.at.desc())
        .limit(1)
    )
    with i18n.language(mail_language(agreement.org)):
        accepted_rows = [
            (a.party.label, a.person.name, i18n.format_datetime(a.responded_at))
            for a in acceptances
            if a.response == AcceptanceResponse.ACCEPTED
        ]
        if paper is not None:
            status_line = _("Signed on paper; recorded in Luotsi by %(name)s on %(when)s.") % {
                "name": paper.actor_name,
                "when": i18n.format_datetime(paper.at),
            }
        elif kept:
            status_line = _("Accepted by every party through Luotsi.")
        else:
            status_line = _("%(status)s. This copy shows the terms as they are now.") % {
                "status": agreement.status.label
            }
        sheet = AgreementSheet(
            title=_("Supervision agreement"),
            firm=f"{tenant.name} ({tenant.business_id})",
            client=(
                f"{agreement.org.name} ({agreement.org.business_id})"
                if agreement.org.business_id
                else agreement.org.name
            ),
            terms=agreement_terms(agreement, supervisors),
            acceptance_heading=_("Acceptance"),
            acceptances=accepted_rows,
            status_line=status_line,
            footer=_("Made with Luotsi on %(when)s. Reference %(ref)s.")
            % {"when": i18n.format_datetime(clock.now()), "ref": str(agreement.id)[:8]},
            labels=(_("Supervision firm"), _("Client"), _("Party"), _("Name"), _("Accepted")),
        )
        filename = f"{_('agreement')}-{str(agreement.id)[:8]}.pdf"
    return filename, render_agreement_pdf(sheet)


async def latest_document(db: AsyncSession, agreement: Agreement) -> AgreementDocument | None:
    """The kept PDF of the agreement as accepted, if any (without its bytes)."""
    return await db.scalar(
        select(AgreementDocument)
        .where(AgreementDocument.agreement_id == agreement.id)
        .order_by(AgreementDocument.created_at.desc())
        .limit(1)
    )


async def agreement_pdf(
    db: AsyncSession, files: FileStore, actor: Membership, agreement_id: uuid.UUID
) -> tuple[str, bytes]:
    """(filename, PDF) for download: the copy kept at acceptance or, for an agreement that has
    none (a draft, or one entered as already running), the terms as they are now."""
    agreement = await get_agreement(db, actor, agreement_id)
    document = await latest_document(db, agreement)
    if document is not None:
        return document.filename, await files.get(document.tenant_id, document.pdf_key)
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    return await _render_pdf(db, agreement, tenant, kept=False)
