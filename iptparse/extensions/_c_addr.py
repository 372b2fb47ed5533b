"""The host's local routing table, as addrtype and rpfilter consult it.

The kernel answers "what kind of address is this?" (addrtype) and the first step of a reverse
path lookup (rpfilter) from the `local` table, which it fills itself: a `local` route for each
address of the host, through the interface that has it; for IPv4 a `broadcast` route for the
subnet's last address when the prefix is shorter than /31 (this kernel adds none for the subnet's
first address); `local 127.0.0.0/8` and `broadcast 127.255.255.255` through lo, and `::1`
through lo. Routes of type local, broadcast or anycast that the user captured in the local
table (`ip route show table all`) are added as given. The longest prefix wins, as in a FIB lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..host import Host
from ..nodes import Family

__all__ = ["ANYCAST", "BROADCAST", "LOCAL", "LocalRoute", "addresses_of", "host_of",
           "local_table"]

#: Route types (RTN_*) the local table holds.
LOCAL, BROADCAST, ANYCAST = 2, 3, 4
_KINDS = {"local": LOCAL, "broadcast": BROADCAST, "anycast": ANYCAST}
_LOOPBACK4 = 0x7F000000


@dataclass(frozen=True, slots=True)
class LocalRoute:
    """Addresses a local-table route decides (those a longer prefix does not take first)."""

    addresses: IntSet
    kind: int
    device: str | None  # None: the user gave the address without its interface


def host_of(ctx: Any) -> Host | None:
    """The compile context's host, when it is one iptparse can read routes from."""
    host = getattr(ctx, "host", None)
    return host if isinstance(host, Host) else None


def addresses_of(ctx: Any) -> Host | None:
    """The compile context's host when its addresses were captured: matches and targets that
    ask for the host's addresses assume, as with no host, when only its routes or sysctls
    were given."""
    host = host_of(ctx)
    return host if host is not None and host.addresses_known else None


def _entries(host: Host, family: Family) -> list[tuple[IntSet, int, int, str | None]]:
    bits = family.bits
    top = (1 << bits) - 1
    out: list[tuple[IntSet, int, int, str | None]] = []
    for a in host.addresses:
        if a.family is not family:
            continue
        device = a.interface or None
        out.append((IntSet.single(a.address, top), bits, LOCAL, device))
        if family is Family.INET and device == "lo" and a.prefix_route and a.prefix < bits:
            # fib_add_ifaddr: on lo the whole prefix is local
            out.append((IntSet.prefix(a.address, a.prefix, bits), a.prefix, LOCAL, device))
        if family is Family.INET and a.prefix < 31:
            host_bits = (1 << (bits - a.prefix)) - 1
            network = a.address & ~host_bits & top
            if network:  # ipv4_is_zeronet(prefix): no broadcast route for 0.0.0.0/N
                out.append((IntSet.single(network | host_bits, top), bits, BROADCAST, device))
    if family is Family.INET:
        out.append((IntSet.prefix(_LOOPBACK4, 8, 32), 8, LOCAL, "lo"))
        out.append((IntSet.single(0x7FFFFFFF, top), 32, BROADCAST, "lo"))
    else:
        out.append((IntSet.single(1, top), 128, LOCAL, "lo"))
    for route in host.routes:
        kind = _KINDS.get(route.kind)
        if route.family is family and kind is not None and route.table == "local":
            out.append((route.addresses(), route.prefix, kind, route.interface))
    return out


def local_table(host: Host, family: Family) -> list[LocalRoute]:
    """The local table's routes, each reduced to the addresses it wins."""
    top = (1 << family.bits) - 1
    taken = IntSet.empty(top)
    out: list[LocalRoute] = []
    for addresses, _, kind, device in sorted(_entries(host, family), key=lambda e: -e[1]):
        won = addresses - taken
        taken = taken | addresses
        if not won.is_empty:
            out.append(LocalRoute(won, kind, device))
    return out
