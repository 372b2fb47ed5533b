"""Addresses and masks as iptables reads and prints them.

Printing goes through the C library's inet_ntop (socket.inet_ntop), the same routine iptables
uses, so forms like `::ffff:127.0.0.1` come out exactly as iptables-save writes them.
"""

from __future__ import annotations

import socket

from .nodes import Address, Family

__all__ = [
    "AddressError",
    "format_address",
    "format_ip",
    "parse_address",
    "parse_ip",
    "prefix_mask",
]


class AddressError(ValueError):
    pass


def prefix_mask(length: int, family: Family) -> int:
    bits = family.bits
    return ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)


_INET = socket.AF_INET


def parse_ip(text: str, family: Family) -> int:
    """One address as an integer; IPv4 accepts iptables' short forms (`10` is 10.0.0.0)."""
    if family is Family.INET:
        try:
            # a full dotted quad: inet_pton accepts exactly those (no leading zeros), and
            # reads them as the loop below does, in C
            return int.from_bytes(socket.inet_pton(_INET, text), "big")
        except OSError:
            pass
        parts = text.split(".")
        if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
            raise AddressError(f"host/network `{text}' not found")
        values = [int(p) for p in parts]
        if any(v > 255 for v in values):
            raise AddressError(f"host/network `{text}' not found")
        values += [0] * (4 - len(values))
        return (values[0] << 24) | (values[1] << 16) | (values[2] << 8) | values[3]
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        raise AddressError(f"host/network `{text}' not found") from None


_PREFIXES = {(str(n), family): prefix_mask(n, family) for family in Family
             for n in range(family.bits + 1)}


def _parse_mask(text: str, family: Family) -> int:
    known = _PREFIXES.get((text, family))
    if known is not None:
        return known
    if text.isdigit():
        length = int(text)
        if length > family.bits:
            raise AddressError(f"invalid mask `{text}' specified")
        return prefix_mask(length, family)
    try:
        return parse_ip(text, family) if family is Family.INET6 or text.count(".") == 3 else -1
    except AddressError:
        raise AddressError(f"invalid mask `{text}' specified") from None


def parse_address(text: str, family: Family) -> Address:
    """`addr[/len|/mask]` as -s/-d take it; the address is masked as iptables does."""
    host, slash, mask_text = text.partition("/")
    if slash:
        mask = _parse_mask(mask_text, family)
        if mask < 0:
            raise AddressError(f"invalid mask `{mask_text}' specified")
    else:
        mask = (1 << family.bits) - 1
    if mask == 0:
        return Address(family, 0, 0)  # "any/0": the name is ignored, as in iptables
    value = parse_ip(host, family)
    return Address(family, value & mask, mask)


def format_ip(value: int, family: Family) -> str:
    if family is Family.INET:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def format_address(address: Address) -> str:
    """`addr/len`, or `addr/dotted-mask` when the mask is not a prefix (iptables-save form)."""
    length = address.prefix_length
    if length is not None:
        return f"{format_ip(address.address, address.family)}/{length}"
    return f"{format_ip(address.address, address.family)}/{format_ip(address.mask, address.family)}"
