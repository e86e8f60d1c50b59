"""Supervision sessions and meetings: planning, changes, calendars, invitations, reminders.

Modules: :mod:`.models` (tables, statuses, the quota rule), :mod:`.service` (access, days,
participants, invitations), :mod:`.planning`, :mod:`.changes`, :mod:`.calendars` (feeds,
reminders), :mod:`.ics`, :mod:`.overview` (what the dashboards show).
"""
