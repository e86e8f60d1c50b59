"""``/t/{slug}/settings/api-tokens/``: the owner's API tokens for the firm's integrations.

A new token is shown once, on the page that answers its creation (never stored, so never shown
again); revoking asks for confirmation first.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import apitokens, permissions
from luotsi.platform.apitokens import SCOPES, TokenInput, scope_label
from luotsi.platform.errors import Invalid
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text, form_texts
from luotsi.web.middleware import origin
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires


async def _page(
    request: Req,
    db: DB,
    ws: WS,
    values: TokenInput | None = None,
    errors: dict[str, str] | None = None,
    created: str = "",
) -> Any:
    context = {
        "ws": ws,
        "tokens": await apitokens.list_tokens(db, ws.membership),
        "values": values or TokenInput(),
        "errors": errors or {},
        "scopes": [(scope, scope_label(scope)) for scope in SCOPES],
        "scope_label": scope_label,
        "created": created,
        "api_base": request.app.state["settings"].base_url + "/api/v1",
    }
    return render(request, "firm/api_tokens.html", context, status_code=422 if errors else 200)


class ApiTokensController(Controller):
    path = "/settings/api-tokens"
    guards = [requires(permissions.can_manage_api_tokens)]

    @get("/", name="api_tokens")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        return await _page(request, db, ws)

    @post("/")
    async def create(self, request: Req, db: DB, ws: WS) -> Any:
        form = await request.form()
        values = TokenInput(name=form_text(form, "name"), scopes=form_texts(form, "scopes", 20))
        try:
            _token, text = await apitokens.create_token(db, ws.membership, values, origin(request))
        except Invalid as exc:
            return await _page(request, db, ws, values, exc.errors)
        return await _page(request, db, ws, created=text)

    @get("/{api_token_id:uuid}/revoke", name="confirm_revoke_api_token")
    async def confirm_revoke(
        self, request: Req, db: DB, ws: WS, api_token_id: FromPath[uuid.UUID]
    ) -> Any:
        token = await apitokens.get_token(db, ws.membership, api_token_id)
        return render(request, "firm/api_token_revoke.html", {"ws": ws, "token": token})

    @post("/{api_token_id:uuid}/revoke", name="revoke_api_token")
    async def revoke(self, request: Req, db: DB, ws: WS, api_token_id: FromPath[uuid.UUID]) -> Any:
        await apitokens.revoke_token(db, ws.membership, api_token_id, origin(request))
        return redirect(request, ws.url("settings/api-tokens/"), flash="api_token_revoked")
