"""connbytes match (libxt_connbytes): packets, bytes or average packet size of a connection.

The kernel holds the range as (from, to) and treats from > to as the negation of to..from;
`! --connbytes A:B` is stored swapped. Keeping the pair as stored reproduces what iptables-save
prints, including its quirks (`0:0` prints as `0`; an upper bound of 2**64-1 is not printed).

Semantics (xt_connbytes): no connection, no match; otherwise the connection's accounting
counters (this packet included) are live state: an assumption of kind `connbytes` (holds = the
count is in the range, or outside it for the stored-swapped `!` form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..logic import Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import has_connection
from ._cnum import U64
from ._pred import conj
from ._xtopt import need, once, xt_mint
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["ConnbytesMatch"]

Direction = Literal["original", "reply", "both"]
Counting = Literal["packets", "bytes", "avgpkt"]


@dataclass(frozen=True, slots=True)
class ConnbytesMatch(ExtOptions):
    """Counts `what` in `direction`; matches lo <= n <= hi, or (lo > hi) n outside hi..lo."""

    lo: int
    hi: int
    direction: Direction
    what: Counting

    @property
    def invert(self) -> bool:
        return self.lo > self.hi


def _u64_range(arg: OptArg) -> tuple[int, int]:
    """XTTYPE_UINT64RC: `n`, `lo:hi`, `lo:` or `:hi`; (lo, hi) with hi = 2**64-1 if absent."""
    values = xt_mint(arg, U64)
    return values[0], values[1] if len(values) == 2 else U64


@register
class Connbytes(Extension):
    """Assumption kind `connbytes`: holds = the connection's counter is in the range as stored."""

    names = ("connbytes",)
    options = (
        OptSpec("connbytes", 1, True),
        OptSpec("connbytes-dir", 1),
        OptSpec("connbytes-mode", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConnbytesMatch:
        opts = once(args)
        for name in ("connbytes", "connbytes-dir", "connbytes-mode"):
            need(opts, name)
        arg = opts["connbytes"]
        lo, hi = _u64_range(arg)
        if lo > hi:
            raise OptionError(f"{lo} should be less than {hi}", arg.value_column())
        if arg.invert:
            lo, hi = hi, lo
        direction = opts["connbytes-dir"]
        if direction.value not in ("original", "reply", "both"):
            raise OptionError(f"Unknown --connbytes-dir `{direction.value}'",
                              direction.value_column())
        mode = opts["connbytes-mode"]
        if mode.value not in ("packets", "bytes", "avgpkt"):
            raise OptionError(f"Unknown --connbytes-mode `{mode.value}'", mode.value_column())
        return ConnbytesMatch(lo, hi, direction.value, mode.value)  # type: ignore[arg-type]

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConnbytesMatch)
        o = options
        lo, hi = (o.hi, o.lo) if o.invert else (o.lo, o.hi)
        upper = f":{hi}" if hi and hi < U64 else ""
        return (f"{' !' if o.invert else ''} --connbytes {lo}{upper}"
                f" --connbytes-mode {o.what} --connbytes-dir {o.direction}")

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, ConnbytesMatch)
        o = options
        names = {"packets": "packet count", "bytes": "byte count", "avgpkt": "average packet size"}
        what = f"the connection's {names[o.what]} ({o.direction})"
        inside = f"{o.lo}-{o.hi}" if not o.invert else f"{o.hi}-{o.lo}"
        if o.invert:
            text, neg = f"{what} is outside {inside}", f"{what} is within {inside}"
        else:
            text, neg = f"{what} is within {inside}", f"{what} is outside {inside}"
        return conj(has_connection(), ctx.assume("connbytes", text, neg))
