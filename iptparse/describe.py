"""Human text for field values and value sets: what traces, conditions and `explain` print.

`10.13.76.7, 10.13.76.9, … (15 addresses)`, `1024-65535`, `0x10000/0x10000`, `cali+`: each
field kind has the form its users know from iptables itself.
"""

from __future__ import annotations

from functools import lru_cache

from .addresses import format_ip
from .domain import BitSet, IntSet, NameSet
from .fields import FieldKind, field_spec
from .nodes import Family

__all__ = ["describe_set", "describe_value", "ip_ranges_to_cidrs"]

MAX_ITEMS = 6


def ip_ranges_to_cidrs(lo: int, hi: int, bits: int) -> list[tuple[int, int]]:
    """The fewest prefixes (address, length) covering exactly [lo, hi]."""
    out = []
    while lo <= hi:
        size = (lo & -lo).bit_length() - 1 if lo else bits
        while size > 0 and lo + (1 << size) - 1 > hi:
            size -= 1
        out.append((lo, bits - size))
        lo += 1 << size
    return out


def describe_value(field: str, value: int | str, family: Family = Family.INET) -> str:
    """One concrete value of a field, as a person reads it."""
    spec = field_spec(field.split("@")[0])
    if isinstance(value, str):
        return value if value else "(none)"
    if spec.kind is FieldKind.ADDR:
        return format_ip(value, family)
    if spec.kind is FieldKind.ENUM:
        return spec.names[value] if 0 <= value < len(spec.names) else str(value)
    if spec.kind is FieldKind.BITS:
        if spec.name == "tcp_flags":
            from .extensions.tcpudp import format_tcp_flags

            return format_tcp_flags(value)
        return hex(value)
    if spec.name == "proto":
        from .protocols import protocol_name

        return protocol_name(value) or str(value)
    if spec.name == "src_mac":
        return ":".join(f"{(value >> s) & 0xFF:02x}" for s in range(40, -8, -8))
    return str(value)


def _count(total: int) -> str:
    """A count of addresses as a reader takes it in: IPv6 sets hold 35-digit numbers."""
    if total < 10**10:
        return str(total)
    if total & (total - 1) == 0:
        return f"2^{total.bit_length() - 1}"
    return f"about {total:.2e}".replace("e+", "×10^")


def _int_items(field: str, values: IntSet, family: Family) -> tuple[list[str], int, str]:
    spec = field_spec(field.split("@")[0])
    items: list[str] = []
    if spec.kind is FieldKind.ADDR:
        bits = family.bits
        count = 0
        for lo, hi in values.ranges:
            for addr, length in ip_ranges_to_cidrs(lo, hi, bits):
                count += 1
                if len(items) <= MAX_ITEMS:
                    text = format_ip(addr, family)
                    items.append(text if length == bits else f"{text}/{length}")
        total = values.size()
        unit = "addresses" if total != 1 else "address"
        return items, count, f"{_count(total)} {unit}" if count > 1 else ""
    if spec.kind is FieldKind.ENUM:
        names = [describe_value(field, v, family) for v in values]
        return names, len(names), ""
    for lo, hi in values.ranges:
        if lo == hi:  # a name where the field has them (proto: tcp, not 6)
            items.append(describe_value(field, lo, family))
        else:
            items.append(f"{lo}-{hi}")
    return items, len(values.ranges), ""


def _pattern(text: str, prefix: bool) -> str:
    """An interface pattern as iptables writes it; the empty name (no interface: iif of a
    locally generated packet) needs a word, or `{, lo}` reads as a typo."""
    if prefix:
        return text + "+"
    return text or "(none)"


def describe_set(field: str, values: IntSet | BitSet | NameSet,
                 family: Family = Family.INET) -> str:
    """A value set as `= x`, `∈ {…}` text (without the field name).

    Kept for the sets last described: an abstract trace's answer describes the same few sets
    for thousands of alternatives (the TUM firewall's: 87,000 descriptions). Not bit sets:
    two equal ones may be made of different cubes, which read differently."""
    if isinstance(values, BitSet):
        return _describe_set(field, values, family)
    return _described(field, values, family)


