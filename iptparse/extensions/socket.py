"""socket match (libxt_socket, revision 3): the packet belongs to a local socket.

The kernel looks the socket up at PREROUTING and INPUT only. The three flags refine that
lookup: --transparent wants IP_TRANSPARENT sockets, --nowildcard also accepts listeners bound
to the any-address, and --restore-skmark copies the socket's mark onto the packet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._c_rule import need_hooks
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
        return need_hooks(ctx, ("PREROUTING", "INPUT"), "-m socket")
