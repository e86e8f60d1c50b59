"""Jinja set-up and the one way a handler renders a page or, for htmx, a fragment of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import pass_context
from jinja2.runtime import Context
from jinja2_fragments.litestar import HTMXBlockTemplate
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

from luotsi.platform import i18n, permissions
from luotsi.platform.i18n import N_
from luotsi.tenants.kinds import language_name
from luotsi.tenants.sessions.overview import agreement_names
from luotsi.web.assets import static_url
from luotsi.web.middleware import PRIVATE_CACHE

TEMPLATES = Path(__file__).resolve().parent / "templates"
FLASH_COOKIE = "luotsi_flash"


# Flash messages travel as a key in a short-lived cookie; the text is looked up and
# translated when shown, so nothing a user typed is echoed back from a cookie.
FLASH_MESSAGES = {
    # Confidential content (never what was written, only that it was)
    "assignment_set": N_("The assignment has been set."),
    "assignment_saved": N_("The assignment has been saved."),
    "assignment_deleted": N_("The assignment has been deleted."),
    "note_saved": N_("The note has been saved."),
    "note_deleted": N_("The note has been deleted."),
    "limits_saved": N_("The limits of confidentiality have been saved."),
    "goal_added": N_("The goal has been added."),
    "goal_revised": N_("The goal has been revised."),
    "goal_deleted": N_("The goal has been deleted."),
    "evaluation_recorded": N_("The evaluation has been recorded."),
    "evaluation_deleted": N_("The evaluation has been deleted."),
    "notes_handed_over": N_("Your notes have been handed over."),
    "content_erased": N_("The content of this agreement has been erased; nothing was saved."),
    "response_saved": N_("Your response has been saved."),
    "erasure_requested": N_("Your request has been sent to the firm."),
    "retention_saved": N_("The retention period has been saved."),
    "firm_details_saved": N_("The firm's details have been saved."),
    "closure_requested": N_(
        "The firm's account is being closed. You can still keep it during the grace period."
    ),
    "closure_cancelled": N_(
        "The firm's account is kept, and the workspace is open for work again."
    ),
    "setup_dismissed": N_("The setup checklist is put away. Every step stays in the settings."),
    "signup_link_sent": N_("A new link has been sent."),
    "signup_address_changed": N_("The address has been changed and a new link sent to it."),
    "notification_choices_saved": N_("Your notification settings have been saved."),
    "reminder_hours_saved": N_("The reminder time has been saved."),
    "webhook_saved": N_("The endpoint has been saved."),
    "webhook_test_queued": N_("A test event is on its way. Its delivery shows in the log."),
    "webhook_deleted": N_("The endpoint has been deleted."),
    "two_factor_needed": N_(
        "Your firm requires two-factor authentication of its staff. Turn it on to continue."
    ),
    "two_factor_disabled": N_("Two-factor authentication is off."),
    "two_factor_expired": N_("The sign-in took too long. Enter your password again."),
    "sign_in_security_saved": N_("The sign-in security setting has been saved."),
    "signed_out": N_("You have signed out."),
    "password_changed": N_("Your password has been changed."),
    "session_ended": N_("That device has been signed out."),
    "other_sessions_ended": N_("Your other devices have been signed out."),
    "signed_out_everywhere": N_("You have signed out on every device."),
    "email_change_sent": N_(
        "We sent a link to the new address. Your address changes when you follow it."
    ),
    "email_changed": N_("Your e-mail address has been changed."),
    "password_reset": N_("Your password has been changed. Sign in with the new password."),
    "invited": N_("The invitation has been sent."),
    "invitation_revoked": N_("The invitation has been withdrawn."),
    "role_changed": N_("The role has been changed."),
    "member_removed": N_("The member has been removed."),
    # the platform operator's console
    "firm_suspended": N_("The firm is suspended: its members can no longer open the workspace."),
    "firm_reactivated": N_("The firm is active again."),
    "plan_overridden": N_("The firm's plan has been changed."),
    "trial_extended": N_("The firm's trial has been extended."),
    "member_work_handed_over": N_("The sessions and agreements have been handed over."),
    "joined": N_("Welcome! You are now a member of the firm."),
    "verified": N_("Your e-mail address is confirmed and the workspace is open."),
    "area_saved": N_("The area has been saved."),
    "area_deleted": N_("The area has been deleted."),
    "firm_profile_saved": N_("The public page has been saved."),
    "inquiry_status_changed": N_("The status of the inquiry has been changed."),
    "inquiry_assigned": N_("The inquiry has been assigned."),
    "inquiry_unassigned": N_("The inquiry is no longer assigned to anyone."),
    "profile_saved": N_("The profile has been saved."),
    "photo_saved": N_("The photo has been saved."),
    "photo_removed": N_("The photo has been removed."),
    "specialty_saved": N_("The specialty has been saved."),
    "specialty_merged": N_("The specialties have been merged."),
    "specialty_deleted": N_("The specialty has been deleted."),
    "working_hours_saved": N_("The working hours have been saved."),
    "absence_saved": N_("The absence has been saved."),
    "absence_deleted": N_("The absence has been deleted."),
    # sessions and calendars
    "sessions_planned": N_("The sessions have been planned and the invitations sent."),
    "session_planned": N_("The meeting has been planned and the invitations sent."),
    "session_held": N_("The session is marked held."),
    "sessions_held": N_("The chosen sessions are marked held, each with its planned length."),
    "people_archived": N_("The chosen people are archived."),
    "people_none_archived": N_("Nobody was archived: the chosen people are archived already."),
    "reminders_sent": N_("The reminders are on their way to the supervisees."),
    "reminders_none_sent": N_(
        "No reminder was sent: the chosen sessions are over or cancelled, or their "
        "supervisees have no e-mail address."
    ),
    "sessions_none_held": N_(
        "None of the chosen sessions could be marked held: they are marked already or their "
        "day has not come."
    ),
    "session_cancelled": N_("The session is cancelled and the participants told."),
    "session_no_show": N_("The session is marked as a no-show."),
    "session_rescheduled": N_("The session has been changed and the participants told."),
    "manager_invited": N_("The manager is invited to the evaluation meeting."),
    "manager_uninvited": N_("The manager's invitation has been withdrawn."),
    "manager_requested": N_(
        "The request is recorded: the manager is invited when the supervisee confirms it."
    ),
    "manager_request_dropped": N_("The request to invite the manager has been taken back."),
    "manager_request_declined": N_("You declined the request: your manager is not invited."),
    "calendar_feed_revoked": N_("The calendar address has been switched off."),
    # client organisations, people and the HR contact's portal
    "client_saved": N_("The organisation has been saved."),
    "api_token_revoked": N_("The API token has been revoked. Calls with it are refused."),
    "client_archived": N_("The organisation has been archived."),
    "client_restored": N_("The organisation has been restored."),
    "client_deleted": N_("The organisation has been deleted."),
    "person_saved": N_("The person has been saved."),
    "person_archived": N_("The person has been archived."),
    "person_restored": N_("The person has been restored."),
    "person_deleted": N_("The person has been deleted."),
    "contact_invited": N_("The invitation to the portal has been sent."),
    "billing_saved": N_("The billing details have been saved."),
    "agreement_requested": N_("Your request has been sent to the firm. They will contact you."),
    # agreements, acceptance and reviews
    "agreement_created": N_("The draft agreement has been saved."),
    "agreement_saved": N_("The draft has been saved."),
    "agreement_sent": N_("The agreement has been sent to the parties for acceptance."),
    "agreement_withdrawn": N_("The agreement is a draft again; the links sent no longer work."),
    "agreement_accepted_on_paper": N_("The agreement is marked as accepted and is now active."),
    "agreement_paused": N_("The agreement has been paused."),
    "agreement_resumed": N_("The agreement is active again."),
    "review_recorded": N_("The review has been recorded."),
    # billing
    "billing_settings_saved": N_("The billing settings have been saved."),
    "logo_saved": N_("The logo has been saved."),
    "logo_removed": N_("The logo has been removed."),
    # invoices
    "invoice_line_added": N_("The line has been added."),
    "invoice_line_saved": N_("The line has been saved."),
    "invoice_line_removed": N_("The line has been removed."),
    "invoice_details_saved": N_("The reference and notes have been saved."),
    "invoice_issued": N_("The invoice has been issued."),
    "invoice_deleted": N_("The draft has been deleted."),
    "credit_note_drafted": N_("A draft credit note has been made. Check it and issue it."),
    "invoice_sent": N_("The invoice has been sent by e-mail."),
    "payment_recorded": N_("The payment has been recorded."),
    "payment_deleted": N_("The payment has been deleted."),
    "reminder_sent": N_("The payment reminder has been sent."),
    "card_payments_connected": N_("The Stripe account is connected."),
    "card_payments_declined": N_("The Stripe account was not connected."),
    "card_payments_failed": N_("Stripe did not connect the account. Try again in a moment."),
    "card_payments_taken": N_("That Stripe account is already connected to another firm."),
    "card_payments_disconnected": N_(
        "The Stripe account is disconnected: clients can no longer pay by card."
    ),
    # the firm's subscription to Luotsi
    "subscribed": N_("Thank you! The firm's subscription to Luotsi is running."),
    "card_changed": N_("The card has been changed."),
    "card_removed": N_("The card has been removed."),
    "interval_changed": N_("The billing interval has been changed."),
    "subscription_canceled": N_(
        "The subscription has been canceled. It runs until the end of the paid period."
    ),
    "subscription_resumed": N_("The subscription continues; nothing was canceled."),
}


# Progress on a goal, 1-5, in words: one scale for the supervisee and the supervisor.
RATING_LABELS = {
    1: N_("Not started"),
    2: N_("A little progress"),
    3: N_("Halfway there"),
    4: N_("Nearly reached"),
    5: N_("Reached"),
}


def rating_label(rating: int) -> str:
    return i18n.gettext(RATING_LABELS[rating]) if rating in RATING_LABELS else str(rating)


def _engine_callback(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    # Ours in place of Jinja's newstyle callables: numbers in messages are formatted for the
    # reader's locale, everything else escaped as Jinja would.
    env.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext)
    # An empty value renders as nothing, never as "None" (in a form field it would be saved).
    env.finalize = _finalize
    env.globals.update(
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        current_language=i18n.current_language,
        can=permissions,
        language_name=language_name,
        agreement_names=agreement_names,
        query_string=query_string,
        rating_label=rating_label,
        static_url=static_url,
        weekday_name=i18n.weekday_name,
    )
    env.filters.update(
        date=i18n.format_date,
        datetime=i18n.format_datetime,
        time=i18n.format_time,
        money=i18n.format_money,
        number=i18n.format_number,
    )


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _interpolate(context: Context, message: str, variables: dict[str, Any]) -> str:
    if not context.eval_ctx.autoescape:
        return i18n.interpolate(message, variables)
    # The catalog's text is trusted as Jinja trusts it; every value is escaped.
    return Markup(i18n.interpolate(message, variables, escape=escape))  # noqa: S704


@pass_context
def _gettext(context: Context, message: str, **variables: Any) -> str:
    return _interpolate(context, i18n.gettext(message), variables)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    return _interpolate(context, i18n.ngettext(singular, plural, num), variables)


def query_string(query: Any, **changes: Any) -> str:
    """The request's query string with ``changes`` applied (for pager and filter links)."""
    pairs = [(k, v) for k, v in (query.multi_items() if query else []) if k not in changes]
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlencode(pairs)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=TEMPLATES,
        engine=JinjaTemplateEngine,
        engine_callback=_engine_callback,
    )


