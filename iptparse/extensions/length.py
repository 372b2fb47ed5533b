"""length match (libxt_length): the packet's length lies in a range.

The kernel compares the IPv4 total length, or the length of the whole IPv6 packet (payload
length plus the 40-byte header; newer kernels take skb->len, the same for ordinary packets):
the packet as the IP layer sees it, whatever the manual page says about payloads.

ip6tables-save and iptables-save print the range even when it covers every length; the ends
are not checked for order (a range like 4:3 loads and never matches, as in iptables 1.8.9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions
from ._cnum import Range
from ._pred import in_range, invert
from ._xtopt import format_range, parse_range_option
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

__all__ = ["Length", "LengthMatch"]


@dataclass(frozen=True, slots=True)
class LengthMatch(ExtOptions):
    """Matches when the IP packet length is within `lengths` (inclusive), negated by
    `invert`."""

    lengths: Range
    invert: bool = False


@register
class Length(Extension):
    names = ("length",)
    options = (OptSpec("length", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> LengthMatch:
        arg = one_of(args).get("length")
        if arg is None:
            raise OptionError("--length is required")
        return LengthMatch(parse_range_option(arg, 0xFFFF), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, LengthMatch)
        return f"{' !' if options.invert else ''} --length {format_range(options.lengths)}"

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, LengthMatch)
        lo, hi = options.lengths
        return invert(in_range("length", lo, hi), options.invert)
