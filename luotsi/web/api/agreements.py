"""``/api/v1/agreements``: the firm's agreements with their session counts (``agreements_read``)."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from luotsi.platform import permissions
from luotsi.platform.errors import NotFound
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.agreements.quota import quota_usage, session_counts, usage_from_counts
from luotsi.tenants.agreements.service import get_agreement, visible_to
from luotsi.web.api.access import CALLER, needs, oldest_first, problem_responses
from luotsi.web.api.schemas import AgreementOut, AgreementPage
from luotsi.web.deps import DB


class AgreementsController(Controller):
    path = "/agreements"
    tags = ["agreements"]
    guards = [needs("agreements_read")]

    @get("/", responses=problem_responses(422))
    async def list_agreements(
        self,
        db: DB,
        caller: CALLER,
        org_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> AgreementPage:
        """The firm's agreements (drafts to ended), oldest first; ``org_id``: one client's."""
        if not permissions.can_work_on_agreements(caller.actor):
            raise NotFound("agreements")
        statement = (
            select(Agreement)
            .where(*visible_to(caller.actor))
            .options(selectinload(Agreement.supervisors), selectinload(Agreement.supervisees))
        )
        if org_id is not None:
            statement = statement.where(Agreement.org_id == org_id)
        rows, after = await oldest_first(db, statement, Agreement, cursor, limit)
        counts = await session_counts(db, [a.id for a in rows])
        data = [AgreementOut.of(a, usage_from_counts(a, *counts.get(a.id, (0, 0)))) for a in rows]
        return AgreementPage(data, after)

    @get("/{agreement_id:uuid}", responses=problem_responses())
    async def get_agreement(
        self, db: DB, caller: CALLER, agreement_id: FromPath[uuid.UUID]
    ) -> AgreementOut:
        agreement = await get_agreement(db, caller.actor, agreement_id)
        return AgreementOut.of(agreement, await quota_usage(db, agreement))