def wants_fragment(request: Request[Any, Any, Any]) -> bool:
    """Whether an htmx request asks for a part of the page. The back button's history restore
    asks with htmx headers but wants the whole page."""
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    private: bool = False,
) -> Template:
    """The whole page, or for an htmx request only ``block`` of it (:func:`wants_fragment`;
    such a page varies by ``HX-Request``). A ``private`` page (one showing confidential
    content) is never kept in a browser's or proxy's cache."""
    context = dict(context or {})
    flash = request.cookies.get(FLASH_COOKIE)
    if flash in FLASH_MESSAGES:
        context.setdefault("flash", i18n.gettext(FLASH_MESSAGES[flash]))
    if block and wants_fragment(request):
        response: Template = HTMXBlockTemplate(
            template_name=template,
            block_name=block,
            context=context,
            status_code=status_code,
            media_type=MediaType.HTML,
        )
    else:
        response = Template(
            template_name=template,
            context=context,
            status_code=status_code,
            media_type=MediaType.HTML,
        )
    if block:
        response.headers["Vary"] = "HX-Request"
    if flash:
        response.delete_cookie(FLASH_COOKIE)
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


def redirect(request: Request[Any, Any, Any], path: str, flash: str | None = None) -> Response[Any]:
    """POST, then redirect (303) so a reload never repeats the action; htmx follows too."""
    response: Response[Any]
    if getattr(request, "htmx", False):
        response = Response(content=b"", headers={"HX-Redirect": path})
    else:
        response = Redirect(path=path, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, flash, max_age=60, httponly=True, samesite="lax")
    return response


def attachment(data: bytes, media_type: str, filename: str) -> Response[bytes]:
    """A file to save (an export, a PDF), never kept by a cache. ``text/csv`` gets
    ``; charset=utf-8`` from Litestar."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"',
            "Cache-Control": PRIVATE_CACHE,
        },
    )
