"""Connection-tracking vocabulary shared by the state and conntrack matches.

States and statuses are bit sets in the kernel (xt_conntrack.h, nf_conntrack_common.h); both
modules read comma lists where each word may be abbreviated to any prefix (strncasecmp over the
word's length, first name in table order wins) and print the bits in a fixed order.
"""

from __future__ import annotations

import enum
import re

from ..nodes import Family
from ._cnum import U16, U64
from ._inet import NON_CIDR, numeric_host, parse_plen, plen_to_mask
from .base import OptArg, OptionError

__all__ = [
    "STATE_PRINT_ORDER",
    "STATUS_PRINT_ORDER",
    "CtState",
    "CtStatus",
    "format_states",
    "format_statuses",
    "parse_getaddrinfo_port",
    "parse_host_mask",
    "parse_states",
    "parse_statuses",
]


class CtState(enum.Flag):
    """Connection states as xt_conntrack numbers them (1 << (ctinfo + 1) and virtual bits)."""

    INVALID = 1
    ESTABLISHED = 2
    RELATED = 4
    NEW = 8
    SNAT = 64
    DNAT = 128
    UNTRACKED = 256


class CtStatus(enum.Flag):
    """Conntrack status bits (IPS_*); the empty set is written NONE."""

    NONE = 0
    EXPECTED = 1
    SEEN_REPLY = 2
    ASSURED = 4
    CONFIRMED = 8


# Parse order decides what an abbreviation means ("N" is NEW); print order is iptables'.
_STATE_PARSE_ORDER = ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT")
STATE_PRINT_ORDER = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT")
_STATUS_PARSE_ORDER = ("NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")
STATUS_PRINT_ORDER = ("EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED")


def _word(word: str, names: tuple[str, ...]) -> str | None:
    """The first name that `word` abbreviates (case-insensitive prefix), as strncasecmp finds."""
    if not word:
        return None
    upper = word.upper()
    for name in names:
        if name.startswith(upper):
            return name
    return None


def _split(arg: OptArg, names: tuple[str, ...], what: str) -> list[str]:
    text = arg.value
    found = []
    pos = 0
    for word in text.split(","):
        name = _word(word, names)
        if name is None:
            raise OptionError(f'Bad {what} "{text[pos:]}"', arg.value_column() + pos)
        found.append(name)
        pos += len(word) + 1
    return found


def parse_states(arg: OptArg, allowed: tuple[str, ...] = _STATE_PARSE_ORDER) -> CtState:
    """`NEW,ESTABLISHED` and abbreviations; `allowed` narrows the names (the state match)."""
    what = "ctstate" if arg.name == "ctstate" else "state"
    value = CtState(0)
    for name in _split(arg, allowed, what):
        value |= CtState[name]
    return value


def parse_statuses(arg: OptArg) -> CtStatus:
    value = CtStatus.NONE
    for name in _split(arg, _STATUS_PARSE_ORDER, "ctstatus"):
        value |= CtStatus[name]
    return value


def format_states(states: CtState) -> str:
    return ",".join(name for name in STATE_PRINT_ORDER if CtState[name] in states)


def format_statuses(status: CtStatus) -> str:
    names = [name for name in STATUS_PRINT_ORDER if CtStatus[name] in status]
    return ",".join(names) if names else "NONE"


def parse_host_mask(arg: OptArg, family: Family) -> tuple[int, int]:
    """XTTYPE_HOSTMASK: `host[/len|/mask]` as (address as given, mask).

    A mask with holes, or a length past the family's, means the full mask (libxtables stores
    it so); the host part is kept unmasked, as the kernel keeps and prints it.
    """
    text = arg.value
    host, slash, mask_text = text.partition("/")
    address = numeric_host(host, family)
    if address is None:
        raise OptionError(f"`{host}' is not a numeric {'IPv4' if family is Family.INET else 'IPv6'}"
                          " address (host names are not resolved)", arg.value_column())
    if not slash:
        return address, plen_to_mask(family.bits, family)
    plen = parse_plen(mask_text, family)
    if plen is None:
        raise OptionError(f'bad value for option "--{arg.name}", neither a valid network mask '
                          f"nor valid CIDR (0-{family.bits})",
                          arg.value_column() + len(host) + 1)
    return address, plen_to_mask(family.bits if plen == NON_CIDR else plen, family)


_NUMERIC_SERVICE = re.compile(r"[ \t\n\v\f\r]*([+-]?)(\d+)")


def parse_getaddrinfo_port(text: str) -> int | None:
    """A port as getaddrinfo(NULL, text) gives it: decimal (cut to 16 bits) or a service name."""
    from ..services import service_port

    m = _NUMERIC_SERVICE.fullmatch(text)
    if m is not None:
        value = min(int(m.group(2)), U64)
        if m.group(1) == "-":
            value = (-value) & U64
        return value & U16
    return service_port(text, None)
