"""statistic match (libxt_statistic): random sampling or every n-th packet.

The kernel keeps the probability as a 31-bit fixed-point integer (p * 2**31, rounded) and
iptables-save prints it back with 11 decimals; that integer is what is stored here, so printing
is exact and the interpreter has the probability the kernel really uses.

Semantics (xt_statistic): random mode holds when a fresh 31-bit random number is below the
stored integer, so with probability exactly `probability / 2**31`; `!` takes the other side.
The number is drawn at each evaluation, so a rule a path meets twice draws twice
(`logic.visit_flag`).
nth mode holds on one packet in `every`, decided by a counter shared by the rule's packets,
which no dump shows: it is an assumption ("this packet is the counter's p-th of every n"),
made anew at each visit of the rule, as each evaluation moves the counter.
Both are pinned under the kind `statistic` (`statistic@table:chain:N=true` means the draw
succeeds or the counter hits, before any `!`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from ..logic import Chance, Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._cnum import U32, c_strtod
from ._xtopt import also, excl, need, once, xt_uint_arg
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["ONE", "StatisticMatch"]

ONE = 0x8000_0000  # probability 1.0 in the kernel's fixed point


@dataclass(frozen=True, slots=True)
class StatisticMatch(ExtOptions):
    """random: true with probability `probability / 2**31`; nth: on every `every`-th packet,
    the counter starting at `packet`. `invert` negates either."""

    mode: Literal["random", "nth"]
    invert: bool = False
    probability: int = 0
    every: int = 0
    packet: int = 0

    @property
    def chance(self) -> float:
        return self.probability / ONE


def _fixed_point(arg: OptArg) -> int:
    """strtod within 0..1 (NaN slips through, as in C), then lround(p * 2**31) cut to u32."""
    got = c_strtod(arg.value)
    if got is None or got[1] != len(arg.value) or got[0] < 0 or got[0] > 1:
        raise OptionError(f'bad value for option "--{arg.name}", or out of range (0-1)',
                          arg.value_column())
    scaled = got[0] * ONE
    if math.isnan(scaled):
        return 0
    whole = math.floor(scaled)
    return (whole + (1 if scaled - whole >= 0.5 else 0)) & U32


@register
class Statistic(Extension):
    """Assumption kind `statistic` (nth mode; random mode draws under the same key): holds = the
    counter hits (the draw succeeds), before `!`."""

    names = ("statistic",)
    options = (
        OptSpec("mode", 1),
        OptSpec("probability", 1, True),
        OptSpec("every", 1, True),
        OptSpec("packet", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> StatisticMatch:
        opts = once(args)
        mode = None
        if "mode" in opts:
            arg = opts["mode"]
            if arg.value not in ("random", "nth"):
                raise OptionError(f'Bad mode "{arg.value}"', arg.value_column())
            mode = arg.value
        probability = _fixed_point(opts["probability"]) if "probability" in opts else 0
        every = xt_uint_arg(opts["every"], 1, U32) if "every" in opts else 0
        packet = xt_uint_arg(opts["packet"], 0, U32) if "packet" in opts else 0
        if mode == "random" and "probability" not in opts:
            raise OptionError("--probability must be specified when using random mode")
        if mode == "nth" and "every" not in opts and "packet" not in opts:
            raise OptionError("--every and --packet must be specified when using nth mode")
        if mode == "nth" and packet > (every - 1 if every else 0):
            raise OptionError("the --packet p must be 0 <= p <= n-1", opts["packet"].column)
        need(opts, "mode")
        excl(opts, "probability", "every")
        excl(opts, "probability", "packet")
        also(opts, "every", "packet")
        also(opts, "packet", "every")
        invert = any(a.invert for a in args)
        assert mode is not None
        if mode == "random":
            return StatisticMatch("random", invert, probability=probability)
        return StatisticMatch("nth", invert, every=every, packet=packet)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, StatisticMatch)
        bang = " !" if options.invert else ""
        if options.mode == "random":
            return f" --mode random{bang} --probability {options.chance:.11f}"
        return f" --mode nth{bang} --every {options.every} --packet {options.packet}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, StatisticMatch)
        o = options
        if o.mode == "random":
            p = Fraction(o.probability, ONE)
            event: Pred = Chance(p, ctx.key("statistic"), ctx.apart(
                f"statistic: random draw below {float(p):.11f} holds", "statistic"))
        else:
            event = ctx.assume(
                "statistic",
                f"statistic: this is the counter's packet {o.packet} of every {o.every}",
                f"statistic: this is not the counter's packet {o.packet} of every {o.every}",
                per_visit=True)
        return invert_if(o.invert, event)
