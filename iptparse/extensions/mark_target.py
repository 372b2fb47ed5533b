"""MARK (libxt_MARK, revision 2): set the packet mark.

Every spelling becomes the kernel's one operation, `mark = (mark & ~mask) ^ value`, and
iptables-save prints that pair as `--set-xmark value/mask`: `--set-mark 1` is 0x1/0xffffffff,
`--or-mark 3` is 0x3/0x3, `--and-mark 0xf` is 0x0/0xfffffff0, `--xor-mark 3` is 0x3/0x0.

Semantics (xt_mark.c): exactly that operation on the packet mark; the packet goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect, SetBits
from ._cnum import U32
from ._d_sem import xmark_text
from ._xtopt import parse_markmask, xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    register,
)

__all__ = ["MarkTarget", "apply_xmark", "xmark_from"]

MARK_OPERATIONS = ("set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark")


@dataclass(frozen=True, slots=True)
class MarkTarget(ExtOptions):
    """`mark = (mark & ~mask) ^ value` (32 bits)."""

    value: int
    mask: int

    def apply(self, mark: int) -> int:
        return apply_xmark(mark, self.value, self.mask)


def apply_xmark(mark: int, value: int, mask: int) -> int:
    return ((mark & ~mask) ^ value) & U32


def xmark_from(arg: OptArg) -> tuple[int, int]:
    """The (value, mask) pair one of the five mark operations stands for."""
    if arg.name == "set-xmark":
        return parse_markmask(arg)
    if arg.name == "set-mark":
        value, mask = parse_markmask(arg)
        return value, value | mask
    bits = xt_uint_arg(arg, 0, U32)
    if arg.name == "and-mark":
        return 0, U32 ^ bits
    if arg.name == "or-mark":
        return bits, bits
    return bits, 0  # xor-mark


def exclusive(args: Sequence[OptArg], names: Sequence[str]) -> OptArg | None:
    """The one operation among `names` (iptables: "cannot be used together")."""
    found: OptArg | None = None
    for arg in args:
        if arg.name not in names:
            continue
        if found is not None:
            if found.name == arg.name:
                raise OptionError(f"option \"--{arg.name}\" can only be used once", arg.column)
            raise OptionError(f"option \"--{found.name}\" cannot be used together with "
                              f"\"--{arg.name}\"", arg.column)
        found = arg
    return found


@register
class Mark(Extension):
    kind = "target"
    names = ("MARK",)
    options = tuple(OptSpec(name, 1) for name in MARK_OPERATIONS)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> MarkTarget:
        arg = exclusive(args, MARK_OPERATIONS)
        if arg is None:
            raise OptionError("One of the --set-xmark, --{and,or,xor,set}-mark options is "
                              "required")
        return MarkTarget(*xmark_from(arg))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, MarkTarget)
        return f" --set-xmark {options.value:#x}/{options.mask:#x}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, MarkTarget)
        return Effect(changes=(SetBits("mark", options.value, options.mask),),
                      note=xmark_text("mark", options.value, options.mask, 32))
