"""tcpmss match (libxt_tcpmss): the MSS option of a TCP SYN lies in a range.

Unlike --length, the range must be in order (iptables refuses 65535:1000); the match is
registered for TCP only, so the rule needs `-p tcp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._b_check import need_protocol
from ._b_num import Range, format_range, parse_range_option
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = ["Tcpmss", "TcpmssMatch"]


@dataclass(frozen=True, slots=True)
class TcpmssMatch(ExtOptions):
    """Matches when the MSS is within `mss` (inclusive), negated by `invert`."""

    mss: Range
    invert: bool = False


@register
class Tcpmss(Extension):
    names = ("tcpmss",)
    options = (OptSpec("mss", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TcpmssMatch:
        arg = one_of(args).get("mss")
        if arg is None:
            raise OptionError("--mss is required")
        mss = parse_range_option(arg, 0xFFFF)
        if mss[0] > mss[1]:
            raise OptionError(f"invalid MSS range `{arg.value}': {mss[0]} is greater than "
                              f"{mss[1]}", arg.value_column())
        return TcpmssMatch(mss, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TcpmssMatch)
        return f"{' !' if options.invert else ''} --mss {format_range(options.mss)}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 6, "tcp")
