"""The packet a user asks about: some fields exact, some given as sets, the rest unknown.

Text form (what the CLI and REPL take):

    tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=cali17b90f98476 ctstate=NEW mark=0x0

A leading protocol, `SRC[:PORT] -> DST[:PORT]` (IPv6 as `[addr]:port`), then `field=value`
pairs. A value may be exact (`8080`), a set (`80,443`), a range (`1024-65535`), a prefix
(`10.13.76.0/24`), known bits (`mark=0x10000/0x10000`), names or prefixes (`iif=cali+`), a
list of states (`ctstate=NEW,ESTABLISHED`), or `*` for any. Fields left out are unknown: the
trace then shows every way the packet can go. The same as JSON: one object, field → value
(strings, numbers or lists), plus an optional "id".
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .addresses import format_ip
from .describe import describe_set, describe_value, ip_ranges_to_cidrs
from .domain import BitSet, IntSet, NameSet, ValueSet
from .fields import FIELDS, FieldKind, FieldSpec, field_spec
from .nodes import Family
from .protocols import protocol_name, protocol_number

__all__ = ["Packet", "PacketError", "packet_notes", "parse_packet", "parse_packets"]


class PacketError(ValueError):
    """A packet description iptparse cannot read; the message says which part and why."""


@dataclass(frozen=True)
class Packet:
    """Constraints on the input packet: field → set of values (absent: any value)."""

    fields: Mapping[str, ValueSet] = field(default_factory=dict)
    family: Family | None = None
    id: str | None = None

    def get(self, name: str, family: Family | None = None) -> ValueSet:
        spec = field_spec(name)
        known = self.fields.get(spec.name)
        if known is not None:
            return known
        return spec.top(family or self.family or Family.INET)

    def value(self, name: str) -> int | str | None:
        """The field's value when it is known exactly, else None."""
        known = self.fields.get(field_spec(name).name)
        return None if known is None else known.single_value()

    @property
    def is_concrete(self) -> bool:
        return all(v.single_value() is not None for v in self.fields.values())

    def with_(self, **changes: ValueSet) -> Packet:
        fields = dict(self.fields)
        for name, value in changes.items():
            fields[field_spec(name).name] = value
        return Packet(fields, self.family, self.id)

    # text and JSON --------------------------------------------------------------------

    def __str__(self) -> str:
        return format_packet(self)

    def to_json(self) -> dict[str, Any]:
        family = self.family or Family.INET
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        for name in sorted(self.fields, key=lambda n: _FIELD_ORDER.get(n, 999)):
            values = self.fields[name]
            single = values.single_value()
            if name == "proto" and single is not None and isinstance(single, int):
                out[name] = protocol_name(single) or single
            elif single is not None:
                text = describe_value(name, single, family)
                out[name] = single if (isinstance(single, int) and text.isdigit()) else text
            else:
                out[name] = _set_text(name, values, family)
        return out


_FIELD_ORDER = {name: i for i, name in enumerate(FIELDS)}


def _set_text(name: str, values: ValueSet, family: Family) -> str:
    """A set as the text form accepts it back."""
    spec = field_spec(name)
    if isinstance(values, NameSet):
        if values.include is None:
            return "*"
        return ",".join(t + ("+" if p else "") for t, p in values.include)
    if isinstance(values, BitSet):
        return ",".join(f"{v:#x}/{m:#x}" for v, m in values.cubes)
    if values.is_all:
        return "*"
    parts: list[str] = []
    for lo, hi in values.ranges:
        if spec.kind is FieldKind.ENUM:
            parts.extend(spec.names[v] for v in range(lo, hi + 1))
        elif spec.kind is FieldKind.ADDR:
            cidrs = ip_ranges_to_cidrs(lo, hi, family.bits)
            if len(cidrs) == 1:
                addr, length = cidrs[0]
                text = format_ip(addr, family)
                parts.append(text if length == family.bits else f"{text}/{length}")
            else:
                parts.append(f"{format_ip(lo, family)}-{format_ip(hi, family)}")
        else:
            parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
    return ",".join(parts)


