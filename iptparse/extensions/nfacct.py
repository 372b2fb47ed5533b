"""nfacct match (libxt_nfacct): counts the rule's packets in a named nfacct object; always true.

The kernel refuses a name with no nfacct object behind it, which only the live system knows.
iptables 1.8.9 prints two spaces before the name (its save routine adds one of its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..logic import TRUE, Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_text import truncate
from ._xtopt import need, once
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["NfacctMatch"]

NFACCT_NAME_SIZE = 32


@dataclass(frozen=True, slots=True)
class NfacctMatch(ExtOptions):
    """`--nfacct-name NAME`: the accounting object the rule's packets are added to."""

    name: str


@register
class Nfacct(Extension):
    names = ("nfacct",)
    options = (OptSpec("nfacct-name", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NfacctMatch:
        opts = once(args)
        need(opts, "nfacct-name")
        arg = opts["nfacct-name"]
        if not arg.value:
            raise OptionError("Argument must have a minimum length of 1 characters",
                              arg.value_column())
        return NfacctMatch(truncate(arg.value, NFACCT_NAME_SIZE))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NfacctMatch)
        return f" --nfacct-name  {save_string(options.name)}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        """xt_nfacct adds the packet to the object's counters and always matches."""
        return TRUE
