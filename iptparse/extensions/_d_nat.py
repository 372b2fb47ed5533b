"""What the nat targets do to a new connection (nf_nat_core.c and the targets' own files).

Every nat target ends with `nf_nat_setup_info()` and NF_ACCEPT, so each effect ends the nat
chain with ACCEPT, rewrites the packet, sets the connection's SNAT or DNAT status bit, and makes
the reply tuple follow the rewrite (the reply's source is the new destination, and so on).

How the kernel picks within a range (get_unique_tuple), for a connection that clashes with no
other one (iptparse sees one packet, not the conntrack table):
- a source rewrite keeps the packet's own address and port when both already lie in the
  ranges; a port already in the port range is kept by either rewrite;
- otherwise the address is a hash of the addresses over the range and the port some free port
  of its range; both are fresh values constrained to the range (a single address or port is
  exact). --random / --random-fully skip the keeping, and without a port range a source
  rewrite then redraws the source port within its class (1-511, 600-1023, 1024-65535; a
  destination rewrite never changes a port it was not given); --persistent only changes the
  hash.
- a reversed address range (`10.0.0.9-10.0.0.1`, which iptables accepts) wraps around the
  address space in the kernel; iptparse takes every address for it.
MASQUERADE takes an address of the output interface (the kernel: the first one whose subnet
holds the next hop, else the first; iptparse, not knowing next hops: one of them, exact when there
is one); an interface without one lends another interface's global address, and with none at
all an IPv4 packet is dropped while IPv6 source selection falls back to ::1 (seen on 6.18).
REDIRECT takes the input interface's first address (IPv6: the first of the destination's scope;
127.0.0.1 / ::1 for locally generated packets; none: dropped). With the host's addresses captured
that is exact; without, the address is a fresh unknown and "there is an address"
an assumption (kinds `masquerade`, `redirect`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, lru_cache

from ..addresses import format_ip
from ..domain import IntSet, NameSet, ValueSet
from ..fields import CT_STATUS_BITS
from ..host import Host
from ..logic import FALSE, And, Custom, Or, Pred, Test
from ..nodes import Family
from ..semantics import Change, CompileContext, Effect, SetBits, SetFrom, SetValue
from ._c_addr import addresses_of
from ._d_sem import masked_image

__all__ = ["dnat_effect", "masquerade_effect", "netmap_effect", "redirect_effect",
           "snat_effect"]

#: Protocols whose ports the nat core maps (ICMP maps its echo id, which is no packet field).
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})
_PORT_PROTOCOLS = IntSet.values(PORT_PROTOCOLS, 0xFF)
_STATUS = dict(CT_STATUS_BITS)
_LOOPBACK = {Family.INET: 0x7F000001, Family.INET6: 1}

Ports = tuple[int, int] | None
Addresses = tuple[int, int] | None


def _top(family: Family) -> int:
    return (1 << family.bits) - 1


def _address_range(addresses: tuple[int, int], family: Family) -> IntSet:
    first, last = addresses
    if first > last:
        return IntSet.all(_top(family))
    return IntSet.range(first, last, _top(family))


def _range_text(first: int, last: int, show: Callable[[int], str]) -> str:
    return show(first) if first == last else f"one of {show(first)}-{show(last)}"


@lru_cache(maxsize=4096)
def _ports_change(field: str, ports: tuple[int, int], keep: bool) -> SetFrom:
    """The port after the rewrite: kept when already in range (unless random), else a port of
    the range; left alone for protocols whose ports iptparse does not see. One per range:
    a kube-proxy node's thousands of DNAT rules to endpoints name a few hundred ports."""
    wanted = IntSet.range(ports[0], ports[1], 0xFFFF)

    def choose(values: tuple[ValueSet, ...]) -> ValueSet:
        proto, port = values
        assert isinstance(proto, IntSet) and isinstance(port, IntSet)
        if proto.isdisjoint(_PORT_PROTOCOLS):
            return port
        if keep and port.issubset(wanted):
            return port
        return wanted

    return SetFrom(field, ("proto", field), choose,
                   f"{field} chosen in {_range_text(*ports, str)}")


