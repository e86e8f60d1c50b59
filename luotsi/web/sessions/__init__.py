"""Session pages: the list, planning, changes, the calendar and its feeds."""
