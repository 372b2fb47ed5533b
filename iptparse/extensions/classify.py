"""CLASSIFY (libxt_CLASSIFY): set skb->priority, the tc class `major:minor`.

iptables reads both halves with sscanf("%x:%x"): always hexadecimal, `0x` optional, blanks and a
sign allowed, anything after the second number ignored, and each half cut to 16 bits (10000:1
is 0000:0001). iptables-save prints four hex digits each. The kernel allows it only at FORWARD,
OUTPUT and POSTROUTING, in any table.

Semantics (xt_CLASSIFY.c): skb->priority becomes the class; the packet goes on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect, SetValue
from ._checks import need_hooks
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

__all__ = ["ClassifyTarget"]

_HEX = r"\s*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)"
_CLASS = re.compile(_HEX + ":" + _HEX)


@dataclass(frozen=True, slots=True)
class ClassifyTarget(ExtOptions):
    """skb->priority = (major << 16) | minor."""

    priority: int

    @property
    def major(self) -> int:
        return self.priority >> 16

    @property
    def minor(self) -> int:
        return self.priority & 0xFFFF


def _half(sign: str, digits: str) -> int:
    value = int(digits, 16)
    if value > 0xFFFFFFFF:
        value = 0xFFFFFFFF  # %x into an unsigned int saturates
    if sign == "-":
        value = -value
    return value & 0xFFFF


def parse_class(arg: OptArg) -> int:
    m = _CLASS.match(arg.value)
    if m is None:
        raise OptionError(f"Bad class value \"{arg.value}\"", arg.value_column())
    return (_half(m.group(1), m.group(2)) << 16) | _half(m.group(3), m.group(4))


@register
class Classify(Extension):
    kind = "target"
    names = ("CLASSIFY",)
    options = (OptSpec("set-class", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ClassifyTarget:
        opts = one_of(args)
        if "set-class" not in opts:
            raise OptionError("option \"--set-class\" must be specified")
        return ClassifyTarget(parse_class(opts["set-class"]))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ClassifyTarget)
        return f" --set-class {options.major:04x}:{options.minor:04x}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_hooks(ctx, ("FORWARD", "OUTPUT", "POSTROUTING"))

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, ClassifyTarget)
        return Effect(changes=(SetValue("priority", IntSet.single(options.priority, 0xFFFFFFFF)),),
                      note=f"priority = {options.major:x}:{options.minor:x} (tc class)")
