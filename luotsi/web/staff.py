"""The firm's staff: the list, each person's profile and photo, and the specialties."""

from __future__ import annotations

from litestar import Controller


class StaffController(Controller):
    path = "/staff"


class SpecialtiesController(Controller):
    path = "/specialties"
