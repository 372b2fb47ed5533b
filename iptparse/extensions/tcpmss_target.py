"""TCPMSS (libxt_TCPMSS): rewrite the MSS option of TCP SYN packets.

The kernel refuses the target unless the rule has a `tcp` match whose --tcp-flags compare value
includes SYN (not negated); it looks only at the compare bits, so `--tcp-flags ACK SYN` passes.
--set-mss and --clamp-mss-to-pmtu may both be given and the last wins (iptables keeps one
field); clamping is only allowed at FORWARD, OUTPUT and POSTROUTING.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ._d_check import need_hooks, need_protocols
from ._d_num import xt_uint_arg
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
