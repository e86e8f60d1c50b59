"""Agreements, their acceptance by the parties, and continuation reviews."""

from __future__ import annotations

from litestar import Controller


class AgreementsController(Controller):
    """Workspace: list, draft, send for acceptance, status changes, reviews, the PDF."""

    path = "/agreements"


class AcceptanceController(Controller):
    """Public: a party's single-use link to accept an agreement or ask for a change."""

    path = "/accept/{tenant_slug:str}"
