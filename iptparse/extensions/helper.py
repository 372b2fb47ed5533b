"""helper match (libxt_helper): the conntrack helper that created the connection's master.

The kernel compares the helper's name (`ftp`, `sip`, …) with a char[30]; iptables cuts longer
names to 29 bytes without a word, so a dump only ever holds the kept part.

Semantics (xt_helper): the helper asked about is the one of the connection's *master*, the
connection that expected this one (an FTP data connection's master is the control connection,
whose helper is `ftp`); the packet field `cthelper` holds that name, empty when there is none.
A connection has a master only from its first packet on, which conntrack calls RELATED (NEW
connections never have one). Without a connection, master or helper the match gives its `!`
flag; otherwise it holds when the rule's name starts with the helper's name (the kernel compares
strlen(helper) bytes), or for an empty name whatever the helper is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..domain import NameSet
from ..logic import Not, Pred, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import ESTABLISHED, RELATED, invert_if, states
from ._a_text import truncate
from ._pred import conj
from ._xtopt import need, once
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

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, HelperMatch)
        name = options.name
        if name:
            helpers = NameSet([(name[:n], False) for n in range(1, len(name) + 1)])
            prefix = "" if len(name) == 1 else " (or a prefix of it)"
            helper: Pred = Test("cthelper", helpers,
                                f"the connection's master has helper {name}{prefix}",
                                f"the connection's master has not helper {name}{prefix}")
        else:
            helper = Not(Test("cthelper", NameSet.single(""),
                              "the connection has no master with a helper",
                              "the connection's master has a helper"))
        return invert_if(options.invert, conj(states(ESTABLISHED, RELATED), helper))
