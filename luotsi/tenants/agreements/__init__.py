"""Agreements: who is supervised by whom, for how long, on what terms.

Modules: :mod:`.models` (tables, statuses), :mod:`.service` (access, status changes, events),
:mod:`.drafts`, :mod:`.acceptance`, :mod:`.pdf`, :mod:`.reviews`, :mod:`.quota`,
:mod:`.summaries` (list and detail pages), :mod:`.queries` (what the client pages ask).
"""
