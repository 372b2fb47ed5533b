"""The time match's decision for one instant, as xt_time's time_mt() takes it.

Kept apart from the option parser so the calendar arithmetic reads in one place. `stamp` is
seconds since 1970 in the zone the rule reads (UTC, or the kernel's zone with --kerneltz).
"""

from __future__ import annotations

import datetime
from typing import Protocol

__all__ = ["SECONDS_PER_DAY", "time_matches"]

SECONDS_PER_DAY = 86400


class TimeWindow(Protocol):
    """The fields of xt_time_info the decision reads (the time match's typed options)."""

    @property
    def date_start(self) -> int: ...
    @property
    def date_stop(self) -> int: ...
    @property
    def daytime_start(self) -> int: ...
    @property
    def daytime_stop(self) -> int: ...
    @property
    def monthdays(self) -> int: ...
    @property
    def weekdays(self) -> int: ...
    @property
    def contiguous(self) -> bool: ...


def time_matches(window: TimeWindow, stamp: int) -> bool:
    """Whether time_mt() matches at `stamp`."""
    if stamp < window.date_start or stamp > window.date_stop:
        return False
    seconds = stamp % SECONDS_PER_DAY
    start, stop = window.daytime_start, window.daytime_stop
    if start < stop:
        if seconds < start or seconds > stop:
            return False
    else:
        # a range through midnight (or start == stop, which the kernel lets hold all day)
        if stop < seconds < start:
            return False
        if window.contiguous and seconds <= stop:
            stamp -= SECONDS_PER_DAY  # the morning part belongs to the day before
    day = datetime.date(1970, 1, 1) + datetime.timedelta(days=stamp // SECONDS_PER_DAY)
    if not window.weekdays >> day.isoweekday() & 1:
        return False
    return bool(window.monthdays >> day.day & 1)
