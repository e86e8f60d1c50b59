"""The HR contact's portal: their own organisation only, never content."""

from __future__ import annotations

from litestar import Controller


class PortalController(Controller):
    path = "/portal"
