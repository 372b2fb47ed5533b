"""rpfilter match (libxt_rpfilter): reverse-path filtering by a route lookup of the source.

Four independent flags. The kernel only accepts the match in the PREROUTING chain of the raw
and mangle tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._c_rule import need_hooks, need_tables
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = ["RpfilterMatch"]


@dataclass(frozen=True, slots=True)
class RpfilterMatch(ExtOptions):
    loose: bool = False
    validmark: bool = False
    accept_local: bool = False
    invert: bool = False


@register
class Rpfilter(Extension):
    names = ("rpfilter",)
    options = (OptSpec("loose", 0), OptSpec("validmark", 0), OptSpec("accept-local", 0),
               OptSpec("invert", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RpfilterMatch:
        opts = one_of(args)
        return RpfilterMatch("loose" in opts, "validmark" in opts, "accept-local" in opts,
                             "invert" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RpfilterMatch)
        flags = (("loose", options.loose), ("validmark", options.validmark),
                 ("accept-local", options.accept_local), ("invert", options.invert))
        return "".join(f" --{name}" for name, given in flags if given)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return (need_tables(ctx, ("raw", "mangle"), "-m rpfilter")
                or need_hooks(ctx, ("PREROUTING",), "-m rpfilter"))
