"""Numbers as iptables reads them: C's strtoul and libxtables' wrappers around it.

iptables parses almost every number with strtoul(3) in base 0, so `0x10` is 16, `010` is 8,
leading blanks and a `+` are fine, and each option type then adds its own rules: a whole word
(`--ttl-eq`), a prefix followed by more text (`--icmp-type 3/4`), or a range whose ends may be
left out (`--espspi 4:`). What iptables-restore accepts, and the value it stores, depend on
these details, so they are reproduced here rather than approximated with Python's `int()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import OptArg, OptionError

__all__ = [
    "ANY16",
    "ANY32",
    "CNumber",
    "Range",
    "c_lower",
    "c_upper",
    "format_range",
    "parse_int_option",
    "parse_range_option",
    "service_or_number_port",
    "strtoul",
    "xt_strtoul",
]

Range = tuple[int, int]
"""An inclusive range of integers, (lowest, highest)."""

ANY16: Range = (0, 0xFFFF)
ANY32: Range = (0, 0xFFFFFFFF)

_C_SPACE = frozenset(" \t\n\v\f\r")
_ULONG_MAX = (1 << 64) - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class CNumber:
    """What strtoul returns: the value, where it stopped reading and whether it overflowed."""

    value: int
    end: int
    overflow: bool = False


def c_lower(text: str) -> str:
    """Lower case as C's tolower does it in the C locale: ASCII letters only."""
    return text.translate(_LOWER)


def c_upper(text: str) -> str:
    """Upper case as C's toupper does it in the C locale: ASCII letters only."""
    return text.translate(_UPPER)


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c + 32: c for c in range(ord("A"), ord("Z") + 1)}


def _digit(ch: str, base: int) -> int:
    index = _DIGITS.find(ch.lower()) if len(ch) == 1 and ch.isascii() else -1
    return index if 0 <= index < base else -1


def strtoul(text: str, base: int = 0, start: int = 0) -> CNumber | None:
    """glibc strtoul on `text[start:]`; None when no digit was read (no conversion).

    Base 0 picks hex after `0x` (only when a hex digit follows: `0x` alone reads as 0 and
    stops at the `x`), octal after a leading `0`, else decimal. A `-` negates modulo 2**64 as C
    does; overflow saturates at ULONG_MAX and sets `overflow` (ERANGE).
    """
    i = start
    n = len(text)
    while i < n and text[i] in _C_SPACE:
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
    value = 0
    while i < n:
        d = _digit(text[i], base)
        if d < 0:
            break
        value = value * base + d
        i += 1
    if i == first:
        return None
    if value > _ULONG_MAX:
        return CNumber(_ULONG_MAX, i, True)
    if negative:
        value = (-value) & _ULONG_MAX
    return CNumber(value, i)


def xt_strtoul(text: str, lo: int, hi: int, *, whole: bool = True,
               start: int = 0) -> CNumber | None:
    """libxtables' xtables_strtoul: strtoul in base 0 that refuses a leading `-`, overflow and
    values outside lo..hi; with `whole`, nothing may follow the number."""
    i = start
    while i < len(text) and text[i] in _C_SPACE:
        i += 1
    if text[i : i + 1] == "-":
        return None
    number = strtoul(text, 0, start)
    if number is None or number.overflow or not lo <= number.value <= hi:
        return None
    if whole and number.end != len(text):
        return None
    return number


def parse_int_option(arg: OptArg, lo: int, hi: int, index: int = 0) -> int:
    """An integer option (XTTYPE_UINT8/16/32): the whole word, in lo..hi."""
    text = arg.values[index]
    number = xt_strtoul(text, lo, hi)
    if number is None:
        raise OptionError(f"bad value `{text}' for --{arg.name}: expected a number "
                          f"{lo}-{hi}", arg.value_column(index))
    return number.value


def parse_range_option(arg: OptArg, hi: int) -> Range:
    """A range option (XTTYPE_UINT*RC): `n`, `lo:hi`, `lo:`, `:hi`, `:` or even an empty word.

    A missing low end is 0 and a missing high end is `hi`; a single number n means n:n (what
    every extension using these types does with one component). Ends are not checked for
    order: the extensions that care say so themselves.
    """
    text = arg.value
    column = arg.value_column()
    values: list[int] = []
    pos = 0
    while True:
        if len(values) == 2:
            raise OptionError(f"too many `:' in --{arg.name} `{text}' (at most lo:hi)", column)
        if pos >= len(text) or text[pos] == ":":
            end = pos
            value = hi if len(values) == 1 else 0
        else:
            number = xt_strtoul(text, 0, hi, whole=False, start=pos)
            if number is None:
                raise OptionError(f"bad value for --{arg.name} near `{text[pos:]}': expected "
                                  f"a number 0-{hi}", column + pos)
            end = number.end
            if end < len(text) and text[end] != ":":
                raise OptionError(f"unexpected characters `{text[end:]}' in --{arg.name}",
                                  column + end)
            value = number.value
        values.append(value)
        if end >= len(text):
            break
        pos = end + 1
    if len(values) == 1:
        return (values[0], values[0])
    return (values[0], values[1])


def format_range(value: Range) -> str:
    """`n` for a single value, else `lo:hi`, as every save function here prints ranges."""
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}:{hi}"


def service_or_number_port(text: str) -> int | None:
    """A port as getaddrinfo(NULL, text) gives it (libxtables' xtables_getportbyname).

    glibc reads a number with strtoul in base 10 into an int: anything that is entirely a
    number is taken modulo 2**16 unless its low 32 bits are negative as an int (then, like a
    word, it is looked up as a service name and fails). Other words are service names of any
    protocol, case-sensitive.
    """
    from ..services import service_port

    number = strtoul(text, 10)
    if number is not None and number.end == len(text):
        as_int = number.value & 0xFFFFFFFF
        if as_int < 0x80000000:
            return as_int & 0xFFFF
        return None
    return service_port(text)
