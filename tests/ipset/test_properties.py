"""Property: any set iptparse can build prints to text that reads back as the same set, in
both styles (AST -> text -> AST), and printing is a fixpoint."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptparse.errors import ParseWarning
from iptparse.ipset import (
    EntryOptions,
    Header,
    IfacePart,
    IpPart,
    IpSet,
    IpsetDump,
    MacPart,
    MarkPart,
    Member,
    PortPart,
    SetPart,
    parse_ipset,
    render_ipset,
)
from iptparse.ipset.index import MembershipIndex, StoreError
from iptparse.ipset.settypes import SET_TYPES, SetType

NAMES = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-",
                min_size=1, max_size=31).filter(lambda n: not n.startswith("-"))
COMMENTS = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"'),
                   min_size=1, max_size=40)
U32 = st.integers(0, 0xFFFFFFFF)


def _mask(cidr: int, bits: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)


@st.composite
def headers(draw: Any, settype: SetType) -> Header:
    fields: dict[str, Any] = {}
    family = draw(st.sampled_from(settype.families)) if settype.families else None
    options = settype.options
    if "family" in options and draw(st.booleans()):
        fields["family"] = family
    bits = 128 if fields.get("family") == "inet6" else 32
    for key in ("hashsize", "maxelem", "initval", "markmask", "size"):
        if key in options and draw(st.booleans()):
            fields[key] = draw(st.integers(1, 0xFFFFFFFF))
    if "maxelem" in fields:
        fields["maxelem"] = max(fields["maxelem"], 1000)
    if "bucketsize" in options and draw(st.booleans()):
        fields["bucketsize"] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        fields["timeout"] = draw(st.integers(0, 2147483))
    for key in ("counters", "comment", "skbinfo", "forceadd"):
        if key in options:
            fields[key] = draw(st.booleans())
    if "netmask" in options and settype.name != "bitmap:ip" and draw(st.booleans()):
        if draw(st.booleans()) or "bitmask" not in options:
            fields["netmask"] = draw(st.integers(1, bits))
        else:
            fields["bitmask"] = draw(st.integers(1, (1 << bits) - 1))
    if settype.name == "bitmap:ip":
        netmask = draw(st.sampled_from([None, 24, 28, 32]))
        first = draw(st.integers(0, 0xFFFF0000)) & 0xFFFF0000
        fields["range"] = (first, first + 0xFFFF) if netmask and netmask < 32 else \
            (first, first + draw(st.integers(0, 0xFFFF)))
        if netmask is not None:
            fields["netmask"] = netmask
    elif settype.name == "bitmap:ip,mac":
        first = draw(U32.filter(lambda v: v < 0xFFFF0000))
        fields["range"] = (first, first + draw(st.integers(0, 0xFFFF)))
    elif settype.name == "bitmap:port":
        first = draw(st.integers(0, 65535))
        fields["range"] = (first, draw(st.integers(first, 65535)))
    return Header(**fields)


def _address(draw: Any, settype: SetType, index: int, header: Header) -> IpPart:
    family = header.family or "inet"
    bits = 128 if family == "inet6" else 32
    dim = settype.dims[index]
    if settype.is_bitmap:
        assert header.range is not None
        first, last = header.range
        return IpPart(draw(st.integers(first, last)), 32)
    if dim == "net":
        low = 0 if settype.name in ("hash:net,iface", "hash:net,port,net") else 1
        cidr = draw(st.integers(low, bits))
        return IpPart(draw(st.integers(0, (1 << bits) - 1)) & _mask(cidr, bits), cidr)
    value = draw(st.integers(1, (1 << bits) - 1))
    if family == "inet" and index == 0 and settype.name != "hash:ip,mac" and draw(
            st.integers(0, 9)) == 0:
        if draw(st.booleans()):
            return IpPart(value, 32, min(value + draw(st.integers(0, 3)), 0xFFFFFFFF))
        cidr = draw(st.integers(30, 32))
        return IpPart(value & _mask(cidr, 32) or 4, cidr)
    return IpPart(value, bits)


def _port(draw: Any, header: Header) -> PortPart:
    family = header.family or "inet"
    proto = draw(st.sampled_from([6, 17, 132, 136, 47, 112, 200,
                                  1 if family == "inet" else 58]))
    if proto in (6, 17, 132, 136):
        port = draw(st.integers(0, 65535))
        last = draw(st.sampled_from([None, None, None, port + 1])) if port < 65535 else None
        return PortPart(proto, port, last)
    if proto in (1, 58):
        return PortPart(proto, draw(st.integers(0, 65535)))
    return PortPart(proto, 0)


@st.composite
def members(draw: Any, settype: SetType, header: Header, sets: list[str]) -> Member:
    parts: list[Any] = []
    for index, dim in enumerate(settype.dims):
        if dim in ("ip", "net"):
            parts.append(_address(draw, settype, index, header))
        elif dim == "port":
            parts.append(_port(draw, header))
        elif dim == "bport":
            assert header.range is not None
            parts.append(PortPart(None, draw(st.integers(*header.range))))
        elif dim == "mac":
            if settype.name == "bitmap:ip,mac" and draw(st.booleans()):
                continue
            parts.append(MacPart(draw(st.integers(1, (1 << 48) - 1))))
        elif dim == "iface":
            parts.append(IfacePart(draw(st.text("abcdefgh0123456789.", min_size=1,
                                                max_size=15)), draw(st.booleans())))
        elif dim == "mark":
            parts.append(MarkPart(draw(U32)))
        else:
            parts.append(SetPart(draw(st.sampled_from(sets))))
    options: dict[str, Any] = {}
    if header.timeout is not None and draw(st.booleans()):
        options["timeout"] = draw(st.integers(0, 2147483))
    if settype.nomatch:
        options["nomatch"] = draw(st.booleans())
    if settype.name == "hash:net,iface":
        options["wildcard"] = draw(st.booleans())
    if header.counters and draw(st.booleans()):
        options["packets"] = draw(st.integers(0, 2**64 - 2))
        options["bytes"] = draw(st.integers(0, 2**64 - 2))
    if header.comment and draw(st.booleans()):
        options["comment"] = draw(COMMENTS)
    if header.skbinfo and draw(st.booleans()):
        options["skbmark"] = (draw(U32), draw(U32))
        options["skbprio"] = (draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF)))
        options["skbqueue"] = draw(st.integers(0, 65535))
    return Member(tuple(parts), EntryOptions(**options))


@st.composite
def dumps(draw: Any) -> IpsetDump:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    sets: list[IpSet] = []
    plain: list[str] = []
    for name in names:
        types = [t for t in SET_TYPES.values() if t.name != "list:set" or plain]
        settype = draw(st.sampled_from(types))
        header = draw(headers(settype))
        kept: list[Member] = []
        index = MembershipIndex(settype, header, kept.__getitem__)
        for member in draw(st.lists(members(settype, header, plain), max_size=6)):
            if settype.name != "list:set" and any(k in index.slots
                                                   for k in index.keys(member)):
                continue  # a second entry for the same slot (bitmap:ip,mac fills the MAC)
            try:  # keep what ipset restore would accept
                index.add(member, len(kept))
            except StoreError:
                continue
            kept.append(member)
        sets.append(IpSet(name, settype.name, header, kept))
        if settype.name != "list:set":
            plain.append(name)
    ordered = [s for s in sets if s.type != "list:set"] + [s for s in sets
                                                            if s.type == "list:set"]
    return IpsetDump(tuple(ordered))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dumps())
def test_save_text_reads_back_as_the_same_sets(dump: IpsetDump) -> None:
    text = render_ipset(dump, "save")
    again = parse_ipset(text)
    assert again == dump
    assert render_ipset(again, "save") == text


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dumps())
def test_list_text_reads_back_as_the_same_sets(dump: IpsetDump) -> None:
    text = render_ipset(dump, "list")
    again = parse_ipset(text)
    assert render_ipset(again, "list") == text
    assert render_ipset(again, "save") == render_ipset(dump, "save")
    for before, after in zip(dump, again, strict=True):
        assert after.revision == before.settype.revision
        assert after.entries == len(before)


ADDRESS_TEXT = st.one_of(
    st.builds(lambda a, b: f"10.{a}.{b}.0", st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from(["10.1", "010.0.0.1", "0.0.0.0", "1.2.3.256", "10..1", "4294967295"]))
PREFIX_TEXT = st.sampled_from(["", "/8", "/16", "/24", "/32", "/0", "/33", "/08", "/010", "/1"])
# `xx` starts with `x`: a run of one set's lines must end where the other set's begin
LINES = st.lists(st.tuples(st.sampled_from(["x", "xx", "y", "z"]), ADDRESS_TEXT, PREFIX_TEXT,
                           st.sampled_from(["", "", "", " nomatch"])), max_size=25)


@settings(max_examples=80, deadline=None)
@given(LINES)
def test_fast_path_and_general_path_agree_on_any_input(lines: list[tuple[str, str, str, str]]
                                                        ) -> None:
    """The same adds through the fast path and, each line ending in a blank the fast path
    does not take, through the general path: same sets, same errors at the same lines."""
    head = "create x hash:net\ncreate xx hash:net\ncreate y hash:ip\ncreate z hash:net maxelem 3\n"
    body = [f"add {s} {a}{p if s != 'y' else ''}{n if s != 'y' else ''}"
            for s, a, p, n in lines]
    fast = head + "".join(f"{line}\n" for line in body)
    slow = head + "".join(f"{line} \n" for line in body)
    results = []
    for text in (fast, slow):
        warnings: list[ParseWarning] = []
        dump = parse_ipset(text, errors="skip", warnings=warnings)
        results.append((dump, [(w.line, w.message) for w in warnings]))
    assert results[0] == results[1]
    (dump, _), _ = results
    for s in dump:  # and every member is found by its own lookup
        for member in s.members:
            part = member.parts[0]
            assert isinstance(part, IpPart)
            assert s.lookup(part.value) is not None
