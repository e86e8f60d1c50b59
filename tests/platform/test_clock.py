"""The application has one clock: nothing outside ``luotsi.platform.clock`` reads the time of
day, so that moving that clock (as the suite does for ``LUOTSI_TEST_TODAY``) moves all of it."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from luotsi.platform import clock

ROOT = Path(__file__).resolve().parents[2] / "luotsi"
WALL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "clock.now"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def wall_clock_reads(source: str) -> list[int]:
    """Lines of ``source`` that call one of :data:`WALL_CLOCK` (``datetime.now(UTC)`` ...)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in WALL_CLOCK
        ):
            lines.append(node.lineno)
    return lines


def test_the_detector_finds_a_wall_clock_read() -> None:  # the positive control
    assert wall_clock_reads("import datetime\nx = 1\ny = datetime.now(UTC)") == [3]
    assert wall_clock_reads("z = date.today()") == [1]
    assert wall_clock_reads("z = clock.today()") == []


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in sorted(ROOT.rglob("*.py"))
        if path != ROOT / "platform" / "clock.py"
        and (found := wall_clock_reads(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_today_is_the_date_in_helsinki_not_in_utc() -> None:
    # 22.30 UTC on 31 December is already New Year's Day in Helsinki.
    with time_machine.travel(datetime(2030, 12, 31, 22, 30, tzinfo=UTC), tick=False):
        assert clock.now() == datetime(2030, 12, 31, 22, 30, tzinfo=UTC)
        assert clock.today() == datetime(2031, 1, 1).date()
    # In summer time (UTC+3) the day turns at 21.00 UTC.
    with time_machine.travel(datetime(2030, 6, 30, 21, 0, tzinfo=UTC), tick=False):
        assert clock.today() == datetime(2030, 7, 1).date()
    with time_machine.travel(datetime(2030, 6, 30, 21, 0, tzinfo=UTC) - timedelta(seconds=1)):
        assert clock.today() == datetime(2030, 6, 30).date()
