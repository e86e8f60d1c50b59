"""Inquiries: the public form on the firm's pages, and the firm's inbox in the workspace."""

from __future__ import annotations

from typing import Any

from litestar import Controller

from luotsi.tenants.staff import StaffProfile
from luotsi.web.deps import Req
from luotsi.web.public import PublicFirm


def inquiry_form_context(
    request: Req,
    firm: PublicFirm,
    profile: StaffProfile | None = None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``public/_inquiry_form.html`` needs, for a page that includes the form.

    ``profile`` is the supervisor whose page the form is on (None on the firm page).
    """
    return {
        "inquiry": {
            "firm": firm,
            "profile": profile,
            "values": values or {},
            "errors": errors or {},
        }
    }


class InquiryFormController(Controller):
    """Public: receives the inquiry form of the firm page and the supervisor pages."""

    path = "/inquiry"


class InquiriesController(Controller):
    """Workspace: the inquiry inbox."""

    path = "/inquiries"
