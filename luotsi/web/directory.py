"""The firm's public directory at ``/f/{slug}/`` and the workspace page that describes the firm."""

from __future__ import annotations

from litestar import Controller


class DirectoryController(Controller):
    """Public: the firm page with its filterable supervisor list, and each supervisor's page."""

    path = "/"


class FirmProfileController(Controller):
    """Workspace: the firm's public description and the directory switch."""

    path = "/directory"
