"""Numbers, ports and protocols exactly as glibc and libxtables read them.

iptables reads almost every number with strtoul(3) in base 0 and wraps it in libxtables'
checks; each accepts spellings Python's int() reads differently or not at all (`010` is octal,
`0x` stops after the 0, ` +7` is 7, `-1` wraps, `1_0` is garbage, a port `65537` is 1). What
iptables-restore accepts and the value it stores depend on these details, so every extension
reads its numbers here. Each function names the C routine it reproduces; where iptables itself
reads the same kind of value two ways (a port through getaddrinfo for dccp/conntrack, through
strtoul for multiport), the two stay separate functions. Addresses are in `_inet`, the
option-level readers (with iptables' messages) in `_xtopt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..protocols import _NETBASE, _XTABLES
from ..services import service_port

__all__ = [
    "ANY16",
    "ANY32",
    "C_SPACE",
    "NOTHING",
    "U8",
    "U16",
    "U32",
    "U64",
    "CNumber",
    "Range",
    "c_atoi",
    "c_lower",
    "c_strtod",
    "c_upper",
    "getaddrinfo_port",
    "strtoul",
    "xt_parse_protocol",
    "xt_strtoul",
    "xt_uint",
]

U8 = 0xFF
U16 = 0xFFFF
U32 = 0xFFFF_FFFF
U64 = 0xFFFF_FFFF_FFFF_FFFF

Range = tuple[int, int]
"""An inclusive range of integers, (lowest, highest)."""

ANY16: Range = (0, U16)
ANY32: Range = (0, U32)

#: What C's isspace() calls blank in the C locale (strtoul skips it before a number).
C_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class CNumber:
    """What strtoul returns: the value, where it stopped reading and whether it overflowed."""

    value: int
    end: int
    overflow: bool = False


#: What C's strtoul gives when it reads no digit (0, the end pointer at the start): for
#: callers that follow C's convention, `strtoul(text) or NOTHING` (start 0 only).
NOTHING = CNumber(0, 0)


def c_lower(text: str) -> str:
    """Lower case as C's tolower does it in the C locale: ASCII letters only."""
    return text.translate(_LOWER)


def c_upper(text: str) -> str:
    """Upper case as C's toupper does it in the C locale: ASCII letters only."""
    return text.translate(_UPPER)


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c + 32: c for c in range(ord("A"), ord("Z") + 1)}


#: The ASCII digits of each common base (strtoul's isdigit/isalpha in the C locale: never
#: another script's digits, which Python's int() would read).
_DIGIT_RUNS = {8: re.compile("[0-7]+"), 10: re.compile("[0-9]+"),
               16: re.compile("[0-9a-fA-F]+")}


def _digit(ch: str, base: int) -> int:
    index = _DIGITS.find(ch.lower()) if len(ch) == 1 and ch.isascii() else -1
    return index if 0 <= index < base else -1


def strtoul(text: str, base: int = 0, start: int = 0) -> CNumber | None:
    """glibc strtoul on `text[start:]`; None when no digit was read (no conversion).

    Leading blanks and one sign pass. Base 0 picks hex after `0x` (only when a hex digit
    follows: `0x` alone reads as 0 and stops at the `x`), octal after a leading `0`, else
    decimal; base 16 also skips a `0x`. A `-` negates modulo 2**64 as C does; overflow
    saturates at ULONG_MAX and sets `overflow` (ERANGE).
    """
    i = start
    n = len(text)
    while i < n and text[i] in C_SPACE:
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    if base in (0, 16) and text[i : i + 2].lower() == "0x" and _digit(text[i + 2 : i + 3], 16) >= 0:
        i += 2
        base = 16
    elif base == 0:
        base = 8 if text[i : i + 1] == "0" else 10
    first = i
    run = _DIGIT_RUNS.get(base)
    if run is not None:  # the usual bases: the digits in one C-speed match
        found = run.match(text, i)
        if found is None:
            return None
        i = found.end()
        value = int(found.group(), base)
    else:
        value = 0
        while i < n:
            d = _digit(text[i], base)
            if d < 0:
                break
            value = value * base + d
            i += 1
    if i == first:
        return None
    if value > U64:
        return CNumber(U64, i, True)
    if negative:
        value = (-value) & U64
    return CNumber(value, i)


def xt_strtoul(text: str, lo: int, hi: int, *, whole: bool = True,
               start: int = 0) -> CNumber | None:
    """libxtables' xtables_strtoul_base (xtables_strtoui…) in base 0 on `text[start:]`.

    None where libxtables refuses: a leading `-` (after blanks), no digit, overflow, a value
    outside lo..hi, and with `whole` anything after the number (the C caller passed no end
    pointer); without `whole` the caller reads on from `end`.
    """
    i = start
    while i < len(text) and text[i] in C_SPACE:
        i += 1
    if text[i : i + 1] == "-":
        return None
    number = strtoul(text, 0, start)
    if number is None or number.overflow or not lo <= number.value <= hi:
        return None
    if whole and number.end != len(text):
        return None
    return number


def xt_uint(text: str, lo: int, hi: int) -> int | None:
    """xtables_strtoui over the whole word: the value, or None where iptables refuses it."""
    number = xt_strtoul(text, lo, hi)
    return None if number is None else number.value


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
    """glibc strtod: (value, index where parsing stopped), None when nothing was read."""
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


def getaddrinfo_port(text: str) -> int | None:
    """libxtables' xtables_getportbyname: getaddrinfo's service parser, then a service name.

    glibc reads a number with strtoul in base 10 (blanks and a sign pass) into an int: a word
    that is entirely a number is taken modulo 2**16 (`65537` is port 1; the empty word is 0)
    unless its low 32 bits are negative as an int, which fails. Other words are service names
    of any protocol, in exact letter case. (XTTYPE_PORT/PORTRC: dccp, ipvs; multiport reads
    its ports with strtoul instead.)
    """
    number = strtoul(text, 10) or NOTHING
    if number.end == len(text):
        as_int = number.value & U32
        if as_int >= 1 << 31:
            return None
        return as_int & U16
    return service_port(text, None)


# protocol names: getprotobyname() is case-sensitive, unlike -p (which iptables lowercases)
_PROTO_BY_NAME: dict[str, int] = {}
for _name, _num, _aliases in _NETBASE:
    for _spelling in (_name, *_aliases):
        _PROTO_BY_NAME.setdefault(_spelling, _num)
for _name, _num in _XTABLES:
    _PROTO_BY_NAME.setdefault(_name, _num)


def xt_parse_protocol(text: str) -> int | None:
    """xtables_parse_protocol: a number 0-255, `all`, or a name/alias in exact letter case."""
    number = xt_uint(text, 0, U8)
    if number is not None:
        return number
    return _PROTO_BY_NAME.get(text)
