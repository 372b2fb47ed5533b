"""quota match (libxt_quota): true until a byte budget is spent (inverted: once it is).

Semantics (xt_quota): the rule holds while what is left of its budget covers the packet's
length, and takes the length off. What is left is live state: an assumption of kind `quota`
(holds = the packet fits in what is left), except that a packet longer than the whole budget
never fits. Each evaluation takes its length off, so a rule the path meets twice is assumed
anew at each visit (`Assume.per_visit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._cnum import U64
from ._pred import conj
from ._xtopt import need, once, xt_uint_arg
from .base import ExtContext, Extension, OptArg, OptSpec, RenderContext, register

__all__ = ["QuotaMatch"]

MAX_LENGTH = 0xFFFF


@dataclass(frozen=True, slots=True)
class QuotaMatch(ExtOptions):
    """`[!] --quota BYTES`: the budget the rule starts with (shared by its packets)."""

    quota: int
    invert: bool = False


@register
class Quota(Extension):
    """Assumption kind `quota`: holds = what is left of the budget covers the packet's length."""

    names = ("quota",)
    options = (OptSpec("quota", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> QuotaMatch:
        opts = once(args)
        need(opts, "quota")
        arg = opts["quota"]
        return QuotaMatch(xt_uint_arg(arg, 0, U64), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, QuotaMatch)
        return f"{' !' if options.invert else ''} --quota {options.quota}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, QuotaMatch)
        q = options.quota
        fits: Pred = ctx.assume(
            "quota", f"quota: the packet fits in what is left of {q} bytes",
            f"quota: what is left of {q} bytes is less than the packet", per_visit=True)
        if q < MAX_LENGTH:
            fits = conj(Test("length", IntSet.range(0, q, MAX_LENGTH),
                             f"length ≤ {q} (the quota)", f"length > {q} (the quota)"), fits)
        return invert_if(options.invert, fits)
