"""Addresses with a mask as libxtables' XTTYPE_HOSTMASK reads them (policy, ipvs).

These options differ from -s/-d in three ways that show in iptables-save output: the address
is kept as written, not masked (`--tunnel-src 1.2.3.4/16` prints back so); a host is read by
getaddrinfo (`10` is 0.0.0.10, not 10.0.0.0); and a dotted mask that is not a prefix
silently becomes /32 (or /128), because libxtables stores its prefix length as 255.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..addresses import format_ip
from ..nodes import Address, Family
from ._inet import numeric_host, parse_plen, plen_to_mask
from .base import OptionError

__all__ = ["HostMask", "format_hostmask", "parse_hostmask"]


@dataclass(frozen=True, slots=True)
class HostMask:
    """An address as given and its mask; the kernel compares `(value ^ address) & mask`."""

    family: Family
    address: int
    mask: int

    def contains(self, value: int) -> bool:
        return ((value ^ self.address) & self.mask) == 0

    @property
    def network(self) -> Address:
        """The same set of addresses as an -s/-d style (masked) Address."""
        return Address(self.family, self.address & self.mask, self.mask)


def _host(text: str, family: Family, option: str, column: int) -> int:
    value = numeric_host(text, family)
    if value is None:
        if text and not any(ch.isdigit() for ch in text[:1]) and ":" not in text:
            raise OptionError(f"host name `{text}' for --{option} is not resolved: iptables "
                              f"would look it up on the loading machine; give an address",
                              column)
        raise OptionError(f"invalid {family.value} address `{text}' for --{option}", column)
    return value


def _mask(text: str, family: Family, option: str, column: int) -> int:
    plen = parse_plen(text, family)
    if plen is None:
        raise OptionError(f"bad mask `{text}' for --{option}: neither a network mask nor a "
                          f"prefix length (0-{family.bits})", column)
    return plen_to_mask(plen, family)  # NON_CIDR (not a prefix): all ones, as libxtables


def parse_hostmask(text: str, family: Family, option: str, column: int = 0) -> HostMask:
    """`addr[/len|/mask]`; without a mask the host is matched exactly."""
    host, slash, mask_text = text.partition("/")
    address = _host(host, family, option, column)
    mask = _mask(mask_text, family, option, column) if slash else (1 << family.bits) - 1
    return HostMask(family, address, mask)


def format_mask_suffix(mask: int, family: Family) -> str:
    """xtables_ipmask_to_numeric / ip6mask: empty for a host, /N for a prefix, else /mask."""
    bits = family.bits
    full = (1 << bits) - 1
    if mask == full:
        return ""
    inverted = mask ^ full
    if inverted & (inverted + 1) == 0:
        return f"/{bits - inverted.bit_length()}"
    return f"/{format_ip(mask, family)}"


def format_hostmask(value: HostMask) -> str:
    return format_ip(value.address, value.family) + format_mask_suffix(value.mask, value.family)
