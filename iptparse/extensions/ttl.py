"""ttl (libipt_ttl) and hl (libip6t_hl): compare the IPv4 TTL or the IPv6 hop limit.

One comparison per match: equal, not equal (`! --ttl-eq`), less than or greater than; only
equality can be negated. The kernel (xt_hl) compares the header's field as the packet has it at
that hook: a forwarded packet's TTL was already decremented before the FORWARD hook.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..domain import IntSet
from ..logic import FALSE, Not, Pred, Test
from ..nodes import ExtOptions, Family
from ._xtopt import parse_int_option
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

__all__ = ["Hl", "Ttl", "TtlMatch", "TtlOp", "ttl_predicate"]


class TtlOp(enum.Enum):
    """The kernel's comparison modes, in its numbering."""

    EQ = 0
    NE = 1
    LT = 2
    GT = 3


@dataclass(frozen=True, slots=True)
class TtlMatch(ExtOptions):
    """The packet's TTL (hop limit) compared with `value` by `op`."""

    op: TtlOp
    value: int


def ttl_predicate(options: TtlMatch, label: str) -> Pred:
    value = options.value
    if options.op is TtlOp.LT:
        if value == 0:
            return FALSE
        return Test("ttl", IntSet.range(0, value - 1, 0xFF), f"{label} < {value}",
                    f"{label} ≥ {value}")
    if options.op is TtlOp.GT:
        if value == 0xFF:
            return FALSE
        return Test("ttl", IntSet.range(value + 1, 0xFF, 0xFF), f"{label} > {value}",
                    f"{label} ≤ {value}")
    equal = Test("ttl", IntSet.single(value, 0xFF), f"{label} = {value}", f"{label} ≠ {value}")
    return Not(equal) if options.op is TtlOp.NE else equal


class _Compare(Extension):
    prefix: ClassVar[str] = "ttl"

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TtlMatch:
        one_of(args)
        given = list(args)
        if not given:
            raise OptionError(f"one of --{self.prefix}-eq, --{self.prefix}-lt or "
                              f"--{self.prefix}-gt is required")
        if len(given) > 1:
            raise OptionError(f"--{given[0].name} and --{given[1].name} cannot be combined",
                              given[1].column)
        arg = given[0]
        value = parse_int_option(arg, 0, 0xFF)
        kind = arg.name.rsplit("-", 1)[1]
        if kind == "eq":
            return TtlMatch(TtlOp.NE if arg.invert else TtlOp.EQ, value)
        return TtlMatch(TtlOp.LT if kind == "lt" else TtlOp.GT, value)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TtlMatch)
        word = {TtlOp.EQ: "eq", TtlOp.NE: "eq", TtlOp.LT: "lt", TtlOp.GT: "gt"}[options.op]
        invert = " !" if options.op is TtlOp.NE else ""
        return f"{invert} --{self.prefix}-{word} {options.value}"

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, TtlMatch)
        return ttl_predicate(options, "TTL" if self.prefix == "ttl" else "hop limit")


@register
class Ttl(_Compare):
    names = ("ttl",)
    prefix = "ttl"
    families = frozenset({Family.INET})
    # `--ttl` is libipt_ttl's undocumented spelling of --ttl-eq (saved as --ttl-eq)
    options = (OptSpec("ttl-eq", 1, True, ("ttl",)), OptSpec("ttl-lt", 1), OptSpec("ttl-gt", 1))


@register
class Hl(_Compare):
    names = ("hl",)
    prefix = "hl"
    families = frozenset({Family.INET6})
    options = (OptSpec("hl-eq", 1, True, ("hl",)), OptSpec("hl-lt", 1), OptSpec("hl-gt", 1))
