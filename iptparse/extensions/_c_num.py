"""Numbers, addresses and protocol names read the way libxtables and glibc read them.

The host/socket matches take their values through strtoul(…, 0), xtables_strtoui, inet_aton,
getprotobyname and getaddrinfo's numeric service parser. Each accepts spellings Python's int()
reads differently or not at all (`010` is octal, `0x` stops after the 0, ` 7` and `+7` are 7,
`1_0` is garbage, a port `65537` wraps to 1), and restore files written by hand use them. These
readers reproduce the C behaviour so a rule loads here exactly when it loads in the kernel.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

from ..nodes import Family
from ..protocols import _NETBASE, _XTABLES
from ..services import service_port
from .base import OptionError

__all__ = [
    "U8",
    "U16",
    "U32",
    "Strtoul",
    "c_strtoul",
    "inet_aton_exact",
    "numeric_host",
    "numeric_to_ipaddr",
    "numeric_to_ipaddr6",
    "xt_parse_protocol",
    "xt_port_by_name",
    "xt_strtoui",
    "xt_uint_option",
]

U8 = 0xFF
U16 = 0xFFFF
U32 = 0xFFFF_FFFF
_ULONG_MAX = (1 << 64) - 1
_SPACE = " \t\n\v\f\r"
_HEX = "0123456789abcdefABCDEF"


class Strtoul(NamedTuple):
    """What strtoul returns: the value (wrapped as C does), where it stopped, and ERANGE."""

    value: int
    end: int
    overflow: bool = False

    @property
    def converted(self) -> bool:
        """False when no digit was read (C then sets endptr to the start of the string)."""
        return self.end > 0


def c_strtoul(text: str, base: int = 0) -> Strtoul:
    """glibc strtoul: leading blanks, a sign, the 0/0x prefixes of `base`, saturating at 2**64-1.

    A minus sign negates the value modulo 2**64, as C does; callers that must refuse it (as
    xtables_strtoul_base does) check for it themselves.
    """
    i, n = 0, len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    if base in (0, 16) and text[i:i + 2] in ("0x", "0X") and i + 2 < n and text[i + 2] in _HEX:
        i += 2
        base = 16
    elif base == 0:
        base = 8 if text[i:i + 1] == "0" else 10
    digits = _HEX if base == 16 else _HEX[:base]
    start = i
    while i < n and text[i] in digits:
        i += 1
    if i == start:
        return Strtoul(0, 0)
    value = int(text[start:i], base)
    if value > _ULONG_MAX:
        return Strtoul(_ULONG_MAX, i, True)
    if negative:
        value = (-value) & _ULONG_MAX
    return Strtoul(value, i)


def xt_strtoui(text: str, lo: int, hi: int, *, whole: bool = True) -> tuple[int, int] | None:
    """xtables_strtoui: (value, end) for lo <= value <= hi, else None.

    As in libxtables a leading '-' (after blanks) is refused, so are strings without a digit
    and values that overflowed; with `whole` the number must end the string.
    """
    stripped = text.lstrip(_SPACE)
    if stripped.startswith("-"):
        return None
    got = c_strtoul(text, 0)
    if not got.converted or got.overflow or not lo <= got.value <= hi:
        return None
    if whole and got.end != len(text):
        return None
    return got.value, got.end


def xt_uint_option(text: str, lo: int, hi: int, option: str, column: int) -> int:
    """An XTTYPE_UINT* option value, with iptables' refusal when it is not one."""
    got = xt_strtoui(text, lo, hi)
    if got is None:
        raise OptionError(f"bad value `{text}' for option --{option}, or out of range "
                          f"({lo}-{hi})", column)
    return got[0]


def inet_aton_exact(text: str) -> int | None:
    """glibc's __inet_aton_exact (what getaddrinfo uses for numeric IPv4 hosts).

    Parts are C numbers (octal, hex); `a`, `a.b`, `a.b.c` fill the last part into the low bytes:
    `10` is 0.0.0.10 and `10.1` is 10.0.0.1. Nothing may follow the last part.
    """
    limits = (U32, 0xFF_FFFF, U16, U8)
    parts: list[int] = []
    pos = 0
    while True:
        if pos >= len(text) or not text[pos].isdigit():
            return None
        got = c_strtoul(text[pos:], 0)
        if got.overflow or got.value > U32:
            return None
        pos += got.end
        if pos < len(text) and text[pos] == ".":
            if len(parts) > 2 or got.value > U8:
                return None
            parts.append(got.value)
            pos += 1
            continue
        break
    if pos != len(text) or got.value > limits[len(parts)]:
        return None
    value = got.value
    for index, byte in enumerate(parts):
        value |= byte << (24 - 8 * index)
    return value


def numeric_to_ipaddr(text: str) -> int | None:
    """libxtables' xtables_numeric_to_ipaddr, used by --src-range and friends.

    Unlike inet_aton, missing parts are zero at the *end* (`10` is 10.0.0.0); each part is an
    xtables_strtoui number 0-255, and only the first 19 characters are looked at (the C code
    copies the text into a 20-byte buffer).
    """
    rest = text[:19]
    value = 0
    for index in range(3):
        dot = rest.find(".")
        piece = rest if dot < 0 else rest[:dot]
        got = xt_strtoui(piece, 0, U8)
        if got is None:
            return None
        value |= got[0] << (24 - 8 * index)
        if dot < 0:
            return value
        rest = rest[dot + 1:]
    got = xt_strtoui(rest, 0, U8)
    return None if got is None else value | got[0]


def numeric_to_ipaddr6(text: str) -> int | None:
    """inet_pton(AF_INET6), as xtables_numeric_to_ip6addr uses it."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None


def numeric_host(text: str, family: Family) -> int | None:
    """A numeric host as getaddrinfo reads it for the family (no name resolution)."""
    if family is Family.INET:
        return inet_aton_exact(text)
    if "%" in text:
        return None  # a scope id names an interface of the loading machine
    return numeric_to_ipaddr6(text)


# protocol names: getprotobyname() is case-sensitive, unlike -p (which iptables lowercases)
_PROTO_BY_NAME: dict[str, int] = {}
for _name, _num, _aliases in _NETBASE:
    for _spelling in (_name, *_aliases):
        _PROTO_BY_NAME.setdefault(_spelling, _num)
for _name, _num in _XTABLES:
    _PROTO_BY_NAME.setdefault(_name, _num)


def xt_parse_protocol(text: str) -> int | None:
    """xtables_parse_protocol: a number 0-255, `all`, or a name/alias in exact letter case."""
    got = xt_strtoui(text, 0, U8)
    if got is not None:
        return got[0]
    return _PROTO_BY_NAME.get(text)


def xt_port_by_name(text: str) -> int | None:
    """xtables_getportbyname: getaddrinfo's service parser, then any /etc/services name.

    A decimal number (blanks and a sign allowed, as strtoul reads them) is truncated to a C int
    and must not be negative; the port is its low 16 bits, so `65537` is port 1.
    """
    got = c_strtoul(text, 10)
    if got.end == len(text) and (got.converted or text == ""):
        as_int = got.value & U32
        if as_int >= 1 << 31:
            return None
        return as_int & U16
    return service_port(text, None)
