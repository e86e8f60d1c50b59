"""Client organisations and their people (workspace)."""

from __future__ import annotations

from litestar import Controller


class ClientsController(Controller):
    path = "/clients"
