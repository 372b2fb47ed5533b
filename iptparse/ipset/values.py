"""The scalar values of ipset text: numbers, addresses, ports, protocols, MACs, and words.

ipset reads its numbers with C's strtoul in base 0 (so `010` is eight and `0x10` sixteen), its
IPv4 addresses through the resolver's numbers-and-dots parser (`10.1` is 10.0.0.1, `012` is
0.0.0.10, but hex parts are refused) and prints with inet_ntop. Each function here copies one
such rule, checked against ipset 7.17, so that parsing accepts what `ipset restore` accepts and
printing gives back what `ipset save` prints. Errors are `ValueError`s carrying ipset's wording;
the parser adds the position.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

from ..protocols import protocol_name, protocol_number
from ..services import service_port

__all__ = [
    "ICMP",
    "ICMPV6",
    "IPPROTO_ICMP",
    "IPPROTO_ICMPV6",
    "IPPROTO_TCP",
    "PORT_PROTOCOLS",
    "Word",
    "c_number",
    "format_ip",
    "format_mac",
    "format_port",
    "host_bits",
    "parse_ip",
    "parse_mac",
    "parse_port",
    "prefix_mask",
    "split_words",
]

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
#: Protocols whose "port" is a real port (ranges allowed); other protocols take pseudo port 0.
PORT_PROTOCOLS = frozenset({6, 17, 132, 136})

_C_NUMBER = re.compile(r"[ \t]*([+-]?)(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*)")


def c_number(text: str, low: int, high: int) -> int:
    """`strtoul(text, &end, 0)` with ipset's range check and its messages."""
    m = _C_NUMBER.fullmatch(text)
    if m is None:
        raise ValueError(f"'{text}' is invalid as number")
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    if m.group(1) == "-":
        value = -value
    if not low <= value <= high:
        raise ValueError(f"'{text}' is out of range {low}-{high}")
    return value


# --- addresses -------------------------------------------------------------------------------

def host_bits(family: str) -> int:
    return 128 if family == "inet6" else 32


def prefix_mask(cidr: int, bits: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)


_AF = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}
_V4_PART = re.compile(r"0[0-7]*|[1-9][0-9]*")


def _parse_ipv4(text: str) -> int:
    """The resolver's numbers-and-dots form: 1 to 4 decimal or octal parts, the last part
    filling the remaining bytes (`10.1` is 10.0.0.1)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.fullmatch(p) for p in parts):
        raise ValueError(f"cannot parse {text}: resolving to IPv4 address failed")
    values = [int(p, 8) if len(p) > 1 and p[0] == "0" else int(p) for p in parts]
    last_bits = 8 * (5 - len(values))
    if any(v > 255 for v in values[:-1]) or values[-1] >= 1 << last_bits:
        raise ValueError(f"cannot parse {text}: resolving to IPv4 address failed")
    result = 0
    for v in values[:-1]:
        result = (result << 8) | v
    return (result << last_bits) | values[-1]


def parse_ip(text: str, family: str) -> int:
    """One address as an integer. Host names (which ipset would resolve) are refused: a
    dump's meaning must not depend on the DNS of the machine reading it."""
    if text.startswith("[") and text.endswith("]"):
        raise ValueError(f"cannot parse {text}: host names are not resolved by iptparse")
    if family == "inet6":
        try:
            return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        except OSError:
            raise ValueError(f"cannot parse {text}: resolving to IPv6 address failed") from None
    if text and not text[0].isdigit() and not text.startswith("["):
        raise ValueError(f"cannot parse {text}: host names are not resolved by iptparse")
    return _parse_ipv4(text)


def format_ip(value: int, family: str) -> str:
    size = 16 if family == "inet6" else 4
    return socket.inet_ntop(_AF[family], value.to_bytes(size, "big"))


# --- MAC addresses ---------------------------------------------------------------------------

_MAC = re.compile(r"[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5}")