#: nf_nat_l4proto_unique_tuple() without a port range: a source port is redrawn within the
#: class of the current one (below 512, below 1024, the rest).
_PORT_CLASSES = ((0, 511, 1, 511), (512, 1023, 600, 1023), (1024, 0xFFFF, 1024, 0xFFFF))


def _source_port(ports: Ports, random: tuple[bool, bool]) -> SetFrom | None:
    """The source port after a source rewrite: from the given range, or with --random /
    --random-fully and no range redrawn in its class; else (None) kept."""
    if ports is not None:
        return _ports_change("sport", ports, not _random(random))
    if not _random(random):
        return None

    def redraw(values: tuple[ValueSet, ...]) -> ValueSet:
        proto, port = values
        assert isinstance(proto, IntSet) and isinstance(port, IntSet)
        if proto.isdisjoint(_PORT_PROTOCOLS):
            return port
        out = IntSet.empty(0xFFFF)
        for lo, hi, first, last in _PORT_CLASSES:
            if not port.isdisjoint(IntSet.range(lo, hi, 0xFFFF)):
                out = out | IntSet.range(first, last, 0xFFFF)
        return out

    return SetFrom("sport", ("proto", "sport"), redraw, "sport redrawn (--random)")


@cache
def _reply(side: str, port_changes: bool) -> tuple[Change, ...]:
    """The status bit and the reply tuple following the rewritten packet: four forms, each
    made once and shared by every NAT rule."""
    if side == "dst":
        bit = _STATUS["DNAT"]
        out: list[Change] = [SetBits("ctstatus", bit, bit), SetFrom("ctreplsrc", ("dst",))]
        if port_changes:
            out.append(SetFrom("ctreplsrcport", ("dport",)))
        return tuple(out)
    bit = _STATUS["SNAT"]
    out = [SetBits("ctstatus", bit, bit), SetFrom("ctrepldst", ("src",))]
    if port_changes:
        out.append(SetFrom("ctrepldstport", ("sport",)))
    return tuple(out)


def _random(flags: tuple[bool, bool]) -> bool:
    return any(flags)


def dnat_effect(addresses: Addresses, ports: Ports, random: tuple[bool, bool],
                family: Family, name: str = "DNAT") -> Effect:
    changes: list[Change] = []
    notes: list[str] = []
    if addresses is not None:
        changes.append(SetValue("dst", _address_range(addresses, family),
                                f"dst chosen by {name}"))
        notes.append(f"dst = {_range_text(*addresses, lambda a: format_ip(a, family))}")
    if ports is not None:
        changes.append(_ports_change("dport", ports, not _random(random)))
        notes.append(f"dport = {_range_text(*ports, str)}")
    return Effect(verdict="ACCEPT", changes=(*changes, *_reply("dst", ports is not None)),
                  note=f"{name}: {', '.join(notes)}")


def snat_effect(addresses: Addresses, ports: Ports, random: tuple[bool, bool],
                family: Family) -> Effect:
    keep = not _random(random)
    changes: list[Change] = []
    notes: list[str] = []
    if addresses is not None:
        changes.append(_snat_address(addresses, ports, keep, family))
        notes.append(f"src = {_range_text(*addresses, lambda a: format_ip(a, family))}")
    port = _source_port(ports, random)
    if port is not None:
        changes.append(port)
        notes.append(f"sport = {_range_text(*ports, str)}" if ports else
                     "sport redrawn (--random)")
    return Effect(verdict="ACCEPT", changes=(*changes, *_reply("src", port is not None)),
                  note=f"SNAT: {', '.join(notes)}")


def _snat_address(addresses: tuple[int, int], ports: Ports, keep: bool,
                  family: Family) -> SetFrom:
    wanted = _address_range(addresses, family)
    port_range = None if ports is None else IntSet.range(ports[0], ports[1], 0xFFFF)

    def choose(values: tuple[ValueSet, ...]) -> ValueSet:
        """get_unique_tuple() step 1: a source tuple already in range is kept."""
        src, proto, sport = values
        assert isinstance(src, IntSet) and isinstance(proto, IntSet)
        assert isinstance(sport, IntSet)
        ports_fit = (port_range is None or sport.issubset(port_range)
                     or proto.isdisjoint(_PORT_PROTOCOLS))
        if keep and ports_fit and src.issubset(wanted):
            return src
        return wanted

    return SetFrom("src", ("src", "proto", "sport"), choose, "src chosen by SNAT")


