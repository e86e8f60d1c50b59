"""Finland's geography (shared, read-only) and each firm's own areas on top of it.

The reference is Statistics Finland's classification: 19 regions (maakunnat) and the
municipalities (kunnat) of the year in ``data/``, each in exactly one region. A firm adds its
own areas ("Southern Finland" = some regions; "Capital area" = some municipalities). Matching is
by containment: a municipality is inside its region, and inside every firm area that lists it
or its region.
"""

from __future__ import annotations

import csv
import functools
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import can_manage_areas
from luotsi.platform.tenancy import Membership
from luotsi.tenants.directory.models import (
    FIRM_AREA_WHOLE,
    FirmArea,
    FirmAreaPart,
    Municipality,
    Region,
)

DATA_FILE = Path(__file__).resolve().parent / "data" / "regions_fi.csv"


# --- reference data -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceRow:
    kind: str
    code: str
    name_fi: str
    name_sv: str
    region_code: str


def read_reference(path: Path = DATA_FILE) -> list[ReferenceRow]:
    """The bundled classification, as rows (comments at the top name its source and year)."""
    with path.open(encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return [ReferenceRow(**row) for row in csv.DictReader(lines)]


async def list_regions(db: AsyncSession) -> list[Region]:
    return list(await db.scalars(select(Region).order_by(Region.name_fi)))


@dataclass(frozen=True)
class Place:
    """A search hit: a municipality or a region, named in the reader's language."""

    kind: str  # "municipality" or "region"
    code: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.kind[0]}{self.code}"  # m091, r01: one value for forms and URLs


def fold(text: str) -> str:
    """Lower case without accents, so "hameenlinna" finds Hämeenlinna and "abo" Åbo."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


@dataclass(frozen=True)
class _Entry:
    kind: str
    code: str
    name_fi: str
    name_sv: str
    region_code: str
    folded: tuple[str, ...]

    def place(self, language: str, regions: dict[str, _Entry]) -> Place:
        name = self.name_sv if language == "sv" else self.name_fi
        if self.kind == "region":
            return Place("region", self.code, name)
        region = regions[self.region_code]
        region_name = region.name_sv if language == "sv" else region.name_fi
        return Place("municipality", self.code, f"{name} ({region_name})")


KINDS = ("region", "municipality")
MAX_AREA_NAME = 120
MAX_PLACE_NAMES = 2000  # the comma-separated names typed into one field
MAX_PLACE_NAME = 60  # longer than any municipality's or region's name
UNKNOWN_NAMES_SHOWN = 3


class PlaceIndex:
    """Every region and municipality of the bundled reference, searchable by fi/sv name.

    The reference is small (a few hundred names) and read-only, so it is searched in memory:
    the same accent-insensitive result on SQLite and PostgreSQL, and no query per keystroke.
    The migration loads the same file into the database for foreign keys and joins.
    """

    def __init__(self, rows: list[ReferenceRow]) -> None:
        entries = [
            _Entry(
                r.kind,
                r.code,
                r.name_fi,
                r.name_sv,
                r.region_code,
                (fold(r.name_fi), fold(r.name_sv)),
            )
            for r in rows
        ]
        self.regions = {e.code: e for e in entries if e.kind == "region"}
        self.municipalities = {e.code: e for e in entries if e.kind == "municipality"}
        self._ordered = sorted(self.regions.values(), key=lambda e: e.folded[0]) + sorted(
            self.municipalities.values(), key=lambda e: e.folded[0]
        )

    def search(self, text: str, limit: int = 10) -> list[Place]:
        """Regions, then municipalities, whose Finnish or Swedish name starts with ``text``."""
        folded = fold(text)
        if not folded:
            return []
        language = i18n.current_language()
        hits = [e for e in self._ordered if any(n.startswith(folded) for n in e.folded)]
        return [e.place(language, self.regions) for e in hits[:limit]]

    def suggest(self, text: str, limit: int = 10, kinds: tuple[str, ...] = KINDS) -> list[str]:
        """Autocomplete labels for what was typed, each in the language it was typed in.

        "åbo" offers "Åbo (Egentliga Finland)" even to a Finnish reader: a browser shows a
        datalist suggestion only if it contains what was typed, and :meth:`resolve` reads the
        label back in either language.
        """
        folded = fold(text)
        other = "fi" if i18n.current_language() == "sv" else "sv"
        labels = []
        for place in self.search(text, limit=len(self._ordered)):
            if place.kind not in kinds:
                continue
            if not fold(self.name(place.key)).startswith(folded):
                with i18n.language(other):
                    place = self.resolve(place.key) or place
            labels.append(place.label)
            if len(labels) == limit:
                break
        return labels

    def resolve(self, key: str) -> Place | None:
        """A place from its key (``m091``, ``r01``), a search label or an exact fi/sv name."""
        key = key.strip()
        language = i18n.current_language()
        if len(key) >= 3 and key[0] in "mr" and key[1:].isdigit():
            table = self.municipalities if key[0] == "m" else self.regions
            entry = table.get(key[1:])
            return entry.place(language, self.regions) if entry else None
        name = fold(key.split(" (")[0])  # "Hyvinkää (Uusimaa)", as the autocomplete offers
        for entry in [*self.municipalities.values(), *self.regions.values()]:
            if name in entry.folded:
                return entry.place(language, self.regions)
        return None

    def region_of(self, municipality_code: str) -> str:
        return self.municipalities[municipality_code].region_code

    def name(self, key: str) -> str:
        """The display name of ``r01`` or ``m106`` in the reader's language ("" if unknown)."""
        table = self.municipalities if key[:1] == "m" else self.regions
        entry = table.get(key[1:])
        if entry is None:
            return ""
        return entry.name_sv if i18n.current_language() == "sv" else entry.name_fi


