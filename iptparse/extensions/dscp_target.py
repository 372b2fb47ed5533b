"""DSCP (libxt_DSCP): set the 6-bit DiffServ code point of the IPv4 TOS / IPv6 traffic class.

--set-dscp takes 0-63 in any C base; --set-dscp-class takes a class name (CS0-CS7, AF11-AF43,
BE, EF, any case). iptables-save always prints `--set-dscp 0x%02x`.

Semantics (xt_DSCP.c): the upper six bits of the TOS byte (IPv6 traffic class) become the code
point, the two ECN bits stay; the packet goes on. The result stays tied to the input TOS
(its ECN bits are the input's), exact when that is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._d_sem import rewrite_byte
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

__all__ = ["DSCP_CLASSES", "DscpTarget"]

#: DiffServ class names and their code points (libxt_dscp_helper.c).
DSCP_CLASSES = {
    "CS0": 0x00, "CS1": 0x08, "CS2": 0x10, "CS3": 0x18, "CS4": 0x20, "CS5": 0x28,
    "CS6": 0x30, "CS7": 0x38, "BE": 0x00,
    "AF11": 0x0A, "AF12": 0x0C, "AF13": 0x0E, "AF21": 0x12, "AF22": 0x14, "AF23": 0x16,
    "AF31": 0x1A, "AF32": 0x1C, "AF33": 0x1E, "AF41": 0x22, "AF42": 0x24, "AF43": 0x26,
    "EF": 0x2E,
}


@dataclass(frozen=True, slots=True)
class DscpTarget(ExtOptions):
    dscp: int


@register
class Dscp(Extension):
    kind = "target"
    names = ("DSCP",)
    tables = frozenset({"mangle"})
    options = (OptSpec("set-dscp", 1), OptSpec("set-dscp-class", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> DscpTarget:
        arg = exclusive(args, ("set-dscp", "set-dscp-class"))
        if arg is None:
            raise OptionError("DSCP target: Parameter --set-dscp is required")
        if arg.name == "set-dscp":
            return DscpTarget(xt_uint_arg(arg, 0, 63))
        value = DSCP_CLASSES.get(arg.value.upper())
        if value is None:
            raise OptionError(f"Invalid DSCP value `{arg.value}'", arg.value_column())
        return DscpTarget(value)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, DscpTarget)
        return f" --set-dscp {options.dscp:#04x}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, DscpTarget)
        field = options.dscp << 2
        return Effect(changes=(rewrite_byte("tos", field, 0xFC),),
                      note=f"dscp = {options.dscp:#04x} (tos = (tos & 0x03) | {field:#04x})")
