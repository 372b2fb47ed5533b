"""Concrete lab packets drawn from value sets: a path's constraint, or what rules look for.

Both the packet sampler and the soundness check need "a concrete packet whose fields lie in
these sets" that the lab can really send: addresses a router accepts from the wire (no
loopback, multicast, link-local or unspecified ones, none of R's own), a TTL the forward path
does not expire, interface names the kernel allows, protocols whose frames the lab builds.
`draw_packet` picks each field from the wished set within those limits (weighting range ends,
where off-by-one mistakes live), fills fields nobody wished for from `Pools` of values the
ruleset mentions or from everyday defaults, and, when `strict`, returns only a packet whose
model (`model_packet`) lies in every wished set, retrying a few times since some fields are
tied together (TCP flags decide the conntrack state).
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..domain import BitSet, IntSet, NameSet, ValueSet
from ..domain.nameset import IFNAME_MAX
from ..fields import FIELDS
from ..interp import DEFAULTS
from ..logic import Box
from ..nodes import Family
from ..sandbox.frames import ICMP, ICMPV6, SCTP, TCP, TCP_ACK, TCP_SYN, UDP, KernelPacket
from .model import LAB_SRC_MAC, ModelError, kernel_packet_length, model_packet

__all__ = [
    "LAB_FIELDS",
    "Pools",
    "box_wishes",
    "draw_from_box",
    "draw_packet",
    "lab_protocols",
    "pick",
    "pick_bits",
    "pick_int",
    "pick_name",
    "usable_addresses",
]

#: Input fields the lab sets from a drawn value (the others it fixes, see `model_packet`).
LAB_FIELDS = ("proto", "src", "dst", "sport", "dport", "tcp_flags", "icmp_type", "icmp_code",
              "length", "ttl", "tos", "iif", "oif")

_BAD4 = ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")
_BAD6 = ("::/8", "fe80::/10", "ff00::/8", "2002::/16", "64:ff9b::/96")
_PORTED = (TCP, UDP, SCTP)
#: TCP flag combinations conntrack takes as a connection's first packet, and a few it refuses.
_NEW_FLAGS = (TCP_SYN, TCP_SYN, TCP_SYN, TCP_ACK, TCP_SYN | 0x08, TCP_ACK | 0x08, TCP_SYN | 0xC0)
_INVALID_FLAGS = (TCP_SYN | TCP_ACK, TCP_SYN | 0x01, 0x00, 0x04, 0x01, 0x3F, TCP_ACK | 0x04)


def usable_addresses(family: Family) -> IntSet:
    """Addresses a packet from the wire may carry through R: not special-purpose ranges that
    the stack drops (martians) or treats apart (multicast, link-local)."""
    bits = family.bits
    result = IntSet.all((1 << bits) - 1)
    for text in _BAD4 if family is Family.INET else _BAD6:
        net = ipaddress.ip_network(text)
        result = result - IntSet.prefix(int(net.network_address), net.prefixlen, bits)
    if family is Family.INET:
        result = result - IntSet.single(0xFFFFFFFF, 0xFFFFFFFF)
    return result


def lab_protocols(family: Family, path: str = "forward") -> IntSet:
    """Protocols the lab sends: those it builds headers for, and a few carried bare; on the
    `in` path only those R's stack delivers (so delivery can be seen)."""
    icmp = ICMP if family is Family.INET else ICMPV6
    if path == "in":
        return IntSet.values((TCP, UDP, icmp), 255)
    # 253 (experiments) travels bare; GRE would not: NAT drops a GRE packet without header
    return IntSet.values((TCP, UDP, icmp, SCTP, 253), 255)


# --- picking one value ----------------------------------------------------------------------

def pick_int(rng: random.Random, values: IntSet) -> int | None:
    """A member, a range end one time in three (where off-by-one mistakes live)."""
    if values.is_empty:
        return None
    ranges = values.ranges
    if rng.random() < 1 / 3:
        lo, hi = rng.choice(ranges)
        return rng.choice((lo, hi))
    total = sum(hi - lo + 1 for lo, hi in ranges)
    index = rng.randrange(total)
    for lo, hi in ranges:
        size = hi - lo + 1
        if index < size:
            return lo + index
        index -= size
    raise AssertionError("unreachable")


def pick_bits(rng: random.Random, values: BitSet) -> int | None:
    """A member: a cube, then its free bits at random."""
    if values.is_empty:
        return None
    value, mask = rng.choice(values.cubes)
    return value | (rng.getrandbits(values.width) & ~mask & values.full)


