"""TOS (libxt_TOS, revision 1): set bits of the IPv4 TOS / IPv6 priority byte.

As with MARK, every spelling becomes `tos = (tos & ~mask) ^ value` and iptables-save prints
`--set-tos 0xVV/0xMM`. A bare number implies mask 0xff; a symbolic name (IPv4's old TOS names)
implies 0x3f, so it leaves the ECN bits alone.

Semantics (xt_DSCP.c, tos_tg): that operation on the TOS byte (IPv6: the traffic class); the
packet goes on. The result stays tied to the input TOS (`logic.Moved`): exact when the input
is known, and a later `-m tos` or `-m dscp` narrows the TOS the packet came with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._cnum import xt_strtoul, xt_uint
from ._d_sem import rewrite_byte, xmark_text
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

__all__ = ["TOS_NAMES", "TosTarget"]

TOS_NAMES = {"minimize-delay": 0x10, "maximize-throughput": 0x08,
             "maximize-reliability": 0x04, "minimize-cost": 0x02, "normal-service": 0x00}
_OPERATIONS = ("set-tos", "and-tos", "or-tos", "xor-tos")


@dataclass(frozen=True, slots=True)
class TosTarget(ExtOptions):
    """`tos = (tos & ~mask) ^ value` (8 bits)."""

    value: int
    mask: int


def parse_tosmask(arg: OptArg) -> tuple[int, int]:
    """XTTYPE_TOSMASK: `value[/mask]` in any C base, or a symbolic name."""
    text = arg.value
    got = xt_strtoul(text, 0, 0xFF, whole=False)
    if got is not None:
        value, rest = got.value, text[got.end:]
        if not rest:
            return value, 0xFF
        mask = xt_uint(rest[1:], 0, 0xFF) if rest[0] == "/" else None
        if mask is None:
            raise OptionError(f"Illegal value: \"{text}\"", arg.value_column())
        return value, mask
    named = TOS_NAMES.get(text.lower())
    if named is None:
        raise OptionError(f"Symbolic name \"{text}\" is unknown", arg.value_column())
    return named, 0x3F


@register
class Tos(Extension):
    kind = "target"
    names = ("TOS",)
    tables = frozenset({"mangle"})
    options = tuple(OptSpec(name, 1) for name in _OPERATIONS)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TosTarget:
        arg = exclusive(args, _OPERATIONS)
        if arg is None:
            raise OptionError("TOS: An action is required")
        if arg.name == "set-tos":
            return TosTarget(*parse_tosmask(arg))
        bits = xt_uint_arg(arg, 0, 0xFF)
        if arg.name == "and-tos":
            return TosTarget(0, 0xFF ^ bits)
        if arg.name == "or-tos":
            return TosTarget(bits, bits)
        return TosTarget(bits, 0)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TosTarget)
        return f" --set-tos {options.value:#04x}/{options.mask:#04x}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, TosTarget)
        value, mask = options.value, options.mask
        return Effect(changes=(rewrite_byte("tos", value, mask),),
                      note=xmark_text("tos", value, mask, 8))
