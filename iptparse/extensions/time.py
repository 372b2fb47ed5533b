"""time match (libxt_time): date range, time of day, days of the month and of the week.

Everything is kept as xt_time_info stores it, so the interpreter can evaluate it and printing
is exact: dates are seconds since the epoch (UTC; libxt_time normalises them like mktime, so
2020-02-31 is 2020-03-02), times of day are seconds since midnight, days are bitmasks (bit n is
day n of the month, or weekday n with Monday = 1). The C parser's quirks matter for what loads
and what prints: days are read from 2- or 3-character buffers (`123` is day 12, `Monday` is
Mon, any word starting `Th` is Thursday), weekday bits past 7 vanish in the 8-bit field, and
an empty or out-of-field list prints as a bare `--weekdays`. The default stop date INT_MAX is
always printed (2038-01-19T03:14:07), a stop date of the epoch never.

Semantics (xt_time): the kernel reads the clock (not the packet), in UTC or, with --kerneltz,
shifted by the kernel's time zone. The packet field `time` (UTC seconds) or, with --kerneltz,
`kernel_time` (the same instant in the kernel's zone) decides the rule exactly when it is one
value (`time_matches` follows time_mt() step by step, its quirks included: a daytime range
whose start equals its stop holds all day, nothing matches after the stop date, which is
2038-01-19T03:14:07 unless given). Otherwise the rule depends on the assumption `time`
("the clock is within …"), pinned per rule.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..logic import Custom, Pred
from ..nodes import ExtOptions
from ._c_time import time_matches
from ._cnum import NOTHING, U32, strtoul
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    one_of,
    register,
)

__all__ = ["ALL_MONTHDAYS", "ALL_WEEKDAYS", "DATE_MAX", "LAST_SECOND", "WEEKDAYS", "TimeMatch"]

ALL_MONTHDAYS = 0xFFFF_FFFE
ALL_WEEKDAYS = 0xFE
LAST_SECOND = 24 * 3600 - 1
DATE_MAX = 2**31 - 1  # INT_MAX: "no end date"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class TimeMatch(ExtOptions):
    date_start: int = 0
    date_stop: int = DATE_MAX
    daytime_start: int = 0
    daytime_stop: int = LAST_SECOND
    monthdays: int = ALL_MONTHDAYS
    weekdays: int = ALL_WEEKDAYS
    kerneltz: bool = False
    contiguous: bool = False


def _fields(text: str, seps: str, column: int, what: str) -> list[int]:
    """strtoul(…, 10) field by field; field i must end with seps[i] or the end of text."""
    values: list[int] = []
    rest = text
    for index, sep in enumerate(seps):
        got = strtoul(rest, 10) or NOTHING
        values.append(got.value & U32)  # the C fields are unsigned int
        after = rest[got.end:]
        if not after:
            return values
        if after[0] != sep or index == len(seps) - 1:
            break
        rest = after[1:]
    raise OptionError(f"invalid {what} `{text}'", column)


def parse_date(text: str, column: int = 0) -> int:
    """YYYY[-MM[-DD[Thh[:mm[:ss]]]]] as seconds since the epoch, normalised like mktime."""
    form = "date (YYYY[-MM[-DD[Thh[:mm[:ss]]]]], 1970-2038)"
    fields = _fields(text, "--T::\0", column, form)
    fields += [1, 1, 0, 0, 0][len(fields) - 1:]
    year, month, day, hour, minute, second = fields
    limits = (month <= 12, day <= 31, hour <= 23, minute <= 59, second <= 59)
    if not 1970 <= year <= 2038 or not all(limits):
        raise OptionError(f"invalid {form} `{text}'", column)
    year += (month - 1) // 12  # month 0 is December of the year before, as mktime has it
    month = (month - 1) % 12 + 1
    days = datetime.date(year, month, 1).toordinal() - datetime.date(1970, 1, 1).toordinal()
    value = (days + day - 1) * 86400 + hour * 3600 + minute * 60 + second
    if value < 0:
        raise OptionError(f"date `{text}' is before 1970-01-01", column)
    return value


def parse_daytime(text: str, column: int = 0) -> int:
    """hh:mm[:ss] as seconds since midnight."""
    form = "time of day (hh:mm[:ss], 00:00:00-23:59:59)"
    fields = _fields(text, "::\0", column, form)
    if len(fields) < 2:
        raise OptionError(f"invalid {form} `{text}'", column)
    hour, minute, second = [*fields, 0][:3]
    if hour > 23 or minute > 59 or second > 59:
        raise OptionError(f"invalid {form} `{text}'", column)
    return hour * 3600 + minute * 60 + second


def _segments(text: str, size: int) -> list[str]:
    """my_strseg: comma-separated words, each cut to size - 1 characters; none after a
    trailing comma."""
    words = text.split(",")
    if words and words[-1] == "":
        words.pop()
    return [word[: size - 1] for word in words]


def parse_monthdays(text: str, column: int = 0) -> int:
    mask = 0
    for day in _segments(text, 3):
        got = strtoul(day) or NOTHING
        number = got.value & U32
        if got.end != len(day) or number > 31:
            raise OptionError(f"`{day}' is not a valid day for --monthdays (1-31)", column)
        mask |= 1 << number
    return mask


def parse_weekdays(text: str, column: int = 0) -> int:
    mask = 0
    for day in _segments(text, 4):
        got = strtoul(day) or NOTHING
        if got.end == len(day):
            number = got.value & U32
            if number == 0:
                raise OptionError("weekday 0 is not valid: the week begins with Monday (1)",
                                  column)
            mask |= 1 << (number & 31)  # x86 shifts by the count modulo 32
            continue
        found = [i for i, name in enumerate(WEEKDAYS, 1) if day[:2] == name[:2] and
                 len(day) >= 2]
        if not found:
            raise OptionError(f"`{day}' is not a valid weekday (Mon-Sun or 1-7)", column)
        mask |= 1 << found[0]
    return mask & 0xFF


def _format_date(option: str, value: int) -> str:
    if value == 0:
        return ""
    moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return f" --{option} {moment:%Y-%m-%dT%H:%M:%S}"


def _format_daytime(value: int) -> str:
    return f"{value // 3600:02d}:{value // 60 % 60:02d}:{value % 60:02d}"


@register
class Time(Extension):
    """Fields `time` / `kernel_time`; assumption kind `time` when the field is not one value
    (holds = the clock is within the window)."""

    names = ("time",)
    options = (
        OptSpec("datestart", 1),
        OptSpec("datestop", 1),
        OptSpec("timestart", 1),
        OptSpec("timestop", 1),
        OptSpec("contiguous", 0),
        OptSpec("weekdays", 1, True),
        OptSpec("monthdays", 1, True),
        OptSpec("localtz", 0),
        OptSpec("utc", 0),
        OptSpec("kerneltz", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TimeMatch:
        opts = one_of(args)
        if "utc" in opts:
            for other in ("localtz", "kerneltz"):
                if other in opts:
                    raise OptionError(f"--utc and --{other} cannot be combined",
                                      max(opts["utc"].column, opts[other].column))

        def value(name: str, default: int, reader: Callable[[str, int], int]) -> int:
            arg = opts.get(name)
            return default if arg is None else reader(arg.value, arg.value_column())

        monthdays = value("monthdays", ALL_MONTHDAYS, parse_monthdays)
        if "monthdays" in opts and opts["monthdays"].invert:
            monthdays ^= ALL_MONTHDAYS
        weekdays = value("weekdays", ALL_WEEKDAYS, parse_weekdays)
        if "weekdays" in opts and opts["weekdays"].invert:
            weekdays ^= ALL_WEEKDAYS
        options = TimeMatch(
            value("datestart", 0, parse_date),
            value("datestop", DATE_MAX, parse_date),
            value("timestart", 0, parse_daytime),
            value("timestop", LAST_SECOND, parse_daytime),
            monthdays,
            weekdays,
            "kerneltz" in opts or "localtz" in opts,
            "contiguous" in opts,
        )
        if options.contiguous and options.daytime_start < options.daytime_stop:
            raise OptionError("--contiguous only makes sense when the stop time is earlier "
                              "than the start time", opts["contiguous"].column)
        return options

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TimeMatch)
        out = ""
        if options.daytime_start != 0 or options.daytime_stop != LAST_SECOND:
            out += f" --timestart {_format_daytime(options.daytime_start)}"
            out += f" --timestop {_format_daytime(options.daytime_stop)}"
        if options.monthdays != ALL_MONTHDAYS:
            days = (str(d) for d in range(1, 32) if options.monthdays >> d & 1)
            out += f" --monthdays {','.join(days)}"
        if options.weekdays != ALL_WEEKDAYS:
            names = (n for i, n in enumerate(WEEKDAYS, 1) if options.weekdays >> i & 1)
            out += f" --weekdays {','.join(names)}"
        out += _format_date("datestart", options.date_start)
        out += _format_date("datestop", options.date_stop)
        if options.kerneltz:
            out += " --kerneltz"
        if options.contiguous:
            out += " --contiguous"
        return out

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, TimeMatch)
        window = self.render(options, ctx).strip()
        clock = "kernel_time" if options.kerneltz else "time"

        def decide(values: tuple[int | str, ...]) -> bool:
            stamp = values[0]
            assert isinstance(stamp, int)
            return time_matches(options, stamp)

        zone = "the kernel's time zone" if options.kerneltz else "UTC"
        return Custom((clock,), decide, ctx.key("time"), "time",
                      f"the clock ({zone}) is within {window or 'any time'}",
                      f"the clock ({zone}) is not within {window or 'any time'}")