def parse_mac(text: str) -> int:
    if _MAC.fullmatch(text) is None:
        raise ValueError(f"cannot parse '{text}' as ethernet address")
    return int.from_bytes(bytes(int(p, 16) for p in text.split(":")), "big")


def format_mac(value: int) -> str:
    return ":".join(f"{b:02X}" for b in value.to_bytes(6, "big"))


# --- protocols, ports and ICMP codes ---------------------------------------------------------

#: ipset's ICMP code names in its own order: the first name of a type/code is the one printed.
ICMP: tuple[tuple[str, int, int], ...] = (
    ("echo-reply", 0, 0), ("pong", 0, 0),
    ("network-unreachable", 3, 0), ("host-unreachable", 3, 1),
    ("protocol-unreachable", 3, 2), ("port-unreachable", 3, 3),
    ("fragmentation-needed", 3, 4), ("source-route-failed", 3, 5),
    ("network-unknown", 3, 6), ("host-unknown", 3, 7),
    ("network-prohibited", 3, 9), ("host-prohibited", 3, 10),
    ("TOS-network-unreachable", 3, 11), ("TOS-host-unreachable", 3, 12),
    ("communication-prohibited", 3, 13), ("host-precedence-violation", 3, 14),
    ("precedence-cutoff", 3, 15), ("source-quench", 4, 0),
    ("network-redirect", 5, 0), ("host-redirect", 5, 1),
    ("TOS-network-redirect", 5, 2), ("TOS-host-redirect", 5, 3),
    ("echo-request", 8, 0), ("ping", 8, 0),
    ("router-advertisement", 9, 0), ("router-solicitation", 10, 0),
    ("ttl-zero-during-transit", 11, 0), ("ttl-zero-during-reassembly", 11, 1),
    ("ip-header-bad", 12, 0), ("required-option-missing", 12, 1),
    ("timestamp-request", 13, 0), ("timestamp-reply", 14, 0),
    ("address-mask-request", 17, 0), ("address-mask-reply", 18, 0),
)
ICMPV6: tuple[tuple[str, int, int], ...] = (
    ("no-route", 1, 0), ("communication-prohibited", 1, 1),
    ("address-unreachable", 1, 3), ("port-unreachable", 1, 4),
    ("packet-too-big", 2, 0), ("ttl-zero-during-transit", 3, 0),
    ("ttl-zero-during-reassembly", 3, 1), ("bad-header", 4, 0),
    ("unknown-header-type", 4, 1), ("unknown-option", 4, 2),
    ("echo-request", 128, 0), ("ping", 128, 0), ("echo-reply", 129, 0), ("pong", 129, 0),
    ("router-solicitation", 133, 0), ("router-advertisement", 134, 0),
    ("neighbour-solicitation", 135, 0), ("neigbour-solicitation", 135, 0),
    ("neighbour-advertisement", 136, 0), ("neigbour-advertisement", 136, 0),
    ("redirect", 137, 0),
)


def _names(table: tuple[tuple[str, int, int], ...]) -> tuple[dict[str, int], dict[int, str]]:
    by_name: dict[str, int] = {}
    by_code: dict[int, str] = {}
    for name, kind, code in table:
        by_name[name.lower()] = kind << 8 | code
        by_code.setdefault(kind << 8 | code, name)
    return by_name, by_code


_ICMP_BY_NAME, _ICMP_BY_CODE = _names(ICMP)
_ICMPV6_BY_NAME, _ICMPV6_BY_CODE = _names(ICMPV6)

def _port_number(text: str, proto: int) -> int:
    """A port number, or a service name from netbase's table (ipset asks getservbyname)."""
    name = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if name and not name[0].isdigit() and name[0] not in "+-":
        port = service_port(name, protocol_name(proto) or "tcp")
        if port is None:
            raise ValueError(f"cannot parse '{name}' as a {protocol_name(proto)} port")
        return port
    return c_number(name, 0, 65535)