def _valid_name(name: str) -> bool:
    return (0 < len(name) <= IFNAME_MAX and name not in (".", "..", "lo")
            and not any(c in "/:" or c.isspace() for c in name))


def pick_name(rng: random.Random, values: NameSet, *, avoid: Iterable[str] = ()) -> str | None:
    """An interface name the kernel allows: an exact name, or a wildcard's prefix completed
    with random hex (`cali+` → `cali3f9a0c21d7e`)."""
    avoided = set(avoid)
    include = values.include if values.include is not None else [("eth", True), ("veth", True)]
    for _ in range(16):
        text, is_prefix = rng.choice(list(include))
        if is_prefix:
            room = IFNAME_MAX - len(text)
            size = min(room, rng.choice((1, 2, 4, 11)))
            text += "".join(rng.choice(string.hexdigits[:16]) for _ in range(size))
        if _valid_name(text) and text in values and text not in avoided:
            return text
    return None


def pick(rng: random.Random, name: str, values: ValueSet) -> int | str | None:
    if isinstance(values, NameSet):
        return pick_name(rng, values)
    if isinstance(values, BitSet):
        return pick_bits(rng, values)
    return pick_int(rng, values)


# --- pools of values the ruleset mentions -----------------------------------------------------

@dataclass
class Pools:
    """Value sets the ruleset tests, per packet field: unwished fields draw from these half
    the time, so that rules other than the focus one get hit too."""

    sets: dict[str, list[ValueSet]] = field(default_factory=dict)

    def add(self, name: str, values: ValueSet) -> None:
        bucket = self.sets.setdefault(name, [])
        if values not in bucket and not values.is_all and not values.is_empty:
            bucket.append(values)

    def choose(self, rng: random.Random, name: str) -> ValueSet | None:
        bucket = self.sets.get(name)
        if not bucket or rng.random() < 0.4:
            return None
        chosen = rng.choice(bucket)
        if rng.random() < 0.2:  # the other side of the test
            complement = chosen.complement() if not isinstance(chosen, NameSet) else None
            if complement is not None and not complement.is_empty:
                return complement
        return chosen


# --- a whole packet -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Limits:
    family: Family
    path: str
    avoid: frozenset[int]

    def allowed(self, name: str) -> ValueSet | None:
        family = self.family
        if name in ("src", "dst"):
            usable = usable_addresses(family)
            for address in self.avoid:
                usable = usable - IntSet.single(address, usable.top)
            return usable
        if name == "proto":
            return lab_protocols(family, self.path)
        if name == "ttl":
            return IntSet.range(2 if self.path == "forward" else 1, 255, 255)
        if name == "tcp_flags":
            return BitSet.all(8)
        return None


def _within(name: str, wished: ValueSet | None, limits: _Limits) -> ValueSet | None:
    allowed = limits.allowed(name)
    if wished is None:
        return allowed
    if allowed is None:
        return wished
    return wished & allowed  # type: ignore[operator]


def _value(rng: random.Random, name: str, wishes: Mapping[str, ValueSet], pools: Pools,
           limits: _Limits, strict: bool) -> int | str | None:
    """The field's value: from the wish, else a pool, else None (the caller's default)."""
    wished = wishes.get(name)
    if wished is not None:
        values = _within(name, wished, limits)
        if values is not None and not values.is_empty:
            return pick(rng, name, values)
        if strict:
            raise ModelError(f"no {name} the lab can send lies in the wished set")
    pooled = pools.choose(rng, name)
    if pooled is not None:
        values = _within(name, pooled, limits)
        if values is not None and not values.is_empty:
            return pick(rng, name, values)
    return None


def _default_flags(rng: random.Random) -> int:
    return rng.choice(_NEW_FLAGS) if rng.random() < 0.9 else rng.choice(_INVALID_FLAGS)


def draw_packet(rng: random.Random, wishes: Mapping[str, ValueSet], family: Family, path: str,
                *, pools: Pools | None = None, strict: bool = False,
                avoid: Iterable[int] = (), routes: Sequence[tuple[str, str]] = (),
                attempts: int = 12) -> KernelPacket | None:
    """A packet whose fields come from `wishes` where the lab can honour them.

    `strict`: every wished field of the packet's model must lie in its set, else None after
    `attempts` tries (the soundness check wants exactly the path's packets). Otherwise wishes
    are followed where possible and the rest is filled in (the sampler wants rules hit).
    """
    pools = pools or Pools()
    limits = _Limits(family, path, frozenset(avoid))
    for _ in range(attempts):
        try:
            packet = _draw_once(rng, wishes, pools, limits, strict, routes)
        except ModelError:
            continue
        if packet is None:
            continue
        if not strict or _honours(packet, wishes, path):
            return packet
    return None


