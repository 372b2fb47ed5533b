"""Typed sets back to text, as `ipset save` or `ipset list` prints them.

Each style has lines the other lacks. Converting keeps what the text said and fills in the
rest the way ipset 7.17 would for a set just restored, where that can be known:

* save -> list: `Revision:` is the revision ipset 7.17 creates for the type (what it lists
  on a kernel that has the type); `References:` counts the list:set sets of the dump holding
  the set (iptables rules referring to it cannot be seen in a dump, so they are not counted);
  `Number of entries:` is the number of members. `Size in memory:` depends on the kernel's
  allocations and cannot be known: the line is left out, and parse_ipset reads such a
  listing back.
* list -> save: Revision, Size in memory, References and Number of entries have no place in
  save text and are dropped.

A set read from a listing that had no `Revision:` or `Number of entries:` line (old ipset, or
a test harness that stripped it) prints without it again, so such files round-trip unchanged.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Literal

from .elements import format_header, format_member
from .nodes import IpSet, IpsetDump, SetPart

__all__ = ["render_ipset", "render_set"]

Style = Literal["save", "list"]


def render_ipset(dump: IpsetDump, style: Style = "save") -> str:
    """The whole dump in one style; byte for byte what ipset printed when it was parsed from
    ipset's own output in that style."""
    if style == "save":
        return "".join(_save(s) for s in dump)
    if style != "list":
        raise ValueError(f"style must be 'save' or 'list', not {style!r}")
    references = _references(dump)
    return "\n".join(_listing(s, references.get(s.name, 0)) for s in dump)


def render_set(ipset: IpSet, style: Style = "save") -> str:
    """One set alone (a list:set's references cannot be counted without its dump)."""
    return render_ipset(IpsetDump((ipset,)), style)


def _save(ipset: IpSet) -> str:
    header = format_header(ipset.settype, ipset.header)
    lines = [f"create {ipset.name} {ipset.type}{' ' + header if header else ''}\n"]
    prefix = f"add {ipset.name} "
    lines.extend(f"{prefix}{text}\n" for text in _members(ipset))
    return "".join(lines)


def _members(ipset: IpSet) -> Iterator[str]:
    """Each member as text. Members the parser's fast path kept as numbers print without
    being turned into Member objects first (dumps of 200,000 entries)."""
    family = ipset.family or "inet"
    settype = ipset.settype
    raw = ipset.raw_items()
    if raw is None:
        for member in ipset.members:
            yield format_member(settype, family, member)
        return
    ntoa = socket.inet_ntoa
    for item in raw:
        if isinstance(item, tuple):
            _line, value, cidr = item
            text = ntoa(value.to_bytes(4, "big"))
            yield text if cidr == 32 else f"{text}/{cidr}"
        else:
            yield format_member(settype, family, item)


def _references(dump: IpsetDump) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in dump:
        if s.type == "list:set":
            for member in s.members:
                part = member.parts[0]
                if isinstance(part, SetPart):
                    counts[part.name] = counts.get(part.name, 0) + 1
    return counts


def _listing(ipset: IpSet, references: int) -> str:
    # a set read from a listing keeps its lines as they were (even absent ones)
    listed = any(v is not None for v in (ipset.revision, ipset.size_in_memory,
                                          ipset.references, ipset.entries))
    out = [f"Name: {ipset.name}\n", f"Type: {ipset.type}\n"]
    revision = ipset.revision
    if revision is None and not listed:
        revision = ipset.settype.revision
    if revision is not None:
        out.append(f"Revision: {revision}\n")
    header = format_header(ipset.settype, ipset.header)
    out.append(f"Header: {header}\n" if header else "Header:\n")
    if ipset.size_in_memory is not None:
        out.append(f"Size in memory: {ipset.size_in_memory}\n")
    refs = ipset.references if ipset.references is not None or listed else references
    if refs is not None:
        out.append(f"References: {refs}\n")
    entries = ipset.entries
    if entries is None and not listed:
        entries = len(ipset)
    if entries is not None:
        out.append(f"Number of entries: {entries}\n")
    out.append("Members:\n")
    out.extend(f"{text}\n" for text in _members(ipset))
    return "".join(out)
