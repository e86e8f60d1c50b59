"""Invoice runs: drafting a period's invoices for every organisation with something to bill.

:func:`start_run` records the run and, up front, one :class:`InvoiceRunOrg` row per billable
organisation; :func:`work_on_run` then drafts a chunk of the organisations not yet done. The
progress lives in those rows, so a run is resumed by whoever comes next: the worker's job
(:func:`advance_invoice_runs`), the command line (``luotsi billing run``), or both at once:
on PostgreSQL each claims its rows with ``FOR UPDATE SKIP LOCKED``, so no organisation is
drafted twice. Each organisation is drafted in its own savepoint: one that fails leaves the
run FAILED with a short message (never a stack trace or data) and the drafts made so far.
"""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import date

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.drafts import billable_org_ids, draft_for_org
from luotsi.billing.models import BillingProfile, InvoiceRun, InvoiceRunOrg, RunStatus
from luotsi.billing.profile import ready_profile
from luotsi.platform import clock, permissions
from luotsi.platform.errors import DomainError, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.jobs import JobContext, claimed, scheduled, wake_job
from luotsi.platform.paging import Page, paginate
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.tenants.clients.models import ClientOrg

log = structlog.get_logger(__name__)

DEFAULT_CHUNK = 20
ADVANCE_JOB = "invoice_runs"
# Starting a run wakes the job at once, and while it drafts it comes back at once for the next
# chunk; besides, it looks for running runs this often (one a crashed worker or the command
# line left behind).
ADVANCE_EVERY_SECONDS = 300
ERROR_LENGTH = 500  # InvoiceRun.error
RUNS_PER_PAGE = 25  # the runs page


def parse_period(raw: str) -> tuple[date, date]:
    """A month as ``2026-11`` -> its first and last day; :class:`Invalid` (``period``) else."""
    match = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", raw.strip())
    if match:
        year, month = int(match[1]), int(match[2])
        if 1900 <= year <= 2999 and 1 <= month <= 12:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    raise Invalid.field("period", _("Give the period as a year and a month, e.g. 2026-11."))


async def get_run(db: AsyncSession, run_id: uuid.UUID) -> InvoiceRun:
    """A run of the firm."""
    run = await db.scalar(select(InvoiceRun).where(InvoiceRun.id == run_id))
    if run is None:
        raise NotFound("invoice run")
    return run


async def start_run(
    db: AsyncSession, actor: Membership | None, period_start: date, period_end: date
) -> InvoiceRun:
    """Start drafting the invoices of the period (days inclusive); the drafting is done by
    :func:`work_on_run`.

    ``actor`` is the office member starting it, or None for the command line. Refused
    (:class:`Invalid`) while the billing settings are incomplete (field ``settings``) or
    another run of an overlapping period is still running (field ``period``).
    """
    if actor is not None:
        require(permissions.can_manage_billing(actor), "billing")
    if period_end < period_start:
        raise Invalid.field("period", _("The period ends before it starts."))
    await ready_profile(db)
    # The profile row is the firm's lock for starting runs: two at once would both find no
    # overlapping run (PostgreSQL; SQLite has one writer).
    await db.execute(select(BillingProfile.id).with_for_update())
    overlapping = await db.scalar(
        select(InvoiceRun.id).where(
            InvoiceRun.status == RunStatus.RUNNING,
            InvoiceRun.period_start <= period_end,
            InvoiceRun.period_end >= period_start,
        )
    )
    if overlapping is not None:
        raise Invalid.field(
            "period", _("An invoice run of an overlapping period is still running.")
        )
    run = InvoiceRun(
        period_start=period_start,
        period_end=period_end,
        started_by=actor.id if actor else None,
    )
    db.add(run)
    await db.flush()
    org_ids = await billable_org_ids(db, period_start, period_end)
    db.add_all(InvoiceRunOrg(run_id=run.id, org_id=org_id) for org_id in org_ids)
    run.org_total = len(org_ids)
    if not org_ids:
        run.status, run.finished_at = RunStatus.DONE, clock.now()
    else:
        await wake_job(db, ADVANCE_JOB, run.tenant_id)
    await db.flush()
    return run


