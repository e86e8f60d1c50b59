"""The forms of supervision a firm sells (and, later, the kinds of agreement)."""

from __future__ import annotations

from babel import Locale

from luotsi.platform import i18n
from luotsi.platform.i18n import N_, LabelledEnum


class SupervisionKind(LabelledEnum):
    INDIVIDUAL = "individual", N_("Individual supervision")
    GROUP = "group", N_("Group supervision")
    WORK_COMMUNITY = "work_community", N_("Work community supervision")
    LEADERSHIP = "leadership", N_("Leadership supervision")
    MEDIATION = "mediation", N_("Workplace mediation")


# Languages a supervisor can offer sessions in (ISO 639-1), Finland's national and common
# languages first. Names come from Babel in the reader's language.
SPOKEN_LANGUAGES = ("fi", "sv", "en", "se", "et", "ru", "uk", "de", "fr", "es", "ar", "so", "fa")


def language_name(code: str) -> str:
    locale = Locale.parse(i18n.current_language())
    name = locale.languages.get(code, code)
    return name[:1].upper() + name[1:]
