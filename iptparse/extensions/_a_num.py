"""Numbers, rates and addresses exactly as libxtables and the C library read them.

iptables leans on strtoul(…, 0), atoi, strtod and getaddrinfo; each accepts forms that Python's
own int()/float()/ipaddress reject or read differently (`010` is octal, `0x` stops after the 0,
`3x/sec` is 3, `10` as an IPv4 host is 0.0.0.10, `1_0` is garbage). Dumps and restore files are
full of such spellings, so the match extensions of this group share these faithful readers.
"""

from __future__ import annotations

import re
import socket

from ..nodes import Family

__all__ = [
    "NON_CIDR",
    "U8",
    "U16",
    "U32",
    "U64",
    "c_atoi",
    "c_strtod",
    "c_strtoul",
    "inet_aton",
    "mask_to_plen",
    "parse_host",
    "parse_plen",
    "plen_to_mask",
    "xt_strtoul",
]

U8 = 0xFF
U16 = 0xFFFF
U32 = 0xFFFF_FFFF
U64 = 0xFFFF_FFFF_FFFF_FFFF

#: What libxtables stores as a prefix length for a dotted mask that is not a prefix.
NON_CIDR = 255

_SPACE = " \t\n\v\f\r"
_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def c_strtoul(text: str, base: int = 0) -> tuple[int, int] | None:
    """strtoumax: (value, index where parsing stopped), None when no digit was read.

    A value past 2**64-1 comes back as 2**64 so callers see it out of any u64 range, as ERANGE
    makes xtables refuse it. A leading '-' is refused here, as xtables_strtoul_base does.
    """
    i, n = 0, len(text)
    while i < n and text[i] in _SPACE:
        i += 1
    if i < n and text[i] == "-":
        return None
    if i < n and text[i] == "+":
        i += 1
    if base == 0:
        if text[i : i + 2] in ("0x", "0X") and i + 2 < n and text[i + 2] in _DIGITS[16]:
            base, i = 16, i + 2
        elif text[i : i + 1] == "0":
            base = 8
        else:
            base = 10
    start = i
    while i < n and text[i] in _DIGITS[base]:
        i += 1
    if i == start:
        return None
    value = int(text[start:i], base)
    return (min(value, U64 + 1), i)


def xt_strtoul(text: str, lo: int, hi: int, base: int = 0) -> int | None:
    """xtables_strtoul_base without an end pointer: the whole word, within lo..hi, or None."""
    got = c_strtoul(text, base)
    if got is None:
        return None
    value, end = got
    if end != len(text) or not lo <= value <= hi:
        return None
    return value


def c_atoi(text: str, bits: int = 32) -> int:
    """glibc atoi (bits=32) / atoll (bits=64): strtol base 10, clamped to a 64-bit long,
    then cut to the result type with its sign."""
    m = re.match(r"[ \t\n\v\f\r]*([+-]?)(\d*)", text)
    assert m is not None
    if not m.group(2):
        return 0
    value = int(m.group(2))
    if m.group(1) == "-":
        value = -value
    value = max(-(1 << 63), min((1 << 63) - 1, value))
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


_FLOAT = re.compile(
    r"""[ \t\n\v\f\r]*(?P<num>[+-]?(?:
        0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?
      | (?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)
      | (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?
    ))""",
    re.VERBOSE | re.IGNORECASE,
)


def c_strtod(text: str) -> tuple[float, int] | None:
    """strtod: (value, index where parsing stopped), None when nothing was read."""
    m = _FLOAT.match(text)
    if m is None:
        return None
    num = m.group("num")
    body = num.lstrip("+-")
    sign = -1.0 if num.startswith("-") else 1.0
    if body[:2].lower() == "0x":
        value = float.fromhex(body)
    elif body[:3].lower() == "nan":
        value = float("nan")
    else:
        value = float(body)
    return (sign * value, m.end())


def inet_aton(text: str) -> int | None:
    """glibc inet_aton as getaddrinfo uses it (whole string): `10` is 0.0.0.10, `1.2` 1.0.0.2."""
    parts: list[int] = []
    pos = 0
    while True:
        if pos >= len(text) or not text[pos].isdigit():
            return None
        got = c_strtoul(text[pos:])
        if got is None:
            return None
        value, used = got
        if value > U32:
            return None
        pos += used
        if pos < len(text) and text[pos] == ".":
            if len(parts) > 2 or value > 0xFF:
                return None
            parts.append(value)
            pos += 1
            continue
        break
    if pos != len(text):
        return None
    limit = (U32, 0xFFFFFF, 0xFFFF, 0xFF)[len(parts)]
    if value > limit:
        return None
    result = value
    for index, part in enumerate(parts):
        result |= part << (24 - 8 * index)
    return result


def parse_host(text: str, family: Family) -> int | None:
    """A numeric host as getaddrinfo reads it for the family, None if it is not one.

    Names are not resolved: a dump must read the same on every machine.
    """
    if family is Family.INET:
        return inet_aton(text)
    if "%" in text:
        return None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        return None


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
    """XTTYPE_PLEN: a prefix length 0..32/128, or a dotted/colon mask turned into one.

    A mask with holes gives NON_CIDR, as libxtables stores it; None when the text is neither.
    """
    value = xt_strtoul(text, 0, family.bits)
    if value is not None:
        return value
    mask = parse_host(text, family)
    if mask is None:
        return None
    return mask_to_plen(mask, family)
