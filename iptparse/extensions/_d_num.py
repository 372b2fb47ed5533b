"""Numbers as the target extensions read them: C's strtoul and the xtables wrappers around it.

iptables reads most numbers with `strtoul(arg, &end, 0)`, so `0x10`, `020` and `16` are the
same value, leading blanks and `+` pass, and a leading `-` is refused by xtables itself. The
exact rules matter both ways: a value the kernel oracle accepts must parse here, and one
iptables refuses (`08`, `1_000`, `0x`) must be refused with the same reason.
"""

from __future__ import annotations

import string

from .base import OptArg, OptionError

__all__ = [
    "U32",
    "c_strtoul",
    "opt_range_error",
    "parse_markmask",
    "xt_uint",
    "xt_uint_arg",
]

U32 = 0xFFFFFFFF
_WHITE = " \t\n\v\f\r"


def c_strtoul(text: str, base: int = 0) -> tuple[int, str] | None:
    """strtoul's reading of `text`: (value, rest), or None when no digit was read.

    A negative number wraps around as in C (`-1` is ULONG_MAX); callers that follow xtables
    refuse a leading `-` before calling this.
    """
    pos = 0
    n = len(text)
    while pos < n and text[pos] in _WHITE:
        pos += 1
    negative = False
    if pos < n and text[pos] in "+-":
        negative = text[pos] == "-"
        pos += 1
    if base in (0, 16) and text[pos:pos + 2].lower() == "0x" and pos + 2 < n \
            and text[pos + 2] in string.hexdigits:
        pos += 2
        base = 16
    elif base == 0:
        base = 8 if text[pos:pos + 1] == "0" else 10
    start = pos
    digits = string.digits[:base] if base <= 10 else string.hexdigits
    while pos < n and text[pos] in digits:
        pos += 1
    if pos == start:
        return None
    value = int(text[start:pos], base)
    if negative:
        value = (-value) & 0xFFFFFFFFFFFFFFFF
    return value, text[pos:]


def _negative(text: str) -> bool:
    return text.lstrip(_WHITE).startswith("-")


def opt_range_error(arg: OptArg, lo: int, hi: int, index: int = 0) -> OptionError:
    """The message xtables gives for a bad or out-of-range number."""
    return OptionError(f"bad value for option \"--{arg.name}\", or out of range ({lo}-{hi})",
                       arg.value_column(index))


def xt_uint(text: str, lo: int, hi: int) -> int | None:
    """xtables_strtoui over the whole text (base 0): the value, or None when iptables refuses."""
    if _negative(text):
        return None
    got = c_strtoul(text)
    if got is None or got[1]:
        return None
    value = got[0]
    return value if lo <= value <= hi else None


def xt_uint_arg(arg: OptArg, lo: int, hi: int, index: int = 0) -> int:
    """An option's integer argument, refused exactly where xtables refuses it."""
    value = xt_uint(arg.values[index], lo, hi)
    if value is None:
        raise opt_range_error(arg, lo, hi, index)
    return value


def parse_markmask(arg: OptArg, index: int = 0) -> tuple[int, int]:
    """`value[/mask]` (XTTYPE_MARKMASK32): 32-bit numbers, the mask 0xffffffff when absent."""
    text = arg.values[index]
    bad = OptionError(f"bad integer value for option \"--{arg.name}\", or out of range.",
                      arg.value_column(index))
    if _negative(text):
        raise bad
    got = c_strtoul(text)
    if got is None or got[0] > U32:
        raise bad
    value, rest = got
    if not rest:
        return value, U32
    if rest[0] != "/":
        raise bad
    mask = xt_uint(rest[1:], 0, U32)
    if mask is None:
        raise bad
    return value, mask
