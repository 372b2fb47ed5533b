"""TCPOPTSTRIP (libxt_TCPOPTSTRIP): replace TCP options by NOPs.

Options are numbers 2-255 (any C base) or the names wscale, mss, sack-permitted, sack,
timestamp, md5; iptables-save prints the set as ascending numbers, and nothing for an empty
set. The kernel needs `-p tcp` and the mangle table.

Semantics (xt_TCPOPTSTRIP.c): on the first fragment each listed option present is overwritten
with NOPs, so it is gone and a NOP (kind 1) is present; the packet goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import And
from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect, SetBits
from ._checks import need_protocols
from ._cnum import xt_uint
from ._d_sem import tcp_option
from ._pred import first_fragment
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

__all__ = ["TCP_OPTION_NAMES", "TcpoptstripTarget"]

TCP_OPTION_NAMES = {"wscale": 3, "mss": 2, "sack-permitted": 4, "sack": 5, "timestamp": 8,
                    "md5": 19}


@dataclass(frozen=True, slots=True)
class TcpoptstripTarget(ExtOptions):
    options: frozenset[int] = frozenset()


def _strip_options(arg: OptArg) -> frozenset[int]:
    found: set[int] = set()
    for word in arg.value.split(","):
        value = TCP_OPTION_NAMES.get(word)
        if value is None:
            value = xt_uint(word, 0, 255)
        if value is None:
            raise OptionError(f"Bad TCP option value \"{word}\"", arg.value_column())
        if value < 2:
            raise OptionError("Option value may not be 0 or 1", arg.value_column())
        if value in found:
            raise OptionError(f"Option \"{word}\" already specified", arg.value_column())
        found.add(value)
    return frozenset(found)


@register
class Tcpoptstrip(Extension):
    kind = "target"
    names = ("TCPOPTSTRIP",)
    tables = frozenset({"mangle"})
    options = (OptSpec("strip-options", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TcpoptstripTarget:
        opts = one_of(args)
        if "strip-options" not in opts:
            return TcpoptstripTarget()
        return TcpoptstripTarget(_strip_options(opts["strip-options"]))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TcpoptstripTarget)
        if not options.options:
            return ""
        return " --strip-options " + ",".join(str(n) for n in sorted(options.options))

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocols(ctx, (6,), "tcp")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, TcpoptstripTarget)
        strip = sum(1 << kind for kind in options.options)
        if not strip:
            return Effect(note="TCPOPTSTRIP without options changes nothing")
        listed = ",".join(str(kind) for kind in sorted(options.options))
        what = f"TCP option {listed}" if len(options.options) == 1 else (
            f"one of the TCP options {listed}")
        return Effect(changes=(SetBits("tcp_options", 1 << 1, strip | 1 << 1),),
                      note=f"replace TCP options {listed} by NOPs",
                      when=And((first_fragment(), tcp_option(strip, what))),
                      otherwise=Effect(note="none of the options to strip is present"))
