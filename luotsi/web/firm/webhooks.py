"""The owner's outgoing webhooks at ``/t/{slug}/settings/webhooks/``.

The list of endpoints with a form to add one; an endpoint's page to change its address,
events and whether it is on, send a test event, and read its delivery log; confirmations
to rotate its secret and to delete it. A signing secret is shown once, on the page that
answers its creation or rotation (never cached), and nowhere else.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import permissions, webhooks
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import page_number
from luotsi.platform.webhooks import WebhookEndpoint, WebhookEvent
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text, form_texts
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import Workspace, requires

ENDPOINT_ID = "{endpoint_id:uuid}"


def _allow_loopback(request: Req) -> bool:
    return bool(request.app.state["settings"].webhooks_allow_loopback)


def _form(url: str = "", events: Any = (), active: bool = True) -> dict[str, Any]:
    return {"url": url, "events": frozenset(events), "active": active}


def _list_context(
    ws: Workspace,
    endpoints: list[WebhookEndpoint],
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "ws": ws,
        "endpoints": endpoints,
        "events": list(WebhookEvent),
        "form": form or _form(),
        "errors": errors or {},
    }


class WebhooksController(Controller):
    path = "/settings/webhooks"
    guards = [requires(permissions.can_manage_webhooks)]

    @get("/", name="webhooks")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        endpoints = await webhooks.list_endpoints(db, ws.membership)
        return render(request, "firm/webhooks.html", _list_context(ws, endpoints))

    @post("/", name="add_webhook")
    async def add(self, request: Req, db: DB, ws: WS) -> Any:
        data = await request.form()
        url, events = form_text(data, "url"), form_texts(data, "events")
        try:
            endpoint = await webhooks.add_endpoint(
                db, ws.membership, url, events, allow_loopback=_allow_loopback(request)
            )
        except Invalid as exc:
            endpoints = await webhooks.list_endpoints(db, ws.membership)
            context = _list_context(ws, endpoints, _form(url, events), exc.errors)
            return render(request, "firm/webhooks.html", context, status_code=422)
        context = {"ws": ws, "endpoint": endpoint, "created": True}
        return render(request, "firm/webhook_secret.html", context, private=True)

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        endpoint: WebhookEndpoint,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Any:
        query = request.query_params
        log = await webhooks.deliveries(
            db, ws.membership, endpoint.id, page=page_number(query.get("page"))
        )
        context = {
            "ws": ws,
            "endpoint": endpoint,
            "events": list(WebhookEvent),
            "form": form or _form(endpoint.url, endpoint.events, endpoint.active),
            "errors": errors or {},
            "log": log,
            "query": query,
        }
        return render(request, "firm/webhook.html", context, status_code=status_code)

    @get(f"/{ENDPOINT_ID}", name="webhook")
    async def show(self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]) -> Any:
        endpoint = await webhooks.get_endpoint(db, ws.membership, endpoint_id)
        return await self._page(request, db, ws, endpoint)

    @post(f"/{ENDPOINT_ID}", name="change_webhook")
    async def change(self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]) -> Any:
        data = await request.form()
        url, events = form_text(data, "url"), form_texts(data, "events")
        active = form_text(data, "active") == "on"
        try:
            await webhooks.change_endpoint(
                db,
                ws.membership,
                endpoint_id,
                url,
                events,
                active=active,
                allow_loopback=_allow_loopback(request),
            )
        except Invalid as exc:
            endpoint = await webhooks.get_endpoint(db, ws.membership, endpoint_id)
            form = _form(url, events, active)
            return await self._page(request, db, ws, endpoint, form, exc.errors, 422)
        return redirect(request, ws.url(f"settings/webhooks/{endpoint_id}"), flash="webhook_saved")

    @post(f"/{ENDPOINT_ID}/test", name="test_webhook")
    async def test(self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]) -> Any:
        await webhooks.send_test_event(db, ws.membership, endpoint_id)
        return redirect(
            request, ws.url(f"settings/webhooks/{endpoint_id}"), flash="webhook_test_queued"
        )

    @get(f"/{ENDPOINT_ID}/rotate", name="confirm_webhook_rotation")
    async def confirm_rotation(
        self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]
    ) -> Any:
        endpoint = await webhooks.get_endpoint(db, ws.membership, endpoint_id)
        context = {"ws": ws, "endpoint": endpoint, "errors": {}}
        return render(request, "firm/webhook_rotate.html", context)

    @post(f"/{ENDPOINT_ID}/rotate", name="rotate_webhook_secret")
    async def rotate(self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]) -> Any:
        confirmed = form_text(await request.form(), "confirm") == "on"
        try:
            endpoint = await webhooks.rotate_secret(
                db, ws.membership, endpoint_id, confirmed=confirmed
            )
        except Invalid as exc:
            endpoint = await webhooks.get_endpoint(db, ws.membership, endpoint_id)
            context = {"ws": ws, "endpoint": endpoint, "errors": exc.errors}
            return render(request, "firm/webhook_rotate.html", context, status_code=422)
        context = {"ws": ws, "endpoint": endpoint, "created": False}
        return render(request, "firm/webhook_secret.html", context, private=True)

    @get(f"/{ENDPOINT_ID}/delete", name="confirm_webhook_deletion")
    async def confirm_deletion(
        self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]
    ) -> Any:
        endpoint = await webhooks.get_endpoint(db, ws.membership, endpoint_id)
        return render(request, "firm/webhook_delete.html", {"ws": ws, "endpoint": endpoint})

    @post(f"/{ENDPOINT_ID}/delete", name="delete_webhook")
    async def delete(self, request: Req, db: DB, ws: WS, endpoint_id: FromPath[uuid.UUID]) -> Any:
        await webhooks.delete_endpoint(db, ws.membership, endpoint_id)
        return redirect(request, ws.url("settings/webhooks/"), flash="webhook_deleted")
