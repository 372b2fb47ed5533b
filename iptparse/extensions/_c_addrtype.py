"""What `-m addrtype` means: the route type of an address, as xt_addrtype computes it.

IPv4 (inet_dev_addr_type): 0.0.0.0 and 255.255.255.255 are BROADCAST (kernels before 5.3
treated all of 0.0.0.0/8 so; iptparse follows today's kernels), 224.0.0.0/4 is
MULTICAST, anything else is the type of its route in the *local* table (LOCAL for the host's
own addresses, BROADCAST for its subnets' broadcast addresses), and UNICAST when the local
table has no route for it. With --limit-iface-in/out a local-table route only counts when it
goes through the packet's input/output interface; otherwise the address is UNICAST. The rule
holds when that one type is in the list.

IPv6 (match_type6) reads the list as requirements that must all hold: MULTICAST wants ff00::/8,
UNICAST an address ipv6_addr_type() calls unicast (not multicast, not ::, not v4-mapped),
UNSPEC wants ::; and if LOCAL, ANYCAST or UNREACHABLE is listed, one of those listed must come
out of a route lookup (LOCAL: a local address, or with an interface limit an address of that
interface; UNREACHABLE: no route or a reject route; ANYCAST: an anycast destination).

With the host's addresses known (`--addrs`) LOCAL and BROADCAST are exact tests. Without them
the host's own addresses are unknown: 127.0.0.0/8 and ::1 are still local (lo is always up),
and for other addresses the walk forks on the assumptions `src-local`/`dst-local` ("dst is a
local address of this host"), `dst-broadcast` (a subnet broadcast address of this host), and
with an interface limit `dst-local-iif`/`dst-local-oif` (its local route goes through that
interface). These keys are shared by every rule, so a path answers each question once (they
name the field, not its value: after a DNAT the destination's answer is still the one given for
the original destination; give `--addrs` when that matters). IPv6
ANYCAST and UNREACHABLE are always the assumptions `dst-anycast`/`dst-unreachable` (iptparse
does not model the IPv6 route lookup that far).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import IntSet, NameSet
from ..host import Host
from ..logic import FALSE, Assume, Pred, Test
from ..nodes import Family
from ..special import (
    LIMITED_BROADCAST4,
    LOOPBACK4,
    LOOPBACK6,
    MULTICAST4,
    MULTICAST6,
    TOP6,
    UNSPECIFIED6,
    ZERO4,
)
from ._c_addr import ANYCAST, BROADCAST, LOCAL, LocalRoute, local_table
from ._pred import conj, disj, neg

__all__ = ["type_predicate"]

UNSPEC, UNICAST, MULTICAST, UNREACHABLE = 0, 1, 5, 7
_TYPE_NAMES = ("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
               "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE")
_LOOPBACK4_BCAST = IntSet.single(0x7FFFFFFF, 0xFFFFFFFF)
_MAPPED6 = IntSet.prefix(0xFFFF << 32, 96, 128)
_UNICAST6 = IntSet.all(TOP6) - MULTICAST6 - UNSPECIFIED6 - _MAPPED6


def _assume(key: str, text: str, neg_text: str) -> Assume:
    return Assume(key, key, text, neg_text)


@dataclass(frozen=True, slots=True)
class _Site:
    """The address under test and the interface a --limit-iface option ties it to."""

    field: str  # "src" or "dst"
    device: str | None  # "iif", "oif" or None

    def test(self, values: IntSet, text: str, neg_text: str) -> Test:
        return Test(self.field, values, f"{self.field} {text}", f"{self.field} {neg_text}")

    def on(self, name: str) -> Test:
        assert self.device is not None
        return Test(self.device, NameSet.single(name))

    def local_flag(self) -> Assume:
        return _assume(f"{self.field}-local", f"{self.field} is a local address of this host",
                       f"{self.field} is not a local address of this host")

    def device_flag(self) -> Assume:
        assert self.device is not None
        return _assume(f"{self.field}-local-{self.device}",
                       f"the local route of {self.field} goes through {self.device}",
                       f"the local route of {self.field} does not go through {self.device}")


def type_predicate(site_field: str, types: int, family: Family, host: Host | None,
                   device: str | None) -> Pred:
    """The packet's `site_field` address has one of the route types in the bitmask."""
    site = _Site(site_field, device)
    if family is Family.INET:
        return _ipv4(site, types, host)
    return _ipv6(site, types, host)


