"""iCalendar (ICS) for sessions: e-mailed invitations and the supervisors' private feeds.

An invitation is an iTIP message: ``METHOD:REQUEST`` for a new or changed session and
``METHOD:CANCEL`` for a cancelled one, always one session per message (iTIP wants a single UID
per object). A session keeps its ``uid`` for life and raises its ``sequence`` on every change,
so calendar programs update or remove the event they already have. Times are written in UTC.

Nothing here is content: the title is neutral (the kind of meeting and the firm's name), the
place is the address or "remote" with the meeting link. A feed has no attendees at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vDuration, vText

from luotsi.platform import clock
from luotsi.platform.i18n import gettext as _
from luotsi.tenants.sessions.models import CANCELLED, MeetingKind, SupervisionSession

PRODID = "-//Luotsi//Luotsi sessions//FI"
REQUEST, CANCEL = "REQUEST", "CANCEL"
FEED_REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str
    chair: bool = False  # the supervisor who leads the meeting


def neutral_title(session: SupervisionSession, firm_name: str) -> str:
    """ "Work supervision · Firm Oy": what a calendar shows, and all it shows, of a meeting."""
    kind = _("Work supervision") if session.kind == MeetingKind.SESSION else session.kind.label
    return f"{kind} · {firm_name}"


def _address(email: str, name: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    return address


def session_event(
    session: SupervisionSession,
    firm_name: str,
    *,
    cancelled: bool = False,
    organizer: Attendee | None = None,
    attendees: Iterable[Attendee] = (),
    stamp: datetime | None = None,
) -> Event:
    """One VEVENT for ``session`` in the current language (title and the word "remote")."""
    event = Event()
    event.add("uid", session.uid)
    event.add("sequence", session.sequence)
    event.add("dtstamp", (stamp or clock.now()).astimezone(UTC))
    starts = session.starts_at.astimezone(UTC)
    event.add("dtstart", starts)
    event.add("dtend", starts + timedelta(minutes=session.duration_minutes))
    event.add("summary", neutral_title(session, firm_name))
    if session.remote:
        event.add("location", _("Remote"))
        if session.meeting_url:
            event.add("url", session.meeting_url)
            event.add("description", f"{_('Meeting link')}: {session.meeting_url}")
    elif session.address:
        event.add("location", session.address)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if organizer is not None:
        event.add("organizer", _address(organizer.email, organizer.name))
    for person in attendees:
        address = _address(person.email, person.name)
        address.params["ROLE"] = vText("CHAIR" if person.chair else "REQ-PARTICIPANT")
        address.params["PARTSTAT"] = vText("ACCEPTED" if person.chair else "NEEDS-ACTION")
        address.params["RSVP"] = vText("FALSE")
        event.add("attendee", address, encode=False)
    return event


def _calendar(method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    return calendar


def invitation(
    session: SupervisionSession,
    firm_name: str,
    method: str,
    organizer: Attendee,
    attendees: Iterable[Attendee],
    stamp: datetime | None = None,
) -> str:
    """An iTIP message for one session: ``REQUEST`` (new or changed) or ``CANCEL``."""
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"unknown iTIP method {method!r}")
    calendar = _calendar(method)
    calendar.add_component(
        session_event(
            session,
            firm_name,
            cancelled=method == CANCEL,
            organizer=organizer,
            attendees=attendees,
            stamp=stamp,
        )
    )
    return calendar.to_ical().decode()


def feed(
    sessions: Iterable[SupervisionSession],
    firm_name: str,
    calendar_name: str,
    stamp: datetime | None = None,
) -> str:
    """A subscribable calendar of sessions: times, places and neutral titles, no people.

    A cancelled session stays in it as ``STATUS:CANCELLED`` (its ``sequence`` already raised
    by the cancellation, as in the e-mailed ``CANCEL``), so a subscribed calendar removes it.
    """
    calendar = _calendar()
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("x-wr-timezone", "Europe/Helsinki")
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    # An unknown property is not typed by icalendar: say it is a duration, or it is "1:00:00".
    calendar.add("x-published-ttl", vDuration(FEED_REFRESH))
    for session in sessions:
        cancelled = session.status in CANCELLED
        calendar.add_component(session_event(session, firm_name, cancelled=cancelled, stamp=stamp))
    return calendar.to_ical().decode()
