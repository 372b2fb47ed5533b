"""mark and connmark matches (libxt_mark, libxt_connmark): a 32-bit mark under a mask.

Both compare `(mark & mask) == value` — the packet's nfmark for `mark`, the connection's ctmark
for `connmark` — and iptables-save prints both in hex, the mask only when it is not all ones.
The value is kept as given (not masked): the kernel stores and prints it that way, and a value
with bits outside the mask simply never matches.

Semantics: `mark` tests the packet's current mark (after every MARK/CONNMARK on the path: the
interpreter carries the arithmetic); `connmark` needs a connection (xt_connmark returns false
without one, `!` or not), then tests the connection's mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import bits_test, has_connection, invert_if
from ._cnum import U32, xt_strtoul
from ._pred import conj
from ._xtopt import need, once
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["MarkMatch", "format_mark", "parse_mark_mask"]


@dataclass(frozen=True, slots=True)
class MarkMatch(ExtOptions):
    """`[!] --mark value[/mask]`: true when (mark & mask) == value, negated by `invert`."""

    value: int
    mask: int = U32
    invert: bool = False

    def matches(self, mark: int) -> bool:
        return ((mark & self.mask) == self.value) != self.invert


def parse_mark_mask(arg: OptArg, index: int = 0) -> tuple[int, int]:
    """`value[/mask]`, each a u32 in strtoul(…, 0) syntax (xtables_parse_mark_mask)."""
    text = arg.values[index]
    column = arg.value_column(index)
    got = xt_strtoul(text, 0, U32, whole=False)
    if got is None:
        raise OptionError(f'bad integer value for option "--{arg.name}", or out of range',
                          column)
    value, end = got.value, got.end
    mask = U32
    if text[end : end + 1] == "/":
        got = xt_strtoul(text, 0, U32, whole=False, start=end + 1)
        if got is None:
            raise OptionError(f'bad integer value for option "--{arg.name}", or out of range',
                              column + end + 1)
        mask, end = got.value, got.end
    if end != len(text):
        raise OptionError(f'trailing garbage after value for option "--{arg.name}"',
                          column + end)
    return value, mask


def format_mark(value: int, mask: int) -> str:
    """`0xVALUE` or `0xVALUE/0xMASK`, as the mark modules print them."""
    return f"0x{value:x}" if mask == U32 else f"0x{value:x}/0x{mask:x}"


class _MarkBase(Extension):
    options = (OptSpec("mark", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> MarkMatch:
        opts = once(args)
        need(opts, "mark")
        arg = opts["mark"]
        value, mask = parse_mark_mask(arg)
        return MarkMatch(value, mask, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, MarkMatch)
        bang = " !" if options.invert else ""
        return f"{bang} --mark {format_mark(options.value, options.mask)}"


@register
class Mark(_MarkBase):
    """The packet's netfilter mark (skb->mark)."""

    names = ("mark",)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, MarkMatch)
        return invert_if(options.invert,
                         bits_test("mark", options.value, options.mask, 32, "mark"))


@register
class Connmark(_MarkBase):
    """The connection's mark (ct->mark), set by CONNMARK."""

    names = ("connmark",)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, MarkMatch)
        test = bits_test("ctmark", options.value, options.mask, 32, "ctmark")
        return conj(has_connection(), invert_if(options.invert, test))
