"""pkttype match (libxt_pkttype): the link-layer packet class (skb->pkt_type).

Names are case-insensitive and have aliases (host, bcast, mcast); iptables-save prints the
first name of the class.

Semantics (xt_pkttype): the class the link layer gave the packet (field `pkttype`: what the
frame's destination MAC was) equals the given one, `!` inverts. A locally generated packet
(no input interface) is always of class unicast (PACKET_HOST). Multicast and broadcast that
the host loops back to itself reach the match as PACKET_LOOPBACK, which the kernel reports as
multicast or broadcast by the destination address: give `pkttype` accordingly.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..fields import PKT_TYPES
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ._pred import conj, disj, invert, is_local, neg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    one_of,
    register,
)

__all__ = ["PacketType", "PktTypeMatch"]


class PacketType(enum.IntEnum):
    """The kernel's PACKET_* values."""

    UNICAST = 0  # PACKET_HOST
    BROADCAST = 1
    MULTICAST = 2
    OTHERHOST = 3


_BY_NAME = {
    "unicast": PacketType.UNICAST, "broadcast": PacketType.BROADCAST,
    "multicast": PacketType.MULTICAST, "otherhost": PacketType.OTHERHOST,
    "bcast": PacketType.BROADCAST, "mcast": PacketType.MULTICAST, "host": PacketType.UNICAST,
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class PktTypeMatch(ExtOptions):
    pkt_type: PacketType
    invert: bool = False


@register
class PktType(Extension):
    """Field `pkttype` (unicast for packets without an input interface)."""

    names = ("pkttype",)
    options = (OptSpec("pkt-type", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> PktTypeMatch:
        arg = one_of(args).get("pkt-type")
        if arg is None:
            raise OptionError("option --pkt-type must be specified")
        found = _BY_NAME.get(arg.value.translate(_ASCII_LOWER))
        if found is None:
            raise OptionError(f"bad packet type `{arg.value}' (unicast, broadcast, multicast "
                              f"or otherhost)", arg.value_column())
        return PktTypeMatch(found, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, PktTypeMatch)
        return f"{' !' if options.invert else ''} --pkt-type {options.pkt_type.name.lower()}"

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, PktTypeMatch)
        name = options.pkt_type.name.lower()
        wanted = PKT_TYPES.index(name)
        same = Test("pkttype", IntSet.single(wanted, len(PKT_TYPES) - 1),
                    f"pkttype = {name}", f"pkttype ≠ {name}")
        local = is_local()
        if options.pkt_type is PacketType.UNICAST:
            holds = disj(local, same)
        else:
            holds = conj(neg(local), same)
        return invert(holds, options.invert)
