"""Per request: who is signed in, and in which language to answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.types import ASGIApp, Receive, Scope, Send

from luotsi.platform import i18n
from luotsi.platform.db import set_session_user
from luotsi.platform.identity import User, user_for_session

SESSION_COOKIE = "luotsi_session"
LANG_COOKIE = "luotsi_lang"


@dataclass
class Visitor:
    user: User | None
    language: str
    session_token: str | None


def db_session(request: Request[Any, Any, Any]) -> Any:
    """The request's database session (the same one handlers get as ``db``)."""
    config = request.app.state["luotsi_db_config"]
    return config.provide_session(request.app.state, request.scope)


def visitor_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope)
        user = None
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            db = db_session(request)
            user = await user_for_session(db, token)
            if user is not None:
                await set_session_user(db, user.id)
        language = request.cookies.get(LANG_COOKIE) or (user.locale if user else None)
        if language not in i18n.LANGUAGES:
            language = i18n.pick_language(request.headers.get("accept-language"))
        i18n.set_language(language)
        request.state.visitor = Visitor(user=user, language=language, session_token=token)
        await app(scope, receive, send)

    return middleware


def visitor(request: Request[Any, Any, Any]) -> Visitor:
    found = request.state.get("visitor")
    if found is None:
        return Visitor(user=None, language=i18n.current_language(), session_token=None)
    return found
