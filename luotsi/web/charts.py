"""Small charts drawn on the server as inline SVG: no chart library in the browser.

:func:`progress_svg` draws one goal's evaluations (1-5) over time. The SVG carries its own
accessible description (``role="img"`` with a title listing every point), and the page shows
the same figures as a table beside it, so nothing is available only as a picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from luotsi.platform.i18n import format_date
from luotsi.platform.i18n import gettext as _

WIDTH, HEIGHT = 320, 140
LEFT, RIGHT, TOP, BOTTOM = 30, 30, 10, 26
LOW, HIGH = 1, 5


def _x(index: int, count: int) -> float:
    inner = WIDTH - LEFT - RIGHT
    return LEFT + (inner / 2 if count == 1 else inner * index / (count - 1))


def _y(rating: int) -> float:
    inner = HEIGHT - TOP - BOTTOM
    return TOP + inner * (HIGH - rating) / (HIGH - LOW)


def progress_svg(points: Sequence[tuple[date, int]], title: str) -> Markup:
    """A line of ratings (oldest first) on a 1-5 scale, dates along the bottom."""
    described = "; ".join(
        f"{format_date(day, 'medium')}: {rating}/{HIGH}" for day, rating in points
    ) or _("No evaluations yet.")
    parts = [
        f'<svg class="progress-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}: {escape(described)}</title>",
    ]
    for rating in range(LOW, HIGH + 1):  # the scale
        y = _y(rating)
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{rating}</text>'
        )
    coords = [(_x(i, len(points)), _y(rating)) for i, (_day, rating) in enumerate(points)]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for (x, y), (day, _rating) in zip(coords, points, strict=True):
        parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4"/>')
        label = escape(format_date(day, "short"))
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text inside is escaped above)


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name (in the legend and the description) and a value per
    category."""

    name: str
    values: Sequence[int]


BAR, GAP = 10, 10  # a bar's width, and the space between categories
MIN_GROUP = 56  # a category's width at least, for its label
CHAR = 6  # about the width of a character of the axis' text
BARS_HEIGHT, BARS_TOP, BARS_BOTTOM, BARS_LEFT = 180, 10, 40, 72
SERIES_CLASSES = 4  # .s0 ... .s3 in the style sheet, then again from .s0


def _nice_top(value: int) -> int:
    """The scale's top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _shortened(text: str, most: int) -> str:
    """An axis label that fits its category (the title and the table have it whole)."""
    return text if len(text) <= most else text[: max(1, most - 1)] + "…"


def bars_svg(
    categories: Sequence[str],
    series: Sequence[Series],
    title: str,
    label: Callable[[int], str] = str,
) -> Markup:
    """Grouped bars: one group per category (months, supervisors), one bar per series, on a
    scale from 0 (negative values are drawn as 0 and told as they are). ``label`` writes a
    value (money, hours). The SVG is an image with a title that tells every figure; the page
    shows the same figures as a table beside it."""
    described = "; ".join(
        f"{category}: " + ", ".join(f"{s.name} {label(s.values[i])}" for s in series)
        for i, category in enumerate(categories)
    ) or _("Nothing in this period.")
    group = max(MIN_GROUP, BAR * max(1, len(series)) + GAP)
    legend = BARS_LEFT + sum(24 + CHAR * len(one.name) for one in series)
    width = max(320, legend, BARS_LEFT + group * len(categories) + GAP)
    inner = BARS_HEIGHT - BARS_TOP - BARS_BOTTOM
    top = _nice_top(max((v for s in series for v in s.values), default=0))

    def y(value: int) -> float:
        return BARS_TOP + inner * (1 - max(0, value) / top)

    parts = [
        f'<svg class="bar-chart" viewBox="0 0 {width} {BARS_HEIGHT}" width="{width}" '
        f'height="{BARS_HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}: {escape(described)}</title>",
    ]
    for tick in (0, top // 2, top) if top % 2 == 0 else (0, top):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{BARS_LEFT}" y1="{ty:.1f}" x2="{width}" y2="{ty:.1f}"/>'
            f'<text class="axis" x="{BARS_LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(label(tick))}</text>"
        )
    for i, category in enumerate(categories):
        x0 = BARS_LEFT + GAP + i * group
        for j, one in enumerate(series):
            value = one.values[i]
            bar_top = y(value)
            parts.append(
                f'<rect class="s{j % SERIES_CLASSES}" x="{x0 + j * BAR}" y="{bar_top:.1f}" '
                f'width="{BAR - 1}" height="{BARS_TOP + inner - bar_top:.1f}"/>'
            )
        cx = x0 + BAR * len(series) / 2
        parts.append(
            f'<text class="axis" x="{cx:.1f}" y="{BARS_HEIGHT - BARS_BOTTOM + 14}" '
            f'text-anchor="middle">{escape(_shortened(category, (group - 4) // CHAR))}</text>'
        )
    legend_y, lx = BARS_HEIGHT - 8, BARS_LEFT
    for j, one in enumerate(series):
        if j:
            lx += 24 + CHAR * len(series[j - 1].name)
        parts.append(
            f'<rect class="s{j % SERIES_CLASSES}" x="{lx}" y="{legend_y - 9}" width="10" '
            f'height="10"/><text class="axis" x="{lx + 14}" y="{legend_y}">'
            f"{escape(one.name)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text inside is escaped above)
