"""The firm's settings hub: people and roles, areas, specialties and the public page."""

from __future__ import annotations

from typing import Any

from litestar import get

from luotsi.platform import permissions
from luotsi.web.deps import WS, Req
from luotsi.web.templating import render
from luotsi.web.workspace import requires


@get("/settings/", name="settings", guards=[requires(permissions.can_view_members)])
async def settings_hub(request: Req, ws: WS) -> Any:
    return render(request, "workspace/settings.html", {"ws": ws})
