"""Client organisations and their people (HR contacts, managers, supervisees) and their logins.

Modules: :mod:`.models` (tables), :mod:`.organisations` (checks, search, archiving, adding
people), :mod:`.people`, :mod:`.logins` (portal logins and invitations), :mod:`.billing_details`
(address and e-invoicing), :mod:`.checks` (small shared checks). Other domains use only
``logins``, ``organisations`` and ``billing_details`` (pyproject.toml says why). What the client
pages ask about agreements is in :mod:`luotsi.tenants.agreements.queries`.
"""
