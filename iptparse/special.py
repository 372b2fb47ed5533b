"""Special-purpose addresses the kernel treats apart, as value sets made once.

Routing (martians, broadcasts, multicast groups), the IPv6 stack's receipt and forwarding
checks, and `-m addrtype` all test the same few ranges; they are named here so that each is
written once, with the kernel function that defines it.
"""

from __future__ import annotations

from .domain import IntSet
from .nodes import Family

__all__ = ["ALL_HOSTS", "LIMITED_BROADCAST4", "LINK_LOCAL6", "LOOPBACK4", "LOOPBACK6",
           "MULTICAST", "MULTICAST4", "MULTICAST6", "TOP4", "TOP6", "UNSPECIFIED6", "ZERO4"]

TOP4 = (1 << 32) - 1
TOP6 = (1 << 128) - 1

#: ipv4_is_zeronet(): 0.0.0.0 alone since Linux 5.3 made the rest of 0.0.0.0/8 unicast (a
#: kernel lab forwards 0.1.2.3 and 0.0.0.9)
ZERO4 = IntSet.single(0, TOP4)
LIMITED_BROADCAST4 = IntSet.single(TOP4, TOP4)
LOOPBACK4 = IntSet.prefix(0x7F000000, 8, 32)
MULTICAST4 = IntSet.prefix(0xE0000000, 4, 32)

UNSPECIFIED6 = IntSet.single(0, TOP6)
LOOPBACK6 = IntSet.single(1, TOP6)
LINK_LOCAL6 = IntSet.prefix(0xFE80 << 112, 10, 128)
MULTICAST6 = IntSet.prefix(0xFF << 120, 8, 128)

MULTICAST = {Family.INET: MULTICAST4, Family.INET6: MULTICAST6}
#: the group every multicast-capable interface joins: all-hosts (224.0.0.1), all-nodes (ff02::1)
ALL_HOSTS = {Family.INET: IntSet.single(0xE0000001, TOP4),
             Family.INET6: IntSet.single(0xFF02 << 112 | 1, TOP6)}
