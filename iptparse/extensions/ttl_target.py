"""TTL and HL (libipt_TTL, libip6t_HL): set, raise or lower the IPv4 TTL / IPv6 hop limit.

The two are the same target for two families: one option among set (0-255), inc and dec
(1-255), required, printed back as given. Both work in mangle only.

Semantics (xt_HL.c): the TTL / hop limit is set, or raised / lowered stopping at 255 / 0; the
packet goes on (a TTL of 0 is not dropped here: forwarding does that later). Exact for a known
TTL, else a fresh value among those the operation can give.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..domain import IntSet, ValueSet
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect, SetFrom, SetValue
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    register,
)
from .mark_target import exclusive

__all__ = ["HopMode", "HopTarget"]


class HopMode(enum.Enum):
    SET = "set"
    INC = "inc"
    DEC = "dec"


@dataclass(frozen=True, slots=True)
class HopTarget(ExtOptions):
    """TTL / hop limit: set to `value`, or add / subtract `value` (the kernel stops at 0/255)."""

    mode: HopMode
    value: int


class _Hop(Extension):
    kind = "target"
    tables = frozenset({"mangle"})
    prefix: ClassVar[str] = ""

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> HopTarget:
        arg = exclusive(args, [spec.name for spec in self.options])
        if arg is None:
            raise OptionError(f"{self.names[0]}: You must specify an action")
        mode = HopMode(arg.name.rsplit("-", 1)[1])
        return HopTarget(mode, xt_uint_arg(arg, 0 if mode is HopMode.SET else 1, 255))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, HopTarget)
        return f" --{self.prefix}-{options.mode.value} {options.value}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, HopTarget)
        name = "ttl" if self.prefix == "ttl" else "hop limit"
        step = options.value
        if options.mode is HopMode.SET:
            return Effect(changes=(SetValue("ttl", IntSet.single(step, 0xFF)),),
                          note=f"{name} = {step}")
        down = options.mode is HopMode.DEC

        def rewrite(values: tuple[ValueSet, ...]) -> ValueSet:
            current = values[0]
            assert isinstance(current, IntSet)
            if down:
                return IntSet([(max(lo - step, 0), max(hi - step, 0))
                               for lo, hi in current.ranges], 0xFF)
            return IntSet([(min(lo + step, 0xFF), min(hi + step, 0xFF))
                           for lo, hi in current.ranges], 0xFF)

        sign, bound = ("-", "0") if down else ("+", "255")
        change = SetFrom("ttl", ("ttl",), rewrite, step=-step if down else step)
        return Effect(changes=(change,), note=f"{name} {sign}= {step} (stops at {bound})")


@register
class Ttl(_Hop):
    names = ("TTL",)
    families = frozenset({Family.INET})
    options = (OptSpec("ttl-set", 1), OptSpec("ttl-dec", 1), OptSpec("ttl-inc", 1))
    prefix = "ttl"


@register
class Hl(_Hop):
    names = ("HL",)
    families = frozenset({Family.INET6})
    options = (OptSpec("hl-set", 1), OptSpec("hl-dec", 1), OptSpec("hl-inc", 1))
    prefix = "hl"