@functools.cache
def places() -> PlaceIndex:
    return PlaceIndex(read_reference())


def named_places(errors: dict[str, str], field: str, text: str) -> list[Place]:
    """Places typed by name, comma-separated, in Finnish or Swedish ("Hyvinkää, Tusby").

    Unknown names are reported under ``field`` in ``errors``.
    """
    found: list[Place] = []
    unknown: list[str] = []
    if len(text) > MAX_PLACE_NAMES:
        errors[field] = i18n.too_long(MAX_PLACE_NAMES)
        return found
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        place = places().resolve(name)
        if place is None:
            unknown.append(name)
        else:
            found.append(place)
    # Named back only a few, and only names of a plausible length: never a pasted essay.
    shown = [name for name in unknown if len(name) <= MAX_PLACE_NAME][:UNKNOWN_NAMES_SHOWN]
    if shown:
        names = ", ".join(shown) + (", …" if len(unknown) > len(shown) else "")
        errors[field] = _("No municipality or region is called %(names)s.") % {"names": names}
    elif unknown:
        errors[field] = _("Check the names: they are not municipalities or regions.")
    return found


# --- firm areas ---------------------------------------------------------------------------


async def list_areas(db: AsyncSession) -> list[FirmArea]:
    return list(
        await db.scalars(select(FirmArea).order_by(FirmArea.name).options(*FIRM_AREA_WHOLE))
    )


async def get_area(db: AsyncSession, area_id: uuid.UUID) -> FirmArea:
    area = await db.scalar(select(FirmArea).where(FirmArea.id == area_id).options(*FIRM_AREA_WHOLE))
    if area is None:
        raise NotFound("area")
    return area


async def save_area(
    db: AsyncSession,
    actor: Membership,
    name: str,
    region_codes: list[str],
    municipality_codes: list[str],
    area_id: uuid.UUID | None = None,
    place_names: str = "",
) -> FirmArea:
    """Create or update a firm area from a name and its regions and municipalities.

    ``place_names`` adds more of either by name (see :func:`named_places`).
    """
    if not can_manage_areas(actor):
        raise Forbidden("areas")
    errors: dict[str, str] = {}
    region_codes, municipality_codes = list(region_codes), list(municipality_codes)
    for place in named_places(errors, "place_names", place_names):
        (region_codes if place.kind == "region" else municipality_codes).append(place.code)
    name = name.strip()
    if not name:
        errors["name"] = _("Give the area a name.")
    elif len(name) > MAX_AREA_NAME:
        errors["name"] = i18n.too_long(MAX_AREA_NAME)
    regions = set(region_codes)
    municipalities = set(municipality_codes)
    known_regions = set(await db.scalars(select(Region.code).where(Region.code.in_(regions))))
    known_municipalities = set(
        await db.scalars(select(Municipality.code).where(Municipality.code.in_(municipalities)))
    )
    if regions - known_regions or municipalities - known_municipalities:
        errors["parts"] = _("Choose regions and municipalities from the list.")
    elif not regions and not municipalities and "place_names" not in errors:
        errors["parts"] = _("Choose at least one region or municipality.")
    area = await get_area(db, area_id) if area_id else None
    duplicate = await db.scalar(
        select(FirmArea.id).where(FirmArea.name == name, FirmArea.id != (area_id or uuid.uuid4()))
    )
    if duplicate:
        errors["name"] = _("The firm already has an area with this name.")
    if errors:
        raise Invalid(errors)
    if area is None:
        area = FirmArea(name=name)
        db.add(area)
    area.name = name
    area.parts = [FirmAreaPart(region_code=code) for code in sorted(regions)] + [
        FirmAreaPart(municipality_code=code) for code in sorted(municipalities)
    ]
    await db.flush()
    return area


async def delete_area(db: AsyncSession, actor: Membership, area_id: uuid.UUID) -> None:
    if not can_manage_areas(actor):
        raise Forbidden("areas")
    area = await get_area(db, area_id)
    await db.delete(area)
    await db.flush()


async def areas_containing(db: AsyncSession, place: Place) -> list[uuid.UUID]:
    """The firm areas a place lies in (a municipality also lies in any area with its region)."""
    if place.kind == "municipality":
        condition = or_(
            FirmAreaPart.municipality_code == place.code,
            FirmAreaPart.region_code == places().region_of(place.code),
        )
    else:
        condition = FirmAreaPart.region_code == place.code
    return list(await db.scalars(select(FirmAreaPart.area_id).where(condition).distinct()))
