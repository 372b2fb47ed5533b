"""SYNPROXY (libxt_SYNPROXY): answer SYNs with syncookies before the server sees them.

--mss is read as 32 bits and stored in 16 (65536 is 0), --wscale as 8 bits; both are printed
whenever given, zero included. The kernel needs `-p tcp` and the INPUT or FORWARD hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._d_check import need_hooks, need_protocols
from ._d_num import U32, xt_uint_arg
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
