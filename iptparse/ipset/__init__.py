"""ipset dumps: `ipset save` / `ipset restore` and `ipset list` text as typed sets.

`parse_ipset(text)` reads either style into an `IpsetDump` (a sequence of `IpSet`, also
indexed by name); `render_ipset(dump, style)` prints it back as ipset would; each `IpSet`
answers membership as the kernel does (`contains`, `lookup`, `test`).
"""

from __future__ import annotations

from .nodes import (
    EntryOptions,
    Header,
    IfacePart,
    IpPart,
    IpSet,
    IpsetDump,
    MacPart,
    MarkPart,
    Member,
    Part,
    PortPart,
    SetPart,
)
from .normalize import canonical
from .packet import PacketFields, match_packet
from .parser import parse_ipset
from .render import render_ipset

__all__ = [
    "EntryOptions",
    "Header",
    "IfacePart",
    "IpPart",
    "IpSet",
    "IpsetDump",
    "MacPart",
    "MarkPart",
    "Member",
    "PacketFields",
    "Part",
    "PortPart",
    "SetPart",
    "canonical",
    "match_packet",
    "parse_ipset",
    "render_ipset",
]