def _names(types: int) -> str:
    return " or ".join(n for i, n in enumerate(_TYPE_NAMES) if types >> i & 1)


# --- IPv4 ----------------------------------------------------------------------------------

def _ipv4(site: _Site, types: int, host: Host | None) -> Pred:
    parts: list[Pred] = []
    if types >> BROADCAST & 1:
        parts.append(site.test(ZERO4 | LIMITED_BROADCAST4, "is 0.0.0.0 or 255.255.255.255",
                               "is neither 0.0.0.0 nor 255.255.255.255"))
    if types >> MULTICAST & 1:
        parts.append(site.test(MULTICAST4, "is multicast", "is not multicast"))
    routable = IntSet.all(0xFFFFFFFF) - ZERO4 - LIMITED_BROADCAST4 - MULTICAST4
    table = _ipv4_table(site, host, routable)
    wanted = types & ((1 << LOCAL) | (1 << BROADCAST) | (1 << ANYCAST) | (1 << UNICAST))
    if wanted:
        parts.append(table.holds(wanted))
    return disj(*parts)


class _Table:
    """The local-table part of the IPv4 type: routes with the addresses they decide."""

    def __init__(self, site: _Site, routable: IntSet, routes: list[LocalRoute]) -> None:
        self.site = site
        self.routable = routable
        self.routes = routes

    def holds(self, wanted: int) -> Pred:
        """The address is routable and its local-table type is one of `wanted`."""
        site = self.site
        if site.device is None:
            values = IntSet.empty(0xFFFFFFFF)
            rest = self.routable
            for route in self.routes:
                won = route.addresses & self.routable
                rest = rest - won
                if wanted >> route.kind & 1:
                    values = values | won
            if wanted >> UNICAST & 1:
                values = values | rest
            names = _names(wanted)
            return site.test(values, f"has address type {names} on this host",
                             f"does not have address type {names} on this host")
        alternatives: list[Pred] = []
        rest = self.routable
        for route in self.routes:
            won = route.addresses & self.routable
            rest = rest - won
            kind_name = _TYPE_NAMES[route.kind].lower()
            address = site.test(won, f"is a {kind_name} address of "
                                f"{route.device or 'this host'}",
                                f"is not a {kind_name} address of {route.device or 'this host'}")
            through = site.on(route.device) if route.device else site.device_flag()
            if wanted >> route.kind & 1:
                alternatives.append(conj(address, through))
            if wanted >> UNICAST & 1:
                alternatives.append(conj(address, neg(through)))
        if wanted >> UNICAST & 1:
            alternatives.append(site.test(rest, "is not an address of this host",
                                          "is an address of this host"))
        return disj(*alternatives)


