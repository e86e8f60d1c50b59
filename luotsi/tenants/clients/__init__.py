"""Client organisations and their people (HR contacts, managers, supervisees) and their logins.

Modules: :mod:`.models` (tables), :mod:`.service` (checks, search, archiving, invitations).
What the client pages ask about agreements is in :mod:`luotsi.tenants.agreements.queries`.
"""
