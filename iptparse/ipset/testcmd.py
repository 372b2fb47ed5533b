"""`ipset test SETNAME ENTRY`, answered from a set's membership index.

The command differs from a packet lookup: an entry is text, so a network can be asked for
exactly (`ipset test s 10.0.0.0/8` looks for that entry, a host address goes through the
set's prefixes); a trailing `nomatch` asks whether the entry found is a nomatch one; for a
list:set the entry is a set name, optionally `before|after` another, and the answer is about
the names and their order, not about the member sets' contents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .index import MembershipIndex
from .nodes import IfacePart, IpPart, MacPart, MarkPart, Part, PortPart, SetPart

if TYPE_CHECKING:
    from .nodes import IpSet
    from .settypes import SetType

__all__ = ["element_values", "test_entry"]

def test_entry(ipset: IpSet, entry: str) -> bool:
    """`ipset test NAME ENTRY`: True when ipset says the entry is in the set.

    As the kernel's test: only the first address of a range counts; a network with a prefix
    shorter than the host is looked up exactly, a host through the set's prefixes; `nomatch`
    after the entry inverts the answer for nomatch entries of the net types; for list:set
    `NAME [before|after NAME]` tests the names and their order.
    """
    from .elements import parse_element
    from .values import split_words

    words = list(split_words(entry))
    if not words:
        raise ValueError("missing entry")
    settype = ipset.settype
    family = ipset.family or "inet"
    index = ipset.index
    flags = [str(w) for w in words[1:]]
    if settype.name == "list:set":
        return _test_list(index, words)
    nomatch_flag = False
    if flags == ["nomatch"] and settype.nomatch:
        nomatch_flag = True
    elif flags:
        raise ValueError(f"Unknown argument: `{flags[0]}'")
    parts = parse_element(settype, family, words[0], 1)
    values, cidrs = element_values(settype, parts)
    if settype.name == "bitmap:ip,mac":
        member = index.lookup(values)
        return member is not None
    if settype.name == "hash:ip" and (values[0] & index.addr_mask) == 0:  # type: ignore[operator]
        return False  # the kernel refuses a null element
    slot = index.find_slot(values, cidrs) if index.net_dims else index.find_slot(values)
    if slot is None:
        return False
    found = index.member_at(slot)
    if nomatch_flag:
        return found.nomatch
    return not found.nomatch


def element_values(settype: SetType, parts: Sequence[Part]
                   ) -> tuple[list[object], list[int | None]]:
    """An element's lookup values, and per net dimension its prefix length (None for a
    range): what `MembershipIndex.find_slot` takes to find that entry."""
    values: list[object] = []
    cidrs: list[int | None] = []
    for dim, part in zip(settype.dims, parts, strict=False):
        if isinstance(part, IpPart):
            values.append(part.value)
            if dim == "net":
                cidrs.append(part.cidr if part.last is None else None)
        elif isinstance(part, PortPart):
            values.extend((part.proto, part.port))
        elif isinstance(part, MacPart | MarkPart):
            values.append(part.value)
        elif isinstance(part, IfacePart):
            values.append(part)
        elif isinstance(part, SetPart):
            values.append(part.name)
    return values, cidrs


def _test_list(index: MembershipIndex, words: Sequence[str]) -> bool:
    name = words[0]
    if name not in index.order:
        return False
    if len(words) == 1:
        return True
    if len(words) != 3 or words[1] not in ("before", "after"):
        raise ValueError(f"Unknown argument: `{words[1]}'")
    at = index.order.index(name)
    if words[1] == "before":
        return at + 1 < len(index.order) and index.order[at + 1] == words[2]
    return at > 0 and index.order[at - 1] == words[2]
