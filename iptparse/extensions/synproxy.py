"""SYNPROXY (libxt_SYNPROXY): answer SYNs with syncookies before the server sees them.

--mss is read as 32 bits and stored in 16 (65536 is 0), --wscale as 8 bits; both are printed
whenever given, zero included. The kernel needs `-p tcp` and the INPUT or FORWARD hook.

Semantics (ipt_SYNPROXY.c, ip6t_SYNPROXY.c), by the SYN, ACK, FIN and RST flags alone:
- a SYN (none of the others): answered with a SYN-ACK carrying a cookie; the packet itself is
  consumed (verdict STOLEN: it goes no further);
- an ACK (none of the others): if it carries a valid cookie, the kernel opens the connection to
  the server itself and consumes it (STOLEN), else drops it. Cookies depend on a secret and the
  time: an assumption of kind `synproxy` ("the ACK carries a valid SYN cookie");
- anything else goes on. A bad checksum or malformed options (dropped) are not modelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import BitSet
from ..logic import And, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._checks import need_hooks, need_protocols
from ._cnum import U32
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = ["SynproxyTarget"]


@dataclass(frozen=True, slots=True)
class SynproxyTarget(ExtOptions):
    """TCP options announced to clients; None when not set."""

    sack_perm: bool = False
    timestamp: bool = False
    wscale: int | None = None
    mss: int | None = None
    ecn: bool = False


@register
class Synproxy(Extension):
    kind = "target"
    names = ("SYNPROXY",)
    options = (OptSpec("sack-perm", 0), OptSpec("timestamp", 0), OptSpec("wscale", 1),
               OptSpec("mss", 1), OptSpec("ecn", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SynproxyTarget:
        opts = one_of(args)
        wscale = xt_uint_arg(opts["wscale"], 0, U32) & 0xFF if "wscale" in opts else None
        mss = xt_uint_arg(opts["mss"], 0, U32) & 0xFFFF if "mss" in opts else None
        return SynproxyTarget("sack-perm" in opts, "timestamp" in opts, wscale, mss,
                              "ecn" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SynproxyTarget)
        out = " --sack-perm" if options.sack_perm else ""
        if options.timestamp:
            out += " --timestamp"
        if options.wscale is not None:
            out += f" --wscale {options.wscale}"
        if options.mss is not None:
            out += f" --mss {options.mss}"
        return out + (" --ecn" if options.ecn else "")

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocols(ctx, (6,), "tcp") or need_hooks(ctx, ("INPUT", "FORWARD"))

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, SynproxyTarget)
        cookie = ctx.assume("synproxy", "the ACK carries a valid SYN cookie",
                            "the ACK carries no valid SYN cookie")
        ack = _flags(_ACK, "an ACK")
        rest = Effect(when=ack, verdict="DROP", note="SYNPROXY: an ACK without a valid cookie: "
                      "dropped", otherwise=Effect(note="SYNPROXY: neither a SYN nor an ACK: "
                                                 "goes on"))
        valid = Effect(verdict="STOLEN", when=And((ack, cookie)), otherwise=rest,
                       note="SYNPROXY: a valid cookie: the kernel connects to the server "
                       "itself and consumes the ACK")
        return Effect(verdict="STOLEN", when=_flags(_SYN, "a SYN"), otherwise=valid,
                      note="SYNPROXY: answer with a SYN-ACK cookie; the SYN goes no further")


_SYN, _ACK, _WATCHED = 0x02, 0x10, 0x17  # SYN, ACK and SYN|ACK|FIN|RST


def _flags(value: int, what: str) -> Test:
    return Test("tcp_flags", BitSet.cube(value, _WATCHED, 8), f"the packet is {what}",
                f"the packet is not {what}")