def box_wishes(box: Box) -> dict[str, ValueSet]:
    """A path constraint's sets on the input packet's own fields (not on values that rules
    wrote, `dst@2`, nor on assumption flags, `?limit@…`)."""
    return {var: values for var, values in box.items()
            if "@" not in var and not var.startswith("?") and var in FIELDS}


def draw_from_box(rng: random.Random, box: Box, path: str, *, attempts: int = 24
                  ) -> KernelPacket | None:
    """A lab packet inside a path's constraint, or None when the lab cannot send one (the
    constraint asks for a state, mark or field the lab does not produce)."""
    return draw_packet(rng, box_wishes(box), box.family, path, strict=True, attempts=attempts)


def _honours(packet: KernelPacket, wishes: Mapping[str, ValueSet], path: str) -> bool:
    model = model_packet(packet, path)
    for name, wished in wishes.items():
        value = model.fields.get(name, DEFAULTS.get(name))
        if value is None:
            if not wished.is_all:
                return False  # a constraint on a field the lab does not set
            continue
        single = value.single_value()
        if single is None or single not in wished:
            return False
    return True


def _draw_once(rng: random.Random, wishes: Mapping[str, ValueSet], pools: Pools,
               limits: _Limits, strict: bool, routes: Sequence[tuple[str, str]]
               ) -> KernelPacket | None:
    family, path = limits.family, limits.path

    def value(name: str) -> int | str | None:
        return _value(rng, name, wishes, pools, limits, strict)

    proto = value("proto")
    if proto is None:
        proto = rng.choice((TCP, TCP, TCP, UDP, UDP, ICMP if family is Family.INET else ICMPV6))
    usable = _within("src", None, limits)
    assert isinstance(usable, IntSet)
    src = value("src")
    src = pick_int(rng, usable) if src is None else src
    dst = value("dst")
    dst = pick_int(rng, usable) if dst is None else dst
    if src is None or dst is None or src == dst:
        return None
    iif = value("iif")
    iif = iif if iif is not None else rng.choice(("eth0", "eth0", "eth1", "veth0"))
    args: dict[str, object] = {
        "src": _text(src, family), "dst": _text(dst, family), "protocol": proto,
        "iif": iif, "src_mac": LAB_SRC_MAC, "routes": tuple(routes),
    }
    if path != "in":
        # the out path has no input interface: the packet's own iif goes unused
        oif = None
        for _ in range(4):
            oif = value("oif")
            oif = oif if oif is not None else rng.choice(("eth1", "eth2", "veth1"))
            if oif != iif or path == "out":
                break
        if (oif == iif and path != "out") or oif == "":
            return None
        args["oif"] = oif
    if proto in _PORTED:
        sport, dport = value("sport"), value("dport")
        args["sport"] = sport if sport is not None else rng.randrange(1024, 65536)
        args["dport"] = dport if dport is not None else rng.choice(
            (22, 53, 80, 443, 8080, rng.randrange(1, 65536)))
    if proto == TCP:
        flags = value("tcp_flags")
        args["tcp_flags"] = flags if flags is not None else _default_flags(rng)
    if proto == (ICMP if family is Family.INET else ICMPV6):
        kind, code = value("icmp_type"), value("icmp_code")
        echo = 8 if family is Family.INET else 128
        args["icmp_type"] = kind if kind is not None else (
            echo if rng.random() < 0.8 else rng.randrange(256))
        args["icmp_code"] = code if code is not None else (0 if rng.random() < 0.8
                                                           else rng.randrange(256))
    ttl, tos = value("ttl"), value("tos")
    args["ttl"] = ttl if ttl is not None else (64 if rng.random() < 0.7 else rng.randrange(
        2 if path == "forward" else 1, 256))
    args["tos"] = tos if tos is not None else (0 if rng.random() < 0.7 else rng.randrange(256))
    for name in ("iif", "oif"):
        text = args.get(name)
        if isinstance(text, str) and not _valid_name(text):
            return None
    try:
        packet = KernelPacket(**args)  # type: ignore[arg-type]
    except ValueError:
        return None
    length = value("length")
    if length is None and rng.random() < 0.25:
        length = kernel_packet_length(packet) + rng.randrange(0, 200)
    if length is not None:
        payload = int(length) - kernel_packet_length(packet)
        if not 0 <= payload <= 1400:
            if strict:
                return None
            payload = 0
        packet = KernelPacket(**(args | {"length": payload}))  # type: ignore[arg-type]
    return packet


def _text(value: int | str, family: Family) -> str:
    assert isinstance(value, int)
    if family is Family.INET:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))