def _failure(org_name: str, exc: Exception) -> str:
    """What the run's page says went wrong: the organisation and the kind of error only (a
    database error's text could carry the statement and its data)."""
    reason = str(exc) if isinstance(exc, DomainError) else type(exc).__name__
    message = _("Drafting the invoice of %(org)s failed: %(reason)s") % {
        "org": org_name,
        "reason": reason,
    }
    return message[:ERROR_LENGTH]


async def work_on_run(
    db: AsyncSession, run_id: uuid.UUID, chunk: int = DEFAULT_CHUNK
) -> InvoiceRun:
    """Draft the invoices of up to ``chunk`` organisations of a running run not yet done.

    Marks the run DONE when no organisation is left, FAILED (with a short message) when
    drafting one raises. Returns the run as it stands; a run that is not running is returned
    as it is.
    """
    run = await get_run(db, run_id)
    if run.status is not RunStatus.RUNNING:
        return run
    query = (
        select(InvoiceRunOrg)
        .where(InvoiceRunOrg.run_id == run.id, InvoiceRunOrg.done_at.is_(None))
        .order_by(InvoiceRunOrg.id)
        .limit(chunk)
    )
    rows = list(await db.scalars(claimed(db, query, InvoiceRunOrg)))
    for row in rows:
        try:
            # On SQLite a savepoint opened before anything was written in the transaction
            # commits when released (the driver begins transactions lazily): each
            # organisation's draft and its progress are then committed together, which is
            # what a resumable run needs anyway.
            async with db.begin_nested():
                invoice = await draft_for_org(
                    db, None, row.org_id, run.period_start, run.period_end, run_id=run.id
                )
                row.done_at = clock.now()
                # Increments in SQL: other workers may be counting their own organisations.
                await db.execute(
                    update(InvoiceRun)
                    .where(InvoiceRun.id == run.id)
                    .values(
                        org_done=InvoiceRun.org_done + 1,
                        drafts=InvoiceRun.drafts + (1 if invoice else 0),
                    )
                )
        except Exception as exc:  # any failure stops the run, told briefly
            org_name = await db.scalar(select(ClientOrg.name).where(ClientOrg.id == row.org_id))
            log.warning(
                "invoice_run.failed",
                run=str(run.id),
                org=str(row.org_id),
                error=type(exc).__name__,
            )
            run.status, run.finished_at = RunStatus.FAILED, clock.now()
            run.error = _failure(org_name or "", exc)
            await db.flush()
            return run
    await db.refresh(run)
    remaining = await db.scalar(
        select(func.count())
        .select_from(InvoiceRunOrg)
        .where(InvoiceRunOrg.run_id == run.id, InvoiceRunOrg.done_at.is_(None))
    )
    if not remaining and run.status is RunStatus.RUNNING:
        run.status, run.finished_at = RunStatus.DONE, clock.now()
        await db.flush()
    return run


@scheduled(ADVANCE_JOB, ADVANCE_EVERY_SECONDS)
async def advance_invoice_runs(job: JobContext) -> int:
    """Draft the next chunk of each of the firm's running invoice runs.

    Returns how many organisations were handled, so the worker comes back at once while
    there is work.
    """
    db = job.db
    handled = 0
    running = await db.execute(
        select(InvoiceRun.id, InvoiceRun.org_done)
        .where(InvoiceRun.status == RunStatus.RUNNING)
        .order_by(InvoiceRun.started_at)
    )
    for run_id, done_before in list(running.tuples()):
        run = await work_on_run(db, run_id)
        handled += run.org_done - done_before
    return handled


async def runs_page(
    db: AsyncSession, actor: Membership, page: int, per_page: int = RUNS_PER_PAGE
) -> Page[tuple[InvoiceRun, str]]:
    """One page of the firm's runs, the latest first, with the name of who started each (""
    for the command line)."""
    require(permissions.can_manage_billing(actor), "billing")
    found = await paginate(
        db, InvoiceRun, [], [InvoiceRun.started_at.desc(), InvoiceRun.id], page, per_page
    )
    starters = {run.started_by for run in found.items if run.started_by is not None}
    names: dict[uuid.UUID, str] = {}
    if starters:
        rows = await db.execute(
            select(Membership.id, User.name)
            .join(User, User.id == Membership.user_id)
            .where(Membership.id.in_(starters))
        )
        names = dict(rows.tuples().all())
    items = [(run, names.get(run.started_by, "") if run.started_by else "") for run in found.items]
    return Page(items, found.number, found.per_page, found.total)
