"""Addresses as the target extensions read them (XTTYPE_HOST, XTTYPE_HOSTMASK, XTTYPE_PLENMASK).

These differ from `-s`/`-d`: iptables hands the text to getaddrinfo, so IPv4 takes the classic
inet_aton forms (`10` is 0.0.0.10, `10.1` is 10.0.0.1, `012.0.0.1` is octal) and a host name is
looked up in DNS. A lookup would make parsing depend on the machine, so names are refused here
with a message that says so. A mask after `/` is a prefix length or an address-shaped mask; a
mask with holes silently becomes a full-length prefix, as xtables turns its -1 into 255.
"""

from __future__ import annotations

import socket

from ..nodes import Family
from ._inet import NON_CIDR, numeric_host, parse_plen
from .base import OptArg, OptionError

__all__ = ["host_text", "parse_host", "parse_hostmask", "parse_plenmask"]


def _looks_numeric(text: str, family: Family) -> bool:
    if family is Family.INET:
        return bool(text) and all(ch in "0123456789." for ch in text)
    return ":" in text


def parse_host(text: str, family: Family, arg: OptArg, index: int = 0) -> int:
    """One address, as getaddrinfo reads a numeric host of the rule's family."""
    value = numeric_host(text, family)
    if value is not None:
        return value
    column = arg.value_column(index)
    if _looks_numeric(text, family) or (family is Family.INET6 and "." in text
                                        and numeric_host(text, Family.INET) is not None):
        raise OptionError(f"host/network `{text}' not found", column)
    raise OptionError(f"`{text}' is not a numeric {family.value} address (iptables would look "
                      "the name up in DNS; write the address)", column)


def parse_plenmask(text: str, family: Family, arg: OptArg, index: int = 0) -> int:
    """A prefix length `0..bits`, or a mask written as an address (XTTYPE_PLENMASK)."""
    bits = family.bits
    length = parse_plen(text, family)
    if length is None:
        raise OptionError(f"bad value for option \"--{arg.name}\", neither a valid network mask "
                          f"nor valid CIDR (0-{bits})", arg.value_column(index))
    return bits if length == NON_CIDR else length  # a mask with holes: xtables' 255


def parse_hostmask(arg: OptArg, family: Family, index: int = 0) -> tuple[int, int]:
    """`address[/mask]` (XTTYPE_HOSTMASK): the address as given and the prefix length."""
    text = arg.values[index]
    host, slash, mask_text = text.partition("/")
    address = parse_host(host, family, arg, index)
    if not slash:
        return address, family.bits
    return address, parse_plenmask(mask_text, family, arg, index)


def host_text(value: int, family: Family) -> str:
    """An address as xtables prints it (inet_ntop)."""
    if family is Family.INET:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