# --- addresses of the host's interfaces ----------------------------------------------------

def _v6_scope(address: int) -> int:
    """ipv6_addr_scope(): the kernel's scope flags of an address (0 for global ones)."""
    top16 = address >> 112
    if top16 >> 8 == 0xFF:  # multicast: ff01 node, ff02 link, ff05 site (flags nibble 0)
        return {0xFF01: 0x10, 0xFF02: 0x20, 0xFF05: 0x40}.get(top16, 0)
    if top16 & 0xFFC0 == 0xFE80:
        return 0x20
    if top16 & 0xFFC0 == 0xFEC0:
        return 0x40
    if address >> 32 == 0 and address > 1:
        return 0x80  # IPv4-compatible
    return 0x10 if address == 1 else 0


def _redirect_address(host: Host, iface: str, family: Family, dst: int) -> int | None:
    """nf_nat_redirect_ipv4/6: the interface's first address (IPv6: the first whose scope
    fits the destination's, v4-mapped ones skipped)."""
    addresses = host.interface_addresses(iface, family)
    if family is Family.INET:
        return addresses[0] if addresses else None
    scope = _v6_scope(dst)
    for address in addresses:
        if address >> 32 == 0xFFFF:
            continue
        if not scope or scope & _v6_scope(address):
            return address
    return None


def _global(address: int, family: Family) -> bool:
    """An address MASQUERADE may pick (not loopback, not IPv6 link-local)."""
    if family is Family.INET:
        return address >> 24 != 127
    return address != 1 and _v6_scope(address) != 0x20


def _interfaces(host: Host, family: Family) -> list[str]:
    return list(dict.fromkeys(a.interface for a in host.addresses if a.family is family))


def masquerade_effect(ports: Ports, random: tuple[bool, bool], ctx: CompileContext) -> Effect:
    family = ctx.family
    host = addresses_of(ctx)
    top = _top(family)
    usable = IntSet.empty(top)
    if host is not None:
        usable = IntSet.values((a.address for a in host.addresses
                                if a.family is family and _global(a.address, family)), top)

    def choose(values: tuple[ValueSet, ...]) -> ValueSet:
        oif, src = values
        if family is Family.INET and src == IntSet.single(0, top):
            return src  # source 0.0.0.0: the kernel leaves it alone
        if host is None:
            return IntSet.all(top)
        name = oif.single_value()
        if isinstance(name, str):
            own = [a for a in host.interface_addresses(name, family) if _global(a, family)]
            if own:
                return IntSet.values(own, top)
        if usable.is_empty and family is Family.INET6:
            return IntSet.single(1, top)  # ipv6_dev_get_saddr found nothing better than ::1
        return usable

    changes: list[Change] = [SetFrom("src", ("oif", "src"), choose,
                                     "src: an address of the output interface")]
    note = "MASQUERADE: src = an address of the output interface"
    port = _source_port(ports, random)
    if port is not None:
        changes.append(port)
        note += f", sport = {_range_text(*ports, str)}" if ports else ", sport redrawn"
    effect = Effect(verdict="ACCEPT", changes=(*changes, *_reply("src", port is not None)),
                    note=note)
    unspecified: list[Pred] = []
    if family is Family.INET:
        unspecified.append(Test("src", IntSet.single(0, top), "src is 0.0.0.0",
                                "src is not 0.0.0.0"))
    if host is None:
        has = ctx.assume("masquerade", "the host has an address to masquerade to",
                         "the host has no address to masquerade to")
        when: Pred = Or((*unspecified, has))
    elif usable.is_empty and family is Family.INET:
        when = unspecified[0] if unspecified else FALSE
    else:
        return effect
    return Effect(effect.verdict, effect.changes, effect.note, when=when, otherwise=Effect(
        verdict="DROP", note="MASQUERADE: no address to masquerade to: dropped"))


