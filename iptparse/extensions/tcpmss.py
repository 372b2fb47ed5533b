"""tcpmss match (libxt_tcpmss): the MSS option of a TCP SYN lies in a range.

Unlike --length, the range must be in order (iptables refuses 65535:1000); the match is
registered for TCP only, so the rule needs `-p tcp`.

Semantics (xt_tcpmss): the first MSS option (`tcp_options` has kind 2; its value is `tcp_mss`)
decides, `(mss in range) ^ !`; a packet without one matches only with `!`. Any TCP packet
counts, not only SYNs. The kernel does not check for a later fragment, whose bytes at the TCP
offset are payload: for `fragment=1` the match is the assumption kind `tcpmss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import FALSE, TRUE, Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._checks import need_protocol
from ._cnum import Range
from ._pred import bit_present, first_fragment, in_range, invert, when
from ._xtopt import format_range, parse_range_option
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

__all__ = ["Tcpmss", "TcpmssMatch", "tcpmss_predicate"]


@dataclass(frozen=True, slots=True)
class TcpmssMatch(ExtOptions):
    """Matches when the MSS is within `mss` (inclusive), negated by `invert`."""

    mss: Range
    invert: bool = False


def tcpmss_predicate(options: TcpmssMatch, ctx: CompileContext) -> Pred:
    present = bit_present("tcp_options", 2, "the packet has a TCP MSS option",
                          "the packet has no TCP MSS option")
    found = invert(in_range("tcp_mss", options.mss[0], options.mss[1], "MSS"), options.invert)
    header = when(present, found, TRUE if options.invert else FALSE)
    shown = f"{'! ' if options.invert else ''}--mss {format_range(options.mss)}"
    payload = ctx.assume("tcpmss", f"the later fragment's bytes pass {shown}",
                         f"the later fragment's bytes fail {shown}")
    return when(first_fragment(), header, payload)


@register
class Tcpmss(Extension):
    """Assumption kind `tcpmss`: a later fragment's bytes, read as TCP options, pass."""

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

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, TcpmssMatch)
        return tcpmss_predicate(options, ctx)
