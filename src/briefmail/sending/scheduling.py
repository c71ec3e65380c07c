"""Weekly slots and local-time due times, in real time zones.

A slot is a weekday and a wall-clock time in an IANA zone ("mon 09:00
America/New_York"). Its occurrence is computed per date with zoneinfo, so the UTC
instant moves with daylight saving time instead of drifting an hour twice a year.
A wall time that does not exist that day (the spring-forward gap) lands just after
the gap; an ambiguous one (fall back) takes its first occurrence.

With local time, every subscriber gets the brief at the slot's wall-clock time on the
slot's date in their own zone, so one occurrence spans from that time at UTC+14 (the
first zone to reach it) to UTC-12 (the last). The send is snapshotted when the first
zone is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from briefmail.errors import InvalidInputError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The earliest UTC offset in use (Line Islands): local-time sends start there.
EARLIEST_OFFSET = timedelta(hours=14)


def parse_weekday(text: str) -> int:
    """Monday = 0; accepts `mon`, `Monday`, `MON`."""
    key = text.strip().lower()
    for index, full in enumerate(_FULL_DAYS):
        if len(key) >= 3 and full.startswith(key):
            return index
    raise InvalidInputError(f"--day: {text!r} is not a weekday (mon, tue, ... sun)")


def parse_time_of_day(text: str) -> time:
    """`HH:MM`, 24-hour."""
    try:
        parsed = datetime.strptime(text.strip(), "%H:%M").time()
    except ValueError:
        raise InvalidInputError(f"--time: {text!r} is not HH:MM (24-hour)") from None
    return parsed


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; InvalidInputError when there is no such zone."""
    zone_info = _zone(name.strip())
    if zone_info is None:
        raise InvalidInputError(f"--tz: {name!r} is not an IANA time zone (e.g. America/New_York)")
    return zone_info


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def wall_clock(day: date, at: time, zone_name: str | None, default_zone: str) -> datetime:
    """The UTC instant of `day` `at` in `zone_name` (unknown or empty: `default_zone`)."""
    zone_info = (_zone(zone_name) if zone_name else None) or zone(default_zone)
    return datetime.combine(day, at, tzinfo=zone_info).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    weekday: int  # Monday = 0
    at: time
    zone_name: str
    local_time: bool = False

    def occurrence(self, day: date) -> datetime:
        """The slot's UTC instant on `day` in the slot's own zone."""
        return wall_clock(day, self.at, self.zone_name, self.zone_name)

    def start(self, day: date) -> datetime:
        """When the occurrence on `day` begins: the first zone to reach it if local time."""
        if self.local_time:
            return datetime.combine(day, self.at, tzinfo=UTC) - EARLIEST_OFFSET
        return self.occurrence(day)

    def current_day(self, now: datetime) -> date:
        """The slot date of the latest occurrence that has begun at `now`."""
        today = now.astimezone(zone(self.zone_name)).date()
        for back in range(-2, 15):
            day = today - timedelta(days=back)
            if day.weekday() == self.weekday and self.start(day) <= now:
                return day
        raise AssertionError("a weekly slot occurs within two weeks")  # pragma: no cover

    def next_day(self, now: datetime) -> date:
        """The slot date of the first occurrence that begins after `now`."""
        return self.current_day(now) + timedelta(days=7)


def describe(rule: WeeklyRule) -> str:
    """`mon 09:00 America/New_York (local time)`."""
    local = " (each subscriber's local time)" if rule.local_time else ""
    return f"{WEEKDAYS[rule.weekday]} {rule.at:%H:%M} {rule.zone_name}{local}"