def redirect_effect(ports: Ports, random: tuple[bool, bool], ctx: CompileContext) -> Effect:
    family = ctx.family
    host = addresses_of(ctx)
    top = _top(family)
    loopback = _LOOPBACK[family]

    def address(iface: str, dst: int) -> int | None:
        if iface == "":
            return loopback  # locally generated: to the loopback address
        return None if host is None else _redirect_address(host, iface, family, dst)

    def choose(values: tuple[ValueSet, ...]) -> ValueSet:
        iif, dst = values
        name, value = iif.single_value(), dst.single_value()
        if isinstance(name, str) and (isinstance(value, int) or name == ""):
            found = address(name, value if isinstance(value, int) else 0)
            if found is not None:
                return IntSet.single(found, top)
        if host is None:
            return IntSet.all(top)
        candidates = {loopback} | {a.address for a in host.addresses if a.family is family}
        return IntSet.values(candidates, top)

    changes: list[Change] = [SetFrom("dst", ("iif", "dst"), choose,
                                     "dst: the input interface's address")]
    note = "REDIRECT: dst = the input interface's first address (loopback if local)"
    if ports is not None:
        changes.append(_ports_change("dport", ports, not _random(random)))
        note += f", dport = {_range_text(*ports, str)}"
    effect = Effect(verdict="ACCEPT", changes=(*changes, *_reply("dst", ports is not None)),
                    note=note)
    local = Test("iif", NameSet.single(""), "the packet is locally generated",
                 "the packet came in on an interface")
    if host is None:
        when: Pred = Or((local, ctx.assume("redirect", "the input interface has an address",
                                           "the input interface has no address")))
    else:
        when = _has_redirect_address(host, family, ctx, address)
    return Effect(effect.verdict, effect.changes, effect.note, when=when, otherwise=Effect(
        verdict="DROP", note="REDIRECT: the input interface has no address: dropped"))


def _has_redirect_address(host: Host, family: Family, ctx: CompileContext,
                          address: Callable[[str, int], int | None]) -> Pred:
    """Exactly the (iif, dst) pairs for which REDIRECT finds an address."""
    names = _interfaces(host, family)
    text, neg = "the input interface has an address", "the input interface has no address"

    def decide(values: tuple[int | str, ...]) -> bool:
        iif, dst = values
        return address(str(iif), int(dst)) is not None

    def expand() -> Pred:
        if family is Family.INET:
            return Test("iif", NameSet.of("", *names), text, neg)
        options: list[Pred] = [Test("iif", NameSet.single(""))]
        for scope, dsts in _scope_classes():
            found = [n for n in names if _redirect_address(host, n, family, scope) is not None]
            if found:
                options.append(And((Test("dst", dsts), Test("iif", NameSet.of(*found)))))
        return Or(tuple(options))

    return Custom(("iif", "dst"), decide, ctx.key("redirect"), "redirect", text, neg, expand)


def _scope_classes() -> Sequence[tuple[int, IntSet]]:
    """IPv6 destinations grouped by scope flags, each with one representative address."""
    top = (1 << 128) - 1
    link = IntSet.prefix(0xFE80 << 112, 10, 128) | IntSet.prefix(0xFF02 << 112, 16, 128)
    site = IntSet.prefix(0xFEC0 << 112, 10, 128) | IntSet.prefix(0xFF05 << 112, 16, 128)
    node = IntSet.single(1, top) | IntSet.prefix(0xFF01 << 112, 16, 128)
    compat = IntSet.range(2, (1 << 32) - 1, top)
    rest = IntSet.all(top) - link - site - node - compat
    return ((0xFE80 << 112, link), (0xFEC0 << 112, site), (1, node), (2, compat),
            (0x2000 << 112, rest))


def netmap_effect(network: int, length: int, side: str, family: Family) -> Effect:
    host_bits = family.bits - length
    field = "dst" if side == "dst" else "src"

    def mapped(values: tuple[ValueSet, ...]) -> ValueSet:
        return masked_image(values[0], network, host_bits, family.bits)

    target = f"{format_ip(network, family)}/{length}"
    return Effect(verdict="ACCEPT", changes=(
        SetFrom(field, (field,), mapped, f"{field} mapped into {target}"),
        *_reply(field, False)), note=f"NETMAP: {field} prefix becomes {target} (host part kept)")
