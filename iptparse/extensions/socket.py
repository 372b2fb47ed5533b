"""socket match (libxt_socket, revision 3): the packet belongs to a local socket.

The kernel looks the socket up at PREROUTING and INPUT only. The three flags refine that
lookup: --transparent wants IP_TRANSPARENT sockets, --nowildcard also accepts listeners bound
to the any-address, and --restore-skmark copies the socket's mark onto the packet.

Semantics (xt_socket). Only TCP, UDP and ICMP errors quoting a TCP or UDP header (IPv4 types
3, 4, 5, 11, 12; ICMPv6 types below 128) can be looked up: anything else never matches.
Whether a socket of this host fits the packet is host state no dump shows: the assumption
`socket` ("a local socket ... takes the packet"), pinned per rule, whose text says which
sockets count. Not modelled: the mark --restore-skmark copies from the socket (iptparse has no
way for a match to change a field; the mark stays as it was on the path, which is exact only
when the socket's mark equals it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions, Family
from ._checks import only_at_hooks
from ._pred import conj, disj
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

__all__ = ["SocketMatch"]


@dataclass(frozen=True, slots=True)
class SocketMatch(ExtOptions):
    transparent: bool = False
    nowildcard: bool = False
    restore_skmark: bool = False


@register
class Socket(Extension):
    """Assumption kind `socket` (holds = a local socket of the kinds the flags ask for takes
    the packet)."""

    names = ("socket",)
    options = (OptSpec("transparent", 0), OptSpec("nowildcard", 0),
               OptSpec("restore-skmark", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SocketMatch:
        opts = one_of(args)
        return SocketMatch("transparent" in opts, "nowildcard" in opts,
                           "restore-skmark" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SocketMatch)
        flags = (("transparent", options.transparent), ("nowildcard", options.nowildcard),
                 ("restore-skmark", options.restore_skmark))
        return "".join(f" --{name}" for name, given in flags if given)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return only_at_hooks(ctx, ("PREROUTING", "INPUT"), "-m socket")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, SocketMatch)
        return conj(lookup_possible(ctx.family), ctx.assume(
            "socket", f"{_which(options)} takes the packet",
            f"no {_which(options).removeprefix('a ')} takes the packet"))


_ICMP_ERRORS = {Family.INET: (1, IntSet.values((3, 4, 5, 11, 12), 255)),
                Family.INET6: (58, IntSet.range(0, 127, 255))}


def lookup_possible(family: Family) -> Pred:
    """The packets nf_sk_lookup_slow_v4/v6 can look a socket up for."""
    icmp, errors = _ICMP_ERRORS[family]
    return disj(Test("proto", IntSet.values((6, 17), 255)),
                conj(Test("proto", IntSet.single(icmp, 255)),
                     Test("icmp_type", errors, "the ICMP message is an error",
                          "the ICMP message is not an error")))


def _which(options: SocketMatch) -> str:
    kind = "transparent local socket" if options.transparent else "local socket"
    listeners = ("" if options.nowildcard else
                 " (not a listener bound to the any-address)")
    return f"a {kind}{listeners}"
