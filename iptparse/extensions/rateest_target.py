"""RATEEST (libxt_RATEEST): feed matched packets into a named rate estimator.

The kernel keeps the interval as a power of two times 250 ms (exponent -2..3, so 250 ms to 8 s)
and the averaging constant as a shift; iptables rounds what it is given (any strtod number with
s/ms/us, no unit meaning µs) and iptables-save prints the rounded values with one decimal. The
printed ewmalog is computed in 32-bit unsigned arithmetic and can wrap, as in iptables.

Semantics (xt_RATEEST.c): the packet is counted in the estimator; the packet goes on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._d_sem import continue_with
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
from .log import c_string

__all__ = ["RateestTarget", "format_time_us", "parse_time_us"]

_US_PER_SEC = 1_000_000
_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*([+-]?)(?:(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
    r"(?:[pP][+-]?\d+)?)|((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(inf(?:inity)?|nan))",
    re.IGNORECASE)
_UNITS = {"": 1.0, "s": 1e6, "sec": 1e6, "secs": 1e6, "ms": 1e3, "msec": 1e3, "msecs": 1e3,
          "us": 1.0, "usec": 1.0, "usecs": 1.0}


@dataclass(frozen=True, slots=True)
class RateestTarget(ExtOptions):
    """Estimator `name`, sampled every 250 ms << (interval + 2), averaged over 2**ewma_log
    samples."""

    name: str
    interval: int
    ewma_log: int

    @property
    def interval_us(self) -> int:
        return (_US_PER_SEC << (self.interval + 2)) // 4


def parse_time_us(arg: OptArg, what: str) -> int:
    """A time as RATEEST_get_time reads it, stored as C does in an unsigned int."""
    m = _STRTOD.match(arg.value)
    unit = arg.value[m.end():].lower() if m else None
    if m is None or unit not in _UNITS:
        raise OptionError(f"RATEEST: bad {what} value \"{arg.value}\"", arg.value_column())
    assert unit is not None
    sign, hexa, decimal, special = m.groups()
    number = float.fromhex(hexa) if hexa else float(decimal or special)
    value = (-number if sign == "-" else number) * _UNITS[unit]
    if not math.isfinite(value):
        return 0  # C's double-to-unsigned conversion of inf/nan gives 0 on x86-64
    whole = int(value)  # C's conversion truncates toward zero through a 64-bit register
    return whole & 0xFFFFFFFF if -(1 << 63) <= whole < 1 << 63 else 0


def format_time_us(value: int) -> str:
    if value >= _US_PER_SEC:
        return f"{value / _US_PER_SEC:.1f}s"
    if value >= _US_PER_SEC // 1000:
        return f"{value / (_US_PER_SEC // 1000):.1f}ms"
    return f"{value}us"


@register
class Rateest(Extension):
    kind = "target"
    names = ("RATEEST",)
    options = (OptSpec("rateest-name", 1), OptSpec("rateest-interval", 1),
               OptSpec("rateest-ewmalog", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RateestTarget:
        opts = one_of(args)
        interval_us = ewma_us = 0
        if "rateest-interval" in opts:
            interval_us = parse_time_us(opts["rateest-interval"], "interval")
        if "rateest-ewmalog" in opts:
            ewma_us = parse_time_us(opts["rateest-ewmalog"], "ewmalog")
        interval = 0
        while interval <= 5 and interval_us > (1 << interval) * (_US_PER_SEC // 4):
            interval += 1
        if interval > 5:
            raise OptionError("RATEEST: interval value is too large")
        ewma_log = 1
        while ewma_log < 32:
            w = 1.0 - 1.0 / (1 << ewma_log)
            if interval_us / -math.log(w) > ewma_us:
                break
            ewma_log += 1
        ewma_log -= 1
        if ewma_log == 0 or ewma_log >= 31:
            raise OptionError("RATEEST: ewmalog value is out of range")
        if "rateest-name" not in opts:
            raise OptionError("option \"--rateest-name\" must be specified")
        return RateestTarget(c_string(opts["rateest-name"], 16), interval - 2, ewma_log)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RateestTarget)
        interval = options.interval_us
        ewma = (interval << options.ewma_log) & 0xFFFFFFFF
        return (f" --rateest-name {options.name} --rateest-interval {format_time_us(interval)}"
                f" --rateest-ewmalog {format_time_us(ewma)}")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, RateestTarget)
        return continue_with(f"count the packet in rate estimator {options.name}")
