"""helper match (libxt_helper): the conntrack helper that created the connection's master.

The kernel compares the helper's name (`ftp`, `sip`, …) with a char[30]; iptables cuts longer
names to 29 bytes without a word, so a dump only ever holds the kept part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..nodes import ExtOptions
from ._a_opts import need, once
from ._a_text import truncate
from .base import ExtContext, Extension, OptArg, OptSpec, RenderContext, register

__all__ = ["HelperMatch"]

HELPER_NAME_SIZE = 30


@dataclass(frozen=True, slots=True)
class HelperMatch(ExtOptions):
    """`[!] --helper NAME`: the master connection's helper is NAME (empty: any helper)."""

    name: str
    invert: bool = False


@register
class Helper(Extension):
    names = ("helper",)
    options = (OptSpec("helper", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> HelperMatch:
        opts = once(args)
        need(opts, "helper")
        arg = opts["helper"]
        return HelperMatch(truncate(arg.value, HELPER_NAME_SIZE), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, HelperMatch)
        return f"{' !' if options.invert else ''} --helper {save_string(options.name)}"
