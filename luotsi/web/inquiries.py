"""Inquiries: the public form on the firm's pages, and the firm's inbox in the workspace."""

from __future__ import annotations

from litestar import Controller


class InquiryFormController(Controller):
    """Public: receives the inquiry form of the firm page and the supervisor pages."""

    path = "/inquiry"


class InquiriesController(Controller):
    """Workspace: the inquiry inbox."""

    path = "/inquiries"
