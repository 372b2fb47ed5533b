"""ecn match (libxt_ecn): the TCP ECE and CWR flags and the IP header's ECN field.

Each TCP flag test is a tri-state for the interpreter: None (not tested), True (must be set)
or False (must be clear, written `! --ecn-tcp-ece`). The TCP tests need `-p tcp`.

Semantics (xt_ecn): `(tos & 3) == ect ^ !` on the IPv4 TOS byte or IPv6 traffic class, and the
TCP ECE / CWR flags set or clear. The kernel reads the TCP header without checking for a later
fragment, whose bytes at that offset are payload: for `fragment=1` the TCP part is the
assumption kind `ecn` ("the bytes read as TCP flags pass").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import BitSet, IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._checks import need_protocol
from ._pred import conj, first_fragment, invert, when
from ._xtopt import parse_int_option
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

__all__ = ["Ecn", "EcnMatch", "ecn_predicate"]


@dataclass(frozen=True, slots=True)
class EcnMatch(ExtOptions):
    """`ece`/`cwr`: required TCP flag state or None; `ip_ect`: the ECN field 0-3 (equal, or
    different with `ip_ect_invert`) or None."""

    ece: bool | None = None
    cwr: bool | None = None
    ip_ect: int | None = None
    ip_ect_invert: bool = False


def _flag(options: dict[str, OptArg], name: str) -> bool | None:
    arg = options.get(name)
    return None if arg is None else not arg.invert


def ecn_predicate(options: EcnMatch, ctx: CompileContext) -> Pred:
    parts: list[Pred] = []
    if options.ip_ect is not None:
        ect = Test("tos", IntSet.masked(options.ip_ect, 3, 8), f"ECN field = {options.ip_ect}",
                   f"ECN field ≠ {options.ip_ect}")
        parts.append(invert(ect, options.ip_ect_invert))
    flags: list[Pred] = []
    for wanted, bit, name in ((options.ece, 0x40, "ECE"), (options.cwr, 0x80, "CWR")):
        if wanted is not None:
            state, other = ("set", "clear") if wanted else ("clear", "set")
            flags.append(Test("tcp_flags", BitSet.cube(bit if wanted else 0, bit, 8),
                              f"TCP flag {name} is {state}", f"TCP flag {name} is {other}"))
    if flags:
        tcp = conj(*flags)
        payload = ctx.assume("ecn", "the later fragment's bytes read as TCP flags pass",
                             "the later fragment's bytes read as TCP flags fail")
        parts.append(when(first_fragment(), tcp, payload))
    return conj(*parts)


@register
class Ecn(Extension):
    """Assumption kind `ecn`: a later fragment's bytes at the TCP flags' offset pass."""

    names = ("ecn",)
    options = (OptSpec("ecn-tcp-cwr", 0, True), OptSpec("ecn-tcp-ece", 0, True),
               OptSpec("ecn-ip-ect", 1, True))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> EcnMatch:
        options = one_of(args)
        if not options:
            raise OptionError("one of --ecn-tcp-cwr, --ecn-tcp-ece or --ecn-ip-ect is required")
        ip_ect = None
        arg = options.get("ecn-ip-ect")
        if arg is not None:
            ip_ect = parse_int_option(arg, 0, 3)
        return EcnMatch(_flag(options, "ecn-tcp-ece"), _flag(options, "ecn-tcp-cwr"), ip_ect,
                        arg is not None and arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, EcnMatch)
        out = ""
        if options.ece is not None:
            out += f"{'' if options.ece else ' !'} --ecn-tcp-ece"
        if options.cwr is not None:
            out += f"{'' if options.cwr else ' !'} --ecn-tcp-cwr"
        if options.ip_ect is not None:
            out += f"{' !' if options.ip_ect_invert else ''} --ecn-ip-ect {options.ip_ect}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, EcnMatch)
        if options.ece is None and options.cwr is None:
            return None
        problem = need_protocol(ctx, 6, "tcp")
        return problem and "--ecn-tcp-ece and --ecn-tcp-cwr are " + problem

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, EcnMatch)
        return ecn_predicate(options, ctx)
