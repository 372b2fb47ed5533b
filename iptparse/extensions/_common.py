"""Value parsers shared by several extensions (ports, port ranges, flags)."""

from __future__ import annotations

from ..services import service_port
from ._cnum import strtoul
from .base import OptionError

__all__ = ["PortRange", "format_port_range", "parse_port", "parse_port_range"]

PortRange = tuple[int, int]


def parse_port(text: str, protocol: str | None, column: int = 0, *, base: int = 0) -> int:
    """A port number 0-65535 or a service name. iptables 1.8.9 reads tcp ports with
    strtoul(…, 0) (`010` is 8, `0x10` is 16) and udp ports in decimal (`010` is 10, `0x10` is
    no port); both take a leading `+`."""
    number = strtoul(text, base)
    if (number is not None and number.end == len(text) and not number.overflow
            and not text.startswith("-") and number.value <= 0xFFFF):
        return number.value
    port = service_port(text, protocol)
    if port is not None:
        return port
    raise OptionError(f"invalid port/service `{text}' specified", column)


def parse_port_range(text: str, protocol: str | None, column: int = 0, *,
                     base: int = 0) -> PortRange:
    """`port`, `lo:hi`, `lo:` or `:hi` (missing ends are 0 and 65535)."""
    lo_text, colon, hi_text = text.partition(":")
    if not colon:
        port = parse_port(text, protocol, column, base=base)
        return (port, port)
    lo = parse_port(lo_text, protocol, column, base=base) if lo_text else 0
    hi = parse_port(hi_text, protocol, column, base=base) if hi_text else 0xFFFF
    if lo > hi:
        raise OptionError(f"invalid portrange ({lo}:{hi}): start port is greater than end",
                          column)
    return (lo, hi)


def format_port_range(ports: PortRange) -> str:
    lo, hi = ports
    return str(lo) if lo == hi else f"{lo}:{hi}"
