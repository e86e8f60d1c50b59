"""Small charts drawn on the server as inline SVG: no chart library in the browser.

:func:`progress_svg` draws one goal's evaluations (1-5) over time. The SVG carries its own
accessible description (``role="img"`` with a title listing every point), and the page shows
the same figures as a table beside it, so nothing is available only as a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
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
