"""pkttype match (libxt_pkttype): the link-layer packet class (skb->pkt_type).

Names are case-insensitive and have aliases (host, bcast, mcast); iptables-save prints the
first name of the class.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
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
