"""Public pages: the front page, and the dev mailbox when debugging."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from luotsi.platform.mail import read_mail_file, read_mailbox
from luotsi.platform.tenancy import memberships_of_user
from luotsi.web.deps import DB, Req
from luotsi.web.middleware import visitor
from luotsi.web.templating import render


@get("/", name="home")
async def home(request: Req, db: DB) -> Any:
    user = visitor(request).user
    firms = await memberships_of_user(db, user.id) if user else []
    return render(request, "pages/home.html", {"firms": firms})


@get("/favicon.ico", name="favicon", include_in_schema=False)
async def favicon() -> Redirect:
    """Browsers ask for /favicon.ico whatever the page links: send them to our icon."""
    return Redirect(path="/static/favicon.svg", status_code=301)


@get("/_dev/mailbox", name="dev_mailbox")
async def dev_mailbox(request: Req) -> Any:
    settings = request.app.state["settings"]
    return render(request, "pages/mailbox.html", {"messages": read_mailbox(settings.outbox_dir)})


@get("/_dev/mailbox/{message_id:str}", name="dev_mail")
async def dev_mail(request: Request[Any, Any, Any], message_id: FromPath[str]) -> Any:
    settings = request.app.state["settings"]
    path = settings.outbox_dir / f"{message_id}.eml"
    if "/" in message_id or ".." in message_id or not path.exists():
        raise NotFoundException()
    return render(request, "pages/mail.html", {"message": read_mail_file(path)})