def _split_range(text: str) -> tuple[str, str | None]:
    """`a-b` into its ends; dashes inside [bracketed names] do not split."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "-" and depth == 0 and i > 0:
            return text[:i], text[i + 1:]
    return text, None


def _icmp_value(text: str, by_name: dict[str, int], label: str) -> int:
    code = by_name.get(text.lower())
    if code is not None:
        return code
    kind, slash, sub = text.partition("/")
    if not slash or not kind or not sub:
        raise ValueError(f"Cannot parse {text} as an {label} type/code.")
    return c_number(kind, 0, 255) << 8 | c_number(sub, 0, 255)


def parse_port(text: str, family: str, with_protocol: bool) -> tuple[int | None, int, int | None]:
    """`[proto:]port[-port]` into (protocol, first, last or None).

    With `with_protocol` false (bitmap:port) the protocol only selects the service name space
    and is not kept, as in ipset. ICMP "ports" are `type << 8 | code`, the kernel's encoding.
    """
    proto_text, colon, rest = text.partition(":")
    if not colon:
        proto, rest = IPPROTO_TCP, text
    else:
        number = protocol_number(proto_text) if proto_text.lower() != "icmpv6" else 58
        if number is None or (proto_text.isdigit() and int(proto_text) > 255):
            raise ValueError(f"cannot parse '{proto_text}' as a protocol")
        if number == 0:
            raise ValueError("Invalid protocol specified")
        proto = number
    if not with_protocol:
        first, last = _split_range(rest)
        return (None, _port_number(first, proto),
                _port_number(last, proto) if last is not None else None)
    if proto == IPPROTO_ICMP:
        if family == "inet6":
            raise ValueError("ICMP can be used with IPv4 sets only (use icmpv6)")
        return proto, _icmp_value(rest, _ICMP_BY_NAME, "ICMP"), None
    if proto == IPPROTO_ICMPV6:
        if family != "inet6":
            raise ValueError("ICMPv6 can be used with IPv6 sets only (use icmp)")
        return proto, _icmp_value(rest, _ICMPV6_BY_NAME, "ICMPv6"), None
    if proto in PORT_PROTOCOLS:
        first, last = _split_range(rest)
        return (proto, _port_number(first, proto),
                _port_number(last, proto) if last is not None else None)
    if rest != "0" and c_number(rest, 0, 65535) != 0:
        name = protocol_name(proto) or str(proto)
        raise ValueError(f"Protocol {name} can be used with pseudo port value 0 only.")
    return proto, 0, None


def format_port(proto: int | None, port: int) -> str:
    """`proto:port` as ipset prints it: ICMP by code name when it has one, other protocols by
    their /etc/protocols name (netbase's table, as iptables does) or number."""
    if proto is None:
        return str(port)
    name = protocol_name(proto) or str(proto)
    if proto == IPPROTO_ICMP:
        return f"{name}:{_ICMP_BY_CODE.get(port) or f'{port >> 8}/{port & 0xFF}'}"
    if proto == IPPROTO_ICMPV6:
        return f"{name}:{_ICMPV6_BY_CODE.get(port) or f'{port >> 8}/{port & 0xFF}'}"
    return f"{name}:{port}"


# --- words -----------------------------------------------------------------------------------

class Word(str):
    """A word of a line with the 1-based column where it starts (for error carets)."""

    column: int

    def __new__(cls, text: str, column: int) -> Word:
        word = super().__new__(cls, text)
        word.column = column
        return word


def split_words(line: str, column: int = 1) -> Iterator[Word]:
    """Words as `ipset restore` splits a line (its build_argv): blanks separate words, a
    double quote toggles quoting and is dropped, empty words vanish, and a word still inside
    quotes at the end of the line is lost, exactly as ipset loses it."""
    chars: list[str] = []
    start = 0
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            if not chars and not quoted:
                start = i
            quoted = not quoted
            continue
        if ch in " \t\r\n\v\f" and not quoted:
            if chars:
                yield Word("".join(chars), column + start)
                chars = []
            continue
        if not chars and not quoted:
            start = i
        chars.append(ch)
    if chars and not quoted:
        yield Word("".join(chars), column + start)