def format_packet(packet: Packet) -> str:
    family = packet.family or Family.INET
    data = packet.to_json()
    data.pop("id", None)
    head: list[str] = []
    proto = data.pop("proto", None)
    if proto is not None:
        head.append(str(proto))
    ends: list[str | None] = []
    for addr, port in (("src", "sport"), ("dst", "dport")):
        a, p = data.get(addr), data.get(port)
        single_port = isinstance(p, int)
        if a is not None and "," not in str(a) and "-" not in str(a):
            data.pop(addr)
            text = f"[{a}]" if family is Family.INET6 and single_port else str(a)
            if single_port:
                data.pop(port)
                text += f":{p}"
            ends.append(text)
        else:
            ends.append(None)
    if ends[0] is not None and ends[1] is not None:
        head.append(f"{ends[0]} -> {ends[1]}")
    else:
        for name, end in (("src", ends[0]), ("dst", ends[1])):
            if end is not None:
                data[name] = end
    rest = [f"{k}={v}" for k, v in data.items()]
    return " ".join(head + rest)


# --- parsing -------------------------------------------------------------------------------

_ARROW = re.compile(r"^(?P<src>\S+)\s*->\s*(?P<dst>\S+)$")


def _family_of(text: str) -> Family | None:
    core = text.strip("[]").split("/")[0].split("-")[0]
    if ":" in core:
        return Family.INET6
    if re.fullmatch(r"[\d.]+", core) and core.count(".") == 3:
        return Family.INET
    return None


def _split_endpoint(text: str) -> tuple[str, str | None]:
    """`1.2.3.4:80` / `[::1]:80` / `10.0.0.0/24` → (address, port or None)."""
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            inside = f"[{addr}{rest.partition(':')[0]}]"
            raise PacketError(f"cannot read `{text}': after `]' comes `:PORT' or nothing (a "
                              f"prefix or range goes inside the brackets: {inside})")
        return addr, rest[1:] if rest else None
    if text.count(":") == 1:
        addr, _, port = text.partition(":")
        return addr, port
    return text, None


_ARROW_WORDS = re.compile(r"(\S+)\s*->\s*(\S+)")
_LAST_GROUP_DECIMAL = re.compile(r"^(?P<addr>[0-9A-Fa-f:]*::[0-9A-Fa-f:]*?):(?P<port>\d{1,5})$")


def packet_notes(text: str) -> list[str]:
    """What a shell should say of a packet that parsed, but maybe not as meant: an IPv6
    endpoint `2001:db8::2:22` is one address (a valid one), where `[2001:db8::2]:22` was
    perhaps meant."""
    notes = []
    found = _ARROW_WORDS.search(text)
    for endpoint in found.groups() if found else ():
        match = _LAST_GROUP_DECIMAL.match(endpoint)
        if match and int(match["port"]) <= 65535:
            notes.append(f"`{endpoint}' is read as one IPv6 address; for port {match['port']} "
                         f"write [{match['addr']}]:{match['port']}")
    return notes


def _parse_ip(text: str, family: Family) -> int:
    try:
        if family is Family.INET:
            return int.from_bytes(socket.inet_aton(text), "big") if text.count(".") == 3 else (
                _bad(text))
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        hint = " (with a port, an IPv6 address is written [ADDR]:PORT)" if (
            family is Family.INET6 and text.count(":") > 1) else ""
        raise PacketError(f"`{text}' is not an {family.value} address{hint}") from None


def _bad(text: str) -> int:
    raise PacketError(f"`{text}' is not an address")


