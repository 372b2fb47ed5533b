"""Addresses and masks in extension options, as glibc and libxtables read them.

Extension options do not read addresses like `-s`/`-d`. A host (XTTYPE_HOST, HOSTMASK) goes
through getaddrinfo, so IPv4 takes the classic inet_aton forms (`10` is 0.0.0.10, `10.1` is
10.0.0.1, `012.0.0.1` is octal); --src-range and friends use xtables_numeric_to_ipaddr, where
missing parts are zero at the end instead (`10` is 10.0.0.0). A mask is a prefix length or an
address-shaped mask, and one with holes becomes libxtables' prefix length 255 (all ones in the
end). Names are never resolved: a dump must read the same on every machine. The extensions
that read these options word their refusals themselves.
"""

from __future__ import annotations

import socket
from functools import lru_cache

from ..nodes import Family
from ._cnum import U8, U16, U32, strtoul, xt_strtoul, xt_uint

__all__ = [
    "NON_CIDR",
    "inet_aton_exact",
    "mask_to_plen",
    "numeric_host",
    "numeric_to_ipaddr",
    "numeric_to_ipaddr6",
    "parse_plen",
    "plen_to_mask",
]

#: What libxtables stores as a prefix length for a dotted mask that is not a prefix.
NON_CIDR = 255


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
        got = strtoul(text, 0, pos)
        if got is None or got.overflow or got.value > U32:
            return None
        pos = got.end
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
        got = xt_uint(piece, 0, U8)
        if got is None:
            return None
        value |= got << (24 - 8 * index)
        if dot < 0:
            return value
        rest = rest[dot + 1:]
    got = xt_uint(rest, 0, U8)
    return None if got is None else value | got


def numeric_to_ipaddr6(text: str) -> int | None:
    """inet_pton(AF_INET6), as xtables_numeric_to_ip6addr uses it."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=4096)  # a pure function, and dumps repeat their masks by the thousand
def numeric_host(text: str, family: Family) -> int | None:
    """A numeric host as getaddrinfo reads it for the family; None when it is not one (a name,
    or an IPv6 scope id, which names an interface of the loading machine)."""
    if family is Family.INET:
        return inet_aton_exact(text)
    if "%" in text:
        return None
    return numeric_to_ipaddr6(text)


def mask_to_plen(mask: int, family: Family) -> int:
    """xtables_ipmask_to_cidr: the prefix length of a mask, NON_CIDR when it has holes."""
    bits = family.bits
    inverted = ((1 << bits) - 1) ^ mask
    if inverted & (inverted + 1):
        return NON_CIDR
    return bits - inverted.bit_length()


def plen_to_mask(plen: int, family: Family) -> int:
    """The mask of a prefix length; NON_CIDR (or anything too long) gives the full mask."""
    bits = family.bits
    if plen > bits:
        plen = bits
    return ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)


def parse_plen(text: str, family: Family) -> int | None:
    """XTTYPE_PLEN / the mask of XTTYPE_HOSTMASK: a prefix length 0..32/128, or a dotted/colon
    mask turned into one (NON_CIDR when it has holes); None when the text is neither."""
    number = xt_strtoul(text, 0, family.bits)
    if number is not None:
        return number.value
    mask = numeric_host(text, family)
    if mask is None:
        return None
    return mask_to_plen(mask, family)
