"""Value parsers shared by several extensions (ports, port ranges, flags)."""

from __future__ import annotations

import re

from ..services import service_port
from .base import OptionError

__all__ = ["PortRange", "format_port_range", "parse_port", "parse_port_range"]

PortRange = tuple[int, int]


_C_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def parse_port(text: str, protocol: str | None, column: int = 0, *, base: int = 0) -> int:
    """A port number 0-65535 or a service name, as xtables_parse_port reads it: a single port
    is read like strtoul(…, 0) (`010` is 8, `0x10` is 16), a range's ends in decimal."""
    if base == 0 and _C_NUMBER.fullmatch(text):
        value = int(text, 16) if text[:2] in ("0x", "0X") else int(text, 8 if text[0] == "0"
                                                                  else 10)
        if value <= 0xFFFF:
            return value
    elif base == 10 and text.isdigit():
        value = int(text)
        if value <= 0xFFFF:
            return value
    else:
        port = service_port(text, protocol)
        if port is not None:
            return port
    raise OptionError(f"invalid port/service `{text}' specified", column)


def parse_port_range(text: str, protocol: str | None, column: int = 0) -> PortRange:
    """`port`, `lo:hi`, `lo:` or `:hi` (missing ends are 0 and 65535)."""
    lo_text, colon, hi_text = text.partition(":")
    if not colon:
        port = parse_port(text, protocol, column)
        return (port, port)
    lo = parse_port(lo_text, protocol, column, base=10) if lo_text else 0
    hi = parse_port(hi_text, protocol, column, base=10) if hi_text else 0xFFFF
    if lo > hi:
        raise OptionError(f"invalid portrange ({lo}:{hi}): start port is greater than end",
                          column)
    return (lo, hi)


def format_port_range(ports: PortRange) -> str:
    lo, hi = ports
    return str(lo) if lo == hi else f"{lo}:{hi}"
