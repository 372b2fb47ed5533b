"""quota match (libxt_quota): true until a byte budget is spent (inverted: once it is)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._a_num import U64
from ._a_opts import need, once, uint
from .base import ExtContext, Extension, OptArg, OptSpec, RenderContext, register

__all__ = ["QuotaMatch"]


@dataclass(frozen=True, slots=True)
class QuotaMatch(ExtOptions):
    """`[!] --quota BYTES`: the budget the rule starts with (shared by its packets)."""

    quota: int
    invert: bool = False


@register
class Quota(Extension):
    names = ("quota",)
    options = (OptSpec("quota", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> QuotaMatch:
        opts = once(args)
        need(opts, "quota")
        arg = opts["quota"]
        return QuotaMatch(uint(arg, 0, U64), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, QuotaMatch)
        return f"{' !' if options.invert else ''} --quota {options.quota}"