class _UnknownHost(_Table):
    """The same question when the host's addresses are not known: assumptions stand in."""

    def holds(self, wanted: int) -> Pred:
        site = self.site
        loopback = site.test(LOOPBACK4 - _LOOPBACK4_BCAST, "is a loopback address",
                             "is not a loopback address")
        loopback_bcast = site.test(_LOOPBACK4_BCAST, "= 127.255.255.255",
                                   "≠ 127.255.255.255")
        other = site.test(self.routable - LOOPBACK4,
                          "is not a loopback, multicast, 0.0.0.0 or 255.255.255.255 address",
                          "is a loopback, multicast, 0.0.0.0 or 255.255.255.255 address")
        local = site.local_flag()
        broadcast = _assume(f"{site.field}-broadcast",
                            f"{site.field} is a broadcast address of this host's subnets",
                            f"{site.field} is not a broadcast address of this host's subnets")
        if site.device is not None:
            on_lo = site.on("lo")
            through_local = site.device_flag()
            local_here, bcast_here = conj(local, through_local), conj(broadcast, through_local)
        else:
            on_lo = None
            local_here, bcast_here = local, broadcast
        alternatives: list[Pred] = []
        for values_test, kind in ((loopback, LOCAL), (loopback_bcast, BROADCAST)):
            if wanted >> kind & 1:
                alternatives.append(conj(values_test, on_lo) if on_lo else values_test)
            if on_lo is not None and wanted >> UNICAST & 1:
                alternatives.append(conj(values_test, neg(on_lo)))
        if wanted >> LOCAL & 1:
            alternatives.append(conj(other, local_here))
        if wanted >> BROADCAST & 1:
            alternatives.append(conj(other, neg(local), bcast_here))
        if wanted >> UNICAST & 1:
            # whatever the local table does not make LOCAL or BROADCAST here is UNICAST
            alternatives.append(conj(other, neg(disj(local_here,
                                                     conj(neg(local), bcast_here)))))
        return disj(*alternatives)


def _ipv4_table(site: _Site, host: Host | None, routable: IntSet) -> _Table:
    if host is None:
        return _UnknownHost(site, routable, [])
    return _Table(site, routable, local_table(host, Family.INET))


# --- IPv6 ----------------------------------------------------------------------------------

def _ipv6(site: _Site, types: int, host: Host | None) -> Pred:
    parts: list[Pred] = []
    if types >> MULTICAST & 1:
        parts.append(site.test(MULTICAST6, "is multicast", "is not multicast"))
    if types >> UNICAST & 1:
        parts.append(site.test(_UNICAST6, "is a unicast address",
                               "is not a unicast address"))
    if types >> UNSPEC & 1:
        parts.append(site.test(UNSPECIFIED6, "= ::", "≠ ::"))
    lookup = types & ((1 << LOCAL) | (1 << ANYCAST) | (1 << UNREACHABLE))
    if lookup:
        local = _local6(site, host)
        alternatives: list[Pred] = []
        if types >> LOCAL & 1:
            alternatives.append(local)
        if types >> ANYCAST & 1:
            alternatives.append(_assume(f"{site.field}-anycast",
                                        f"{site.field} is an anycast destination",
                                        f"{site.field} is not an anycast destination"))
        if types >> UNREACHABLE & 1:
            alternatives.append(conj(neg(local), _assume(
                f"{site.field}-unreachable", f"{site.field} has no usable route",
                f"{site.field} has a usable route")))
        parts.append(disj(*alternatives))
    return conj(*parts)


def _local6(site: _Site, host: Host | None) -> Pred:
    """LOCAL for IPv6: a local route (no interface limit) or an address of the interface."""
    if host is None:
        loopback = site.test(LOOPBACK6, "= ::1", "≠ ::1")
        other = site.test(_UNICAST6 - LOOPBACK6, "is a unicast address other than ::1",
                          "is not a unicast address other than ::1")
        if site.device is None:
            return disj(loopback, conj(other, site.local_flag()))
        return disj(conj(loopback, site.on("lo")),
                    conj(other, site.local_flag(), site.device_flag()))
    if site.device is None:
        local = host.local_addresses(Family.INET6)
        return site.test(local, "is a local address of this host",
                         "is not a local address of this host")
    by_device: dict[str | None, IntSet] = {}
    for a in host.addresses:
        if a.family is Family.INET6:
            key = a.interface or None
            by_device[key] = by_device.get(key, IntSet.empty(TOP6)) | IntSet.single(
                a.address, TOP6)
    by_device["lo"] = by_device.get("lo", IntSet.empty(TOP6)) | LOOPBACK6
    alternatives: list[Pred] = []
    for device, addresses in by_device.items():
        address = site.test(addresses, f"is an address of {device or 'this host'}",
                            f"is not an address of {device or 'this host'}")
        alternatives.append(conj(address, site.on(device) if device else site.device_flag()))
    return disj(*alternatives) if alternatives else FALSE