def _describe_set(field: str, values: IntSet | BitSet | NameSet, family: Family) -> str:
    if isinstance(values, NameSet):
        name = values.single_value()
        if name is not None:
            return f"= {name or '(none)'}"
        if values.include is None:
            inc = "any"
        else:
            inc = ", ".join(_pattern(t, p) for t, p in values.include)
        exc = ", ".join(_pattern(t, p) for t, p in values.exclude)
        if values.include is None and exc:
            return f"∉ {{{exc}}}"
        text = f"∈ {{{inc}}}" if values.include is not None and len(values.include) > 1 else (
            f"matches {inc}")
        return text + (f" except {exc}" if exc else "")
    if isinstance(values, BitSet):
        bits = values.single_value()
        if bits is not None:
            return f"= {describe_value(field, bits, family)}"
        if field.split("@")[0] == "tcp_flags":
            from .extensions.tcpudp import format_tcp_flags

            parts = [f"{format_tcp_flags(m)}={format_tcp_flags(v)}" for v, m in values.cubes]
            return "has " + " or ".join(parts)
        if len(values.cubes) == 1:
            v, m = values.cubes[0]
            return f"& {m:#x} = {v:#x}"
        cubes = [f"{v:#x}/{m:#x}" for v, m in values.cubes[:MAX_ITEMS]]
        more = len(values.cubes) - MAX_ITEMS
        return "∈ {" + ", ".join(cubes) + (f", … ({more} more)" if more > 0 else "") + "}"
    single = values.single_value()
    if single is not None:
        return f"= {describe_value(field, single, family)}"
    if values.is_empty:
        return "∈ ∅"
    rest = values.complement()
    kind = field_spec(field.split("@")[0]).kind
    inside = _int_items(field, values, family)
    outside = _int_items(field, rest, family) if rest else ([], 0, "")
    if kind is FieldKind.ADDR:
        # addresses read as prefixes: a few ranges can be many of them (all but 0.0.0.0,
        # multicast and two broadcasts is 60 prefixes, those four are four)
        fewer, same = outside[1] < inside[1], outside[1] == inside[1]
    else:
        fewer = len(rest.ranges) < len(values.ranges)
        same = len(rest.ranges) == len(values.ranges) and kind is not FieldKind.ENUM
    if kind is FieldKind.ADDR:
        fewest = min(inside[1], outside[1] if rest else inside[1])
        carved = _carved(field, values, family, fewest)
        if carved is not None:
            return f"∈ {carved}"
        carved = _carved(field, rest, family, fewest) if rest else None
        if carved is not None:  # not in the subnet, but for the few of it
            return f"∉ {carved}"
    if rest and (fewer or (same and rest.size() < values.size())):
        items, count, summary = outside
        shown = ", ".join(items[:MAX_ITEMS]) + (", …" if count > MAX_ITEMS else "")
        single_rest = rest.single_value() is not None
        return f"≠ {shown}" if single_rest else f"∉ {{{shown}}}"
    items, count, summary = inside
    shown = ", ".join(items[:MAX_ITEMS])
    if count > MAX_ITEMS:
        shown += ", …"
    suffix = f" ({summary})" if summary else ""
    if count == 1 and not summary:
        return f"∈ {shown}"
    return f"∈ {{{shown}}}{suffix}"


def _carved(field: str, values: IntSet, family: Family, prefixes: int) -> str | None:
    """`192.168.1.0/24 except {192.168.1.1, 192.168.1.255}`: a subnet but a few of its
    addresses (the host's own, a broadcast) reads better than the prefixes left, when the
    exceptions are fewer than those and than the prefixes outside."""
    lo, hi = values.ranges[0][0], values.ranges[-1][1]
    length = family.bits - (lo ^ hi).bit_length()
    network = lo & ~((1 << (family.bits - length)) - 1)
    hull = IntSet.prefix(network, length, family.bits)
    holes = hull - values
    if holes.is_empty or length == 0:
        return None
    items, count, _ = _int_items(field, holes, family)
    if count >= prefixes or count > 3:
        return None
    text = format_ip(network, family)
    shown = ", ".join(items)
    return f"{text}/{length} except {shown if count == 1 else '{' + shown + '}'}"


_described = lru_cache(maxsize=8192)(_describe_set)
