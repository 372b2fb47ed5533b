"""TCPMSS (libxt_TCPMSS): rewrite the MSS option of TCP SYN packets.

The kernel refuses the target unless the rule has a `tcp` match whose --tcp-flags compare value
includes SYN (not negated); it looks only at the compare bits, so `--tcp-flags ACK SYN` passes.
--set-mss and --clamp-mss-to-pmtu may both be given and the last wins (iptables keeps one
field); clamping is only allowed at FORWARD, OUTPUT and POSTROUTING.

Semantics (xt_TCPMSS.c): on a non-first fragment nothing happens. A packet with an MSS option
gets `tcp_mss = min(tcp_mss, new)` (the kernel never raises it). A packet without one gets an
MSS option of `min(new, 536)` (IPv6: 1220), 4 bytes longer, unless it carries payload or its
header has no room: the header length is no packet field, so that is an assumption of kind
`tcpmss-add` ("the packet has no payload and room for an option"). With
--clamp-mss-to-pmtu the new MSS is the path MTU minus 40 (IPv6: 60), which routes do not say:
the MSS becomes a fresh value no larger than before (without an option: at most 536, and
exactly 1220 for IPv6, whose MTU is at least 1280).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet, ValueSet
from ..logic import And
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect, SetBits, SetFrom, SetValue
from ._checks import need_hooks, need_protocols
from ._d_sem import tcp_option
from ._pred import first_fragment
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    register,
)
from .tcpudp import TcpMatch

__all__ = ["TcpmssTarget"]

_TCP_SYN = 0x02


@dataclass(frozen=True, slots=True)
class TcpmssTarget(ExtOptions):
    """`clamp`: MSS from the path MTU (minus 40 / 60); else lower the MSS to `mss`."""

    mss: int = 0
    clamp: bool = False


def _once(args: Sequence[OptArg]) -> None:
    seen: set[str] = set()
    for arg in args:
        if arg.name in seen:
            raise OptionError(f"option \"--{arg.name}\" can only be used once", arg.column)
        seen.add(arg.name)


@register
class Tcpmss(Extension):
    kind = "target"
    names = ("TCPMSS",)
    check_reads_matches = True  # a tcp SYN match must come before it
    options = (OptSpec("set-mss", 1), OptSpec("clamp-mss-to-pmtu", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TcpmssTarget:
        _once(args)
        if not args:
            raise OptionError("TCPMSS target: At least one parameter is required")
        result = TcpmssTarget()
        top = 65515 if ctx.family is Family.INET else 65495
        for arg in args:
            if arg.name == "set-mss":
                result = TcpmssTarget(xt_uint_arg(arg, 0, top))
            else:
                result = TcpmssTarget(clamp=True)
        return result

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TcpmssTarget)
        return " --clamp-mss-to-pmtu" if options.clamp else f" --set-mss {options.mss}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, TcpmssTarget)
        if options.clamp:
            problem = need_hooks(ctx, ("FORWARD", "OUTPUT", "POSTROUTING"),
                                 "--clamp-mss-to-pmtu")
            if problem:
                return problem
        problem = need_protocols(ctx, (6,), "tcp")
        if problem:
            return problem
        for match in ctx.matches:
            opts = match.options
            if match.module == "tcp" and isinstance(opts, TcpMatch) and \
                    opts.flags_compare & _TCP_SYN and not opts.flags_invert:
                return None
        return "only works on TCP SYN packets: add `-m tcp --tcp-flags SYN,RST SYN' (or --syn)"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, TcpmssTarget)
        default = 536 if ctx.family is Family.INET else 1220
        clamp = options.clamp
        new = options.mss
        what = "the path MTU minus the headers" if clamp else str(new)

        def lowered(values: tuple[ValueSet, ...]) -> ValueSet:
            current = values[0]
            assert isinstance(current, IntSet)
            if clamp:  # some value no larger than before
                return IntSet.range(0, current.ranges[-1][1], 0xFFFF)
            return IntSet([(min(lo, new), min(hi, new)) for lo, hi in current.ranges], 0xFFFF)

        if clamp:
            added = IntSet.single(default, 0xFFFF) if default == 1220 else IntSet.range(
                0, default, 0xFFFF)
        else:
            added = IntSet.single(min(new, default), 0xFFFF)

        def longer(values: tuple[ValueSet, ...]) -> ValueSet:
            current = values[0]
            assert isinstance(current, IntSet)
            return IntSet([(min(lo + 4, 0xFFFF), min(hi + 4, 0xFFFF))
                           for lo, hi in current.ranges], 0xFFFF)

        room = ctx.assume("tcpmss-add", "the packet has no payload and room for an MSS option",
                          "the packet has payload or no room for an MSS option")
        add = Effect(
            changes=(SetBits("tcp_options", 1 << 2, 1 << 2),
                     SetValue("tcp_mss", added),
                     SetFrom("length", ("length",), longer)),
            note=f"add an MSS option of at most {default} ({what})",
            when=And((first_fragment(), room)),
            otherwise=Effect(note="TCPMSS leaves the packet as it is"))
        return Effect(changes=(SetFrom("tcp_mss", ("tcp_mss",), lowered),),
                      note=f"lower the MSS option to {what} (never raises it)",
                      when=And((first_fragment(), tcp_option(1 << 2, "an MSS option"))),
                      otherwise=add)
