"""The forms of supervision a firm sells (and, later, the kinds of agreement)."""

from __future__ import annotations

import enum

from babel import Locale

from luotsi.platform import i18n
from luotsi.platform.i18n import N_


class SupervisionKind(enum.StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"
    WORK_COMMUNITY = "work_community"
    LEADERSHIP = "leadership"
    MEDIATION = "mediation"

    @property
    def label(self) -> str:
        return i18n.gettext(_KIND_LABELS[self])


_KIND_LABELS = {
    SupervisionKind.INDIVIDUAL: N_("Individual supervision"),
    SupervisionKind.GROUP: N_("Group supervision"),
    SupervisionKind.WORK_COMMUNITY: N_("Work community supervision"),
    SupervisionKind.LEADERSHIP: N_("Leadership supervision"),
    SupervisionKind.MEDIATION: N_("Workplace mediation"),
}

# Languages a supervisor can offer sessions in (ISO 639-1), Finland's national and common
# languages first. Names come from Babel in the reader's language.
SPOKEN_LANGUAGES = ("fi", "sv", "en", "se", "et", "ru", "uk", "de", "fr", "es", "ar", "so", "fa")


def language_name(code: str) -> str:
    locale = Locale.parse(i18n.current_language())
    name = locale.languages.get(code, code)
    return name[:1].upper() + name[1:]
