"""Invoice runs: drafting a month's invoices for every organisation with something to bill.

A run is started here and followed on its own page, which polls itself (htmx) while the run
is running. Each of those requests also drafts one chunk itself, so a run finishes with the
page open even without a worker (tests, single-process development); with a worker the
scheduled job does the same in the background, and the two never draft an organisation twice.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.billing import runs
from luotsi.billing.models import InvoiceRun, RunStatus
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import page_number
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

# Organisations drafted per request of the run's page: small, so the page answers quickly.
PAGE_CHUNK = 5


def previous_month(today: date) -> str:
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last.year}-{last.month:02d}"


class RunsController(Controller):
    path = "/billing/runs"
    guards = [requires(permissions.can_manage_billing)]

    @get("/", name="billing_runs")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        return await self._list(request, db, ws, previous_month(clock.today()))

    @post("/", name="start_invoice_run")
    async def start(self, request: Req, db: DB, ws: WS) -> Any:
        period = form_text(await request.form(), "period", 20)
        try:
            start, end = runs.parse_period(period)
            run = await runs.start_run(db, ws.membership, start, end)
            await runs.work_on_run(db, run.id, PAGE_CHUNK)
        except Invalid as exc:
            return await self._list(request, db, ws, period, exc.errors)
        return redirect(request, ws.url(f"billing/runs/{run.id}"))

    @get("/{run_id:uuid}", name="billing_run")
    async def show(self, request: Req, db: DB, ws: WS, run_id: FromPath[uuid.UUID]) -> Any:
        run = await runs.get_run(db, run_id)
        if run.status is RunStatus.RUNNING:
            run = await runs.work_on_run(db, run.id, PAGE_CHUNK)
        context = {"ws": ws, "run": run, **_progress(run)}
        return render(request, "billing/run.html", context, block="progress")

    async def _list(
        self,
        request: Req,
        db: DB,
        ws: WS,
        period: str,
        errors: dict[str, str] | None = None,
    ) -> Any:
        found = await runs.runs_page(
            db, ws.membership, page_number(request.query_params.get("page"))
        )
        context = {
            "ws": ws,
            "page": found,
            "runs": [(run, name, _progress(run)) for run, name in found.items],
            "query": request.query_params,
            "period": period,
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "billing/runs.html", context, status_code=status)


def _progress(run: InvoiceRun) -> dict[str, Any]:
    percent = 100 if not run.org_total else round(100 * run.org_done / run.org_total)
    return {"percent": percent, "running": run.status is RunStatus.RUNNING}
