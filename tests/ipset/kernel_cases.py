"""Random sets of every type and entries to test against them, for the kernel tests.

Addresses come from small spaces so that networks nest and overlap (the interesting cases
for prefixes and nomatch); everything is drawn from a seeded random.Random, so a failure
names its seed and can be replayed.
"""

from __future__ import annotations

import random

from iptparse.ipset import (
    EntryOptions,
    Header,
    IfacePart,
    IpPart,
    IpSet,
    MacPart,
    MarkPart,
    Member,
    PortPart,
    SetPart,
)
from iptparse.ipset.index import MembershipIndex, StoreError
from iptparse.ipset.settypes import SetType

V4_BASE = 0x0A000000  # 10.0.0.0/16
V6_BASE = 0x20010DB8 << 96  # 2001:db8::/112
IFACES = ["eth0", "eth1", "eth", "br0", "veth12", "wlan0"]
PROTOS = [(6, True), (17, True), (132, True), (136, True), (47, False), (112, False)]


def _mask(cidr: int, bits: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def address(self, family: str, low_cidr: int = 16) -> int:
        if family == "inet6":
            return V6_BASE | self.rng.getrandbits(16)
        return V4_BASE | self.rng.getrandbits(16)

    def cidr(self, family: str, low: int = 16) -> int:
        bits = 128 if family == "inet6" else 32
        return self.rng.randint(bits - (bits - low if family == "inet" else 16), bits)

    def port(self, family: str) -> PortPart:
        rng = self.rng
        kind = rng.random()
        if kind < 0.15:
            proto = 1 if family == "inet" else 58
            return PortPart(proto, rng.choice([0x0800, 0x0000, 0x0303, 0x0B00, 0x1F05]))
        proto, ports = rng.choice(PROTOS)
        return PortPart(proto, rng.choice([22, 53, 80, 443, 1000]) if ports else 0)

    def header(self, settype: SetType, family: str) -> Header:
        rng = self.rng
        fields: dict[str, object] = {}
        if "family" in settype.options:
            fields["family"] = family
        if settype.is_hash:
            fields.update(hashsize=rng.choice([64, 1024]), maxelem=rng.choice([4096, 65536]),
                          bucketsize=rng.choice([2, 8, 12]), initval=rng.getrandbits(32))
        if settype.name == "hash:ip" and rng.random() < 0.4:
            fields["netmask"] = rng.choice([24, 28]) if family == "inet" else rng.choice(
                [112, 120])
        if settype.name == "hash:ip,mark":
            fields["markmask"] = rng.choice([0xFF, 0xFFFF00FF, 0xFFFFFFFF])
        if settype.name == "bitmap:ip":
            netmask = rng.choice([None, 28, 32])
            fields["range"] = (V4_BASE, V4_BASE + (0xFFFF if netmask == 28 else 0x3FF))
            if netmask is not None:
                fields["netmask"] = netmask
        elif settype.name == "bitmap:ip,mac":
            fields["range"] = (V4_BASE, V4_BASE + 0xFF)
        elif settype.name == "bitmap:port":
            fields["range"] = (0, 1024)
        elif settype.name == "list:set":
            fields["size"] = 8
        fields["timeout"] = rng.choice([None, 600])
        fields["counters"] = rng.random() < 0.3
        fields["comment"] = rng.random() < 0.3
        fields["skbinfo"] = rng.random() < 0.3
        return Header(**fields)  # type: ignore[arg-type]

    def parts(self, settype: SetType, header: Header, others: list[str]) -> tuple:  # type: ignore[type-arg]
        rng = self.rng
        family = header.family or "inet"
        bits = 128 if family == "inet6" else 32
        parts: list[object] = []
        for _index, dim in enumerate(settype.dims):
            if dim == "ip":
                if settype.is_bitmap:
                    assert header.range is not None
                    value = rng.randint(*header.range)
                    mask = _mask(header.netmask or 32, 32)
                    parts.append(IpPart(value & mask, 32))
                    continue
                value = self.address(family)
                if settype.name == "hash:ip" and header.netmask:
                    value &= _mask(header.netmask, bits)
                parts.append(IpPart(value or 1, bits))
            elif dim == "net":
                low = 0 if settype.name == "hash:net,iface" and rng.random() < 0.05 else 1
                cidr = rng.randint(max(low, bits - 16), bits) if low else 0
                parts.append(IpPart(self.address(family) & _mask(cidr, bits), cidr))
            elif dim == "port":
                parts.append(self.port(family))
            elif dim == "bport":
                parts.append(PortPart(None, rng.randint(0, 1024)))
            elif dim == "mac":
                if settype.name == "bitmap:ip,mac" and rng.random() < 0.3:
                    continue
                parts.append(MacPart(rng.choice([0x001122334455, 0x0A0B0C0D0E0F,
                                                 rng.getrandbits(48) | 1])))
            elif dim == "iface":
                parts.append(IfacePart(rng.choice(IFACES), rng.random() < 0.2))
            elif dim == "mark":
                mark = rng.choice([5, 0x80, 0x1234, 0xFF00FF00])
                parts.append(MarkPart(mark & (header.markmask or 0xFFFFFFFF)))
            else:
                parts.append(SetPart(rng.choice(others)))
        return tuple(parts)

    def options(self, settype: SetType, header: Header) -> EntryOptions:
        rng = self.rng
        fields: dict[str, object] = {}
        if header.timeout is not None:
            fields["timeout"] = 0  # permanent: what ipset lists does not count down
        if settype.nomatch and rng.random() < 0.3:
            fields["nomatch"] = True
        if settype.name == "hash:net,iface" and rng.random() < 0.3:
            fields["wildcard"] = True
        if header.counters:
            fields["packets"] = rng.choice([0, 7, 2**40])
            fields["bytes"] = rng.choice([0, 700, 2**50])
        if header.comment and rng.random() < 0.7:
            fields["comment"] = rng.choice(["x", "a b", "allow SMB share", "ü ñ"])
        if header.skbinfo and rng.random() < 0.7:
            fields["skbmark"] = rng.choice([(0x10, 0xFFFFFFFF), (0x5, 0xFF)])
            fields["skbprio"] = (1, rng.choice([2, 0xABC]))
            fields["skbqueue"] = rng.choice([3, 65535])
        return EntryOptions(**fields)  # type: ignore[arg-type]

    def ipset(self, name: str, settype: SetType, family: str, count: int,
              others: list[str]) -> IpSet:
        header = self.header(settype, family)
        kept: list[Member] = []
        index = MembershipIndex(settype, header, kept.__getitem__)
        for _ in range(count * 3):
            if len(kept) >= count:
                break
            member = Member(self.parts(settype, header, others), self.options(settype, header))
            if settype.name == "list:set":
                if any(m.parts == member.parts for m in kept):
                    continue
            elif any(k in index.slots for k in index.keys(member)):
                continue
            try:
                index.add(member, len(kept))
            except StoreError:
                continue
            kept.append(member)
        return IpSet(name, settype.name, header, kept)

    # --- what to ask `ipset test` -------------------------------------------------------

    def probes(self, ipset: IpSet, count: int) -> list[str]:
        """Entries as `ipset test` takes them: the members themselves, hosts inside and
        next to their networks, other interfaces and ports, random ones; some with nomatch."""
        from iptparse.ipset.elements import format_element

        rng = self.rng
        settype = ipset.settype
        family = ipset.family or "inet"
        bits = 128 if family == "inet6" else 32
        out: list[str] = []
        members = list(ipset.members)
        for _ in range(count):
            base = rng.choice(members).parts if members and rng.random() < 0.8 else \
                self.parts(settype, ipset.header, [m.parts[0].name for m in members
                                                   if isinstance(m.parts[0], SetPart)] or
                           ["nosuchset"])
            parts = []
            for dim, part in zip(settype.dims, base, strict=False):
                r = rng.random()
                if isinstance(part, IpPart) and not settype.is_bitmap and r > 0.92:
                    far = 0xC0000200 if family == "inet" else 0x20010DB9 << 96
                    part = IpPart(far | rng.getrandbits(8), bits)  # outside all entries
                elif isinstance(part, IpPart) and not settype.is_bitmap:
                    if r < 0.5 and dim == "net":  # a host inside (or just outside) the net
                        host = part.value | rng.getrandbits(bits - part.cidr) if part.cidr < bits \
                            else part.value
                        if rng.random() < 0.2:
                            host = (part.value + (1 << (bits - part.cidr))) % (1 << bits)
                        part = IpPart(host, bits)
                    elif r < 0.6:
                        part = IpPart(self.address(family), bits)
                elif isinstance(part, IpPart) and r < 0.3:
                    part = IpPart(part.value + rng.randint(0, 20), 32)
                elif isinstance(part, IfacePart) and r < 0.4:
                    part = IfacePart(rng.choice([*IFACES, "eth9", "et"]), part.physdev
                                     if r < 0.3 else not part.physdev)
                elif isinstance(part, PortPart) and r < 0.3:
                    part = self.port(family) if settype.name != "bitmap:port" else PortPart(
                        None, rng.randint(0, 1024))
                elif isinstance(part, MarkPart) and r < 0.3:
                    part = MarkPart(rng.choice([5, 0x305, 0x1234, 0x80]))
                parts.append(part)
            text = format_element(settype, family, parts)
            if settype.name == "list:set" and members and rng.random() < 0.3:
                ref = rng.choice(members).parts[0]
                assert isinstance(ref, SetPart)
                text += f" {rng.choice(['before', 'after'])} {ref.name}"
            elif settype.nomatch and rng.random() < 0.2:
                text += " nomatch"
            out.append(text)
        return out