def _int(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise PacketError(f"`{text}' is not a number ({what})") from None


def parse_value(spec: FieldSpec, text: str, family: Family) -> ValueSet:
    """A field's value set from its text form."""
    text = text.strip()
    top = spec.top(family)
    if text in ("*", "any"):
        return top
    if spec.kind is FieldKind.NAME:
        if text in ("", "none", "-", "(none)"):  # "(none)": how the name is printed back
            return NameSet.single("")
        return NameSet.of(*text.split(","))
    if spec.kind is FieldKind.BITS:
        return _parse_bits(spec, text)
    assert isinstance(top, IntSet)
    result = IntSet.empty(top.top)
    for part in text.split(","):
        result = result | _parse_int_part(spec, part.strip(), family, top.top)
    return result


def _parse_int_part(spec: FieldSpec, part: str, family: Family, top: int) -> IntSet:
    if spec.kind is FieldKind.ENUM:
        upper = part.upper()
        for i, name in enumerate(spec.names):
            if name.upper() == upper:
                return IntSet.single(i, top)
        raise PacketError(f"{spec.name}: `{part}' is not one of {', '.join(spec.names)}")
    if spec.kind is FieldKind.ADDR:
        if "/" in part:
            addr, _, length = part.partition("/")
            bits = family.bits
            if ":" in length:  # `::/0:22`: a port after an unbracketed IPv6 prefix
                raise PacketError(f"`{part}': with a port, an IPv6 address is written "
                                  f"[ADDR/LEN]:PORT")
            n = _int(length, f"{spec.name} prefix length")
            if not 0 <= n <= bits:
                raise PacketError(f"{spec.name}: bad prefix length /{length}")
            return IntSet.prefix(_parse_ip(addr, family), n, bits)
        if "-" in part:
            lo, _, hi = part.partition("-")
            return IntSet.range(_parse_ip(lo, family), _parse_ip(hi, family), top)
        return IntSet.single(_parse_ip(part, family), top)
    if spec.name == "icmp_type" and not part[:1].isdigit():
        return IntSet.single(_icmp_type(part, family), top)
    if spec.name == "proto" and not part[:1].isdigit():
        number = protocol_number(part)
        if number is None:
            raise PacketError(f"proto: unknown protocol `{part}'")
        return IntSet.single(number, top)
    if spec.name in ("time", "kernel_time") and not part.isdigit():
        try:
            moment = datetime.fromisoformat(part)
        except ValueError:
            raise PacketError(f"time: `{part}' is not an ISO date/time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return IntSet.single(int(moment.timestamp()), top)
    if spec.name == "src_mac" and ":" in part:
        try:
            value = int(part.replace(":", ""), 16)
        except ValueError:
            raise PacketError(f"src_mac: `{part}' is not a MAC address") from None
        return IntSet.single(value, top)
    for sep in ("-", ":"):
        if sep in part[1:]:
            lo, _, hi = part.partition(sep)
            a, b = _int(lo, spec.name), _int(hi, spec.name)
            if a > b or b > top:
                raise PacketError(f"{spec.name}: bad range `{part}'")
            return IntSet.range(a, b, top)
    value = _int(part, spec.name)
    if not 0 <= value <= top:
        raise PacketError(f"{spec.name}: {value} is out of range 0-{top}")
    return IntSet.single(value, top)


def _icmp_type(name: str, family: Family) -> int:
    """A type by the name iptables gives it (`echo-request`: 8 for IPv4, 128 for IPv6). A name
    that also fixes the code (`port-unreachable`) is refused with the two numbers to write,
    since a field holds one thing."""
    from .extensions.icmp import ALL_CODES, ICMP_NAMES, ICMPV6_NAMES

    table = ICMP_NAMES if family is Family.INET else ICMPV6_NAMES
    for entry, number, codes in table:
        if entry.lower() == name.lower() and number != 0xFF:
            if codes != ALL_CODES:
                raise PacketError(f"icmp_type: `{name}' is type {number} code {codes[0]}: write "
                                  f"icmp_type={number} icmp_code={codes[0]}")
            return number
    names = ", ".join(e for e, n, c in table if c == ALL_CODES and n != 0xFF)
    raise PacketError(f"icmp_type: `{name}' is not an {family.value} ICMP type name ({names})")


def _parse_bits(spec: FieldSpec, text: str) -> BitSet:
    width = spec.width
    if spec.name in ("tcp_flags", "ctstatus") and not text[:1].isdigit():
        from .extensions.tcpudp import TCP_FLAGS
        from .fields import CT_STATUS_BITS

        table = dict(TCP_FLAGS) if spec.name == "tcp_flags" else dict(CT_STATUS_BITS)
        value = 0
        if text.upper() not in ("", "NONE"):
            for name in text.split(","):
                bit = table.get(name.strip().upper())
                if bit is None:
                    raise PacketError(f"{spec.name}: unknown flag `{name}'")
                value |= bit
        return BitSet.single(value, width)
    result = BitSet.empty(width)
    for part in text.split(","):
        value_text, slash, mask_text = part.partition("/")
        value = _int(value_text, spec.name)
        mask = _int(mask_text, f"{spec.name} mask") if slash else (1 << width) - 1
        if value >> width or mask >> width:
            raise PacketError(f"{spec.name}: value wider than {width} bits")
        result = result | BitSet.cube(value, mask, width)
    return result


def _field(name: str) -> FieldSpec:
    try:
        return field_spec(name)
    except KeyError:
        known = ", ".join(sorted(FIELDS))
        raise PacketError(f"unknown packet field `{name}' (fields: {known})") from None


def parse_packet(text: str, family: Family | None = None) -> Packet:
    """Read the text form (see the module docstring)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PacketError(f"bad JSON packet: {exc.msg} at column {exc.colno}") from None
        if not isinstance(data, dict):
            raise PacketError("a JSON packet must be an object")
        return packet_from_json(data, family)
    raw: dict[str, str] = {}
    words = text.split()
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if i + 2 < len(words) and words[i + 1] == "->" and "=" not in word:
            rest.append(f"{word}->{words[i + 2]}")
            i += 3
            continue
        rest.append(word)
        i += 1
    for word in [w for w in rest if w.startswith("id=")]:
        raw["id"] = word[3:]
    rest = [w for w in rest if not w.startswith("id=")]
    for index, word in enumerate(rest):
        if "->" in word and "=" not in word.split("->")[0]:
            m = _ARROW.match(word.replace("->", " -> ").replace("  ", " "))
            if m is None:
                raise PacketError(f"cannot read `{word}' (expected SRC -> DST)")
            for side, port_name, endpoint in (("src", "sport", m["src"]),
                                             ("dst", "dport", m["dst"])):
                addr, port = _split_endpoint(endpoint)
                if addr not in ("*", ""):
                    raw[side] = addr
                if port is not None:
                    raw[port_name] = port
        elif "=" in word:
            key, _, value = word.partition("=")
            name = _field(key).name
            if name in raw or any(_field(k).name == name for k in raw):
                raise PacketError(f"field {name} given twice")
            raw[key] = value
        elif index == 0:
            raw["proto"] = word
        else:
            raise PacketError(f"cannot read `{word}' (expected field=value)")
    return packet_from_json(raw, family)


def packet_from_json(data: Mapping[str, Any], family: Family | None = None) -> Packet:
    """A packet from a JSON object (values: strings, numbers, or lists of either)."""
    packet_id = data.get("id")
    items = {k: v for k, v in data.items() if k != "id"}
    if family is None:
        for key in ("src", "dst"):
            if key in items:
                family = _family_of(str(items[key]))
                if family is not None:
                    break
        if family is None and str(items.get("proto", "")).lower() in ("icmpv6", "ipv6-icmp",
                                                                      "58"):
            family = Family.INET6
    fam = family or Family.INET
    fields: dict[str, ValueSet] = {}
    for key, value in items.items():
        spec = _field(key)
        if spec.name in fields:
            raise PacketError(f"field {spec.name} given twice")
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = str(int(value))
        else:
            text = str(value)
        values = parse_value(spec, text, fam)
        if values.is_empty:
            raise PacketError(f"{spec.name}: empty set")
        if not values.is_all:
            fields[spec.name] = values
    return Packet(fields, family, None if packet_id is None else str(packet_id))


def parse_packets(text: str, family: Family | None = None) -> list[Packet]:
    """Many packets: JSON Lines or one text form per line (`#` comments and blanks skipped)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            out.append(parse_packet(stripped, family))
        except PacketError as exc:
            raise PacketError(f"line {number}: {exc}") from None
    return out


def describe_field(packet: Packet, name: str) -> str:
    family = packet.family or Family.INET
    return f"{name} {describe_set(name, packet.get(name, family), family)}"


def iter_fields(packet: Packet) -> Iterable[tuple[str, ValueSet]]:
    return packet.fields.items()
