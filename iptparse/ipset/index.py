"""Membership: where the kernel would store each entry, and what its lookups find.

A `MembershipIndex` holds a set's entries the way the kernel's set type does (hash types: a
dict from the stored key to the entry; bitmap types: a dict from the slot; list:set: the
ordered names) and answers lookups with the kernel's algorithm, so the cost is one dict probe,
or one per distinct prefix length for the net types, never a scan of the members:

* Address ranges and CIDRs written on `add` lines are expanded as the kernel expands them
  (hash:net splits a range into the fewest CIDR blocks, hash:ip and the port types store every
  address and port), and netmask, bitmask and markmask are applied.
* For types with networks (hash:net, hash:net,port, hash:ip,port,net, hash:net,iface,
  hash:net,net, hash:net,port,net) a host lookup tries the prefix lengths present in the set
  from the most specific down; the first stored entry found decides, so a more specific
  nomatch entry wins over the network around it (ipset(8)). With two networks the first
  dimension's prefix is the outer loop ("the first parameter has precedence").
* hash:net,iface keeps the kernel's quirk: once an entry with the packet's network and prefix
  is found, less specific prefixes are not tried even when its interface differs, and a
  `wildcard` entry matches any interface name it is a prefix of. An entry of that network
  with the other physdev flag stops the lookup too when it happens to share the hash bucket
  (iptparse.ipset.jhash computes that from the dump's initval and hashsize).
* Members with a timeout are present (a dump is a snapshot; they had not expired).

The same structure is what the parser uses to refuse duplicate entries, full hashes and
out-of-range bitmap entries while reading a restore file, as `ipset restore` does.

Packet values, by dimension: an address is an int; a port dimension takes two values,
protocol number and port (ICMP: `type << 8 | code`); a MAC is an int; an interface a str, or
an `IfacePart` to say it is a bridge port (physdev); a mark an int; a set name a str.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from itertools import product
from typing import TYPE_CHECKING

from .jhash import netiface_bucket
from .nodes import (
    Header,
    IfacePart,
    IpPart,
    MacPart,
    MarkPart,
    Member,
    Part,
    PortPart,
    SetPart,
)
from .settypes import SetType
from .values import IPPROTO_TCP, IPPROTO_UDP, host_bits

if TYPE_CHECKING:
    from .nodes import IpSet

__all__ = ["MembershipIndex", "StoreError", "build_index", "range_to_cidrs"]

Resolver = Callable[[str], "IpSet | None"]
Key = tuple[object, ...]

DEFAULT_MAXELEM = 65536


class StoreError(ValueError):
    """An entry the kernel would refuse (duplicate, hash full, out of range...)."""


def range_to_cidrs(first: int, last: int, bits: int) -> Iterator[tuple[int, int]]:
    """The fewest CIDR blocks covering first..last, in order (the kernel's
    ip_set_range_to_cidr loop)."""
    while first <= last:
        size = (first & -first).bit_length() - 1 if first else bits
        while size > 0 and first + (1 << size) - 1 > last:
            size -= 1
        yield first, bits - size
        first += 1 << size


def _mask(cidr: int, bits: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)


class MembershipIndex:
    """The stored entries of one set and the kernel's lookups over them.

    `slots` maps each stored key to the position of its member in `members`, which may be
    decoded lazily: `member_at` asks the owner for the member only when a lookup finds it.
    """

    def __init__(self, settype: SetType, header: Header,
                 member_at: Callable[[int], Member]) -> None:
        self.settype = settype
        self.header = header
        self.family = header.family or "inet"
        self.bits = host_bits(self.family)
        self.member_at = member_at
        self.count = 0
        full = (1 << self.bits) - 1
        if header.bitmask is not None:
            self.addr_mask = header.bitmask
        elif header.netmask is not None and settype.name != "bitmap:ip":
            self.addr_mask = _mask(header.netmask, self.bits)
        else:
            self.addr_mask = full
        self.mark_mask = header.markmask if header.markmask is not None else 0xFFFFFFFF
        self.net_dims = settype.net_dims
        # prefix length -> number of entries using it, per net dimension
        self.cidrs: list[dict[int, int]] = [{} for _ in self.net_dims]
        self._cidr_order: list[list[int]] | None = None
        self._probes: list[list[tuple[int, int]]] = []
        #: slots of nomatch entries (so a lookup need not decode the member)
        self.nomatch_slots: set[int] = set()
        self.slots: dict[Key, object] = {}
        self.order: list[str] = []  # list:set
        if settype.is_bitmap:
            first, last = header.range or (0, 0)
            self.first, self.last = first, last
            if settype.name == "bitmap:ip" and header.netmask not in (None, 32):
                self.addr_mask = _mask(header.netmask or 32, 32)
        self.maxelem = (header.maxelem if header.maxelem is not None else DEFAULT_MAXELEM) \
            if settype.is_hash else None

    # --- storing ------------------------------------------------------------------------

    def _atoms(self, dim: str, part: Part) -> list[tuple[object, ...]]:
        """What one dimension of an entry stores: several atoms when it is a range."""
        if isinstance(part, IpPart):
            if dim == "net":
                if part.last is not None:
                    blocks = range_to_cidrs(part.value, part.last, self.bits)
                else:
                    blocks = iter(((part.value, part.cidr),))
                mask = self.addr_mask if self.settype.name == "hash:net,net" else -1
                return [(v & _mask(c, self.bits) & mask, c) for v, c in blocks]
            first = part.value
            last = part.last if part.last is not None else \
                part.value | ((1 << (self.bits - part.cidr)) - 1)
            if self.settype.is_bitmap:
                if first < self.first or last > self.last:
                    raise StoreError("Element is out of the range of the set")
                if self.settype.name == "bitmap:ip,mac" and first != last:
                    raise StoreError("plain IP address must be supplied")
            mask = self.addr_mask
            if _contiguous(mask, self.bits) == mask:  # one entry per network of the netmask
                step = (~mask & ((1 << self.bits) - 1)) + 1
                addresses = range(first & mask, last + 1, step)
            else:  # a bitmask: each address masked, duplicates merged
                addresses = range(first, last + 1)
            if len(addresses) > 1 << 20:
                raise StoreError("Hash is full, cannot add more elements")
            return [(v,) for v in dict.fromkeys(v & mask for v in addresses)]
        if isinstance(part, PortPart):
            last = part.last if part.last is not None else part.port
            if self.settype.is_bitmap:
                if part.port < self.first or last > self.last:
                    raise StoreError("Element is out of the range of the set")
                return [(p,) for p in range(part.port, last + 1)]
            return [(part.proto, p) for p in range(part.port, last + 1)]
        if isinstance(part, MacPart):
            return [(part.value,)]
        if isinstance(part, MarkPart):
            return [(part.value & self.mark_mask,)]
        if isinstance(part, IfacePart):
            return [(part.physdev,)]
        return [(part.name,)]

    def keys(self, member: Member) -> list[Key]:
        """The stored keys of an entry (several when it was written as a range)."""
        dims = self.settype.dims
        parts = member.parts
        if self.settype.name == "bitmap:ip,mac":
            parts = parts[:1]
            dims = dims[:1]
        per_dim = [self._atoms(d, p) for d, p in zip(dims, parts, strict=True)]
        if len(per_dim) == 1:
            return list(per_dim[0])
        return [tuple(x for atom in combo for x in atom) for combo in product(*per_dim)]

    def entries(self, member: Member) -> list[tuple[Key, Member]]:
        """Each stored key of an entry with the single entry ipset would list for it: a
        range becomes its addresses, CIDR blocks or ports, masks applied."""
        dims = self.settype.dims
        parts = member.parts
        keep: tuple[Part, ...] = ()
        if self.settype.name == "bitmap:ip,mac":
            dims, parts, keep = dims[:1], parts[:1], parts[1:]
        per_dim = []
        for dim, part in zip(dims, parts, strict=True):
            options = []
            for atom in self._atoms(dim, part):
                if dim == "ip":
                    value = atom[0]
                    assert isinstance(value, int)
                    single: Part = IpPart(value, self.bits)
                elif dim == "net":
                    value, cidr = atom
                    assert isinstance(value, int) and isinstance(cidr, int)
                    single = IpPart(value, cidr)
                elif dim == "port":
                    proto, port = atom
                    assert isinstance(proto, int) and isinstance(port, int)
                    single = PortPart(proto, port)
                elif dim == "bport":
                    port = atom[0]
                    assert isinstance(port, int)
                    single = PortPart(None, port)
                elif dim == "mark":
                    value = atom[0]
                    assert isinstance(value, int)
                    single = MarkPart(value)
                else:
                    single = part
                options.append((atom, single))
            per_dim.append(options)
        out = []
        for combo in product(*per_dim):
            key = tuple(x for atom, _ in combo for x in atom)
            new_parts = tuple(p for _, p in combo) + keep
            out.append((key, member if new_parts == member.parts else
                        _with_parts(member, new_parts)))
        return out

    def holds(self, key: Key, slot: int) -> bool:
        """Whether `key` is still stored for the entry at `slot`."""
        held = self.slots.get(key)
        if isinstance(held, list):
            return any(s == slot for _n, _w, s in held)
        return held == slot

    def repoint(self, key: Key, old: int, new: int) -> None:
        if old in self.nomatch_slots:
            self.nomatch_slots.add(new)
        held = self.slots.get(key)
        if isinstance(held, list):
            held[:] = [(n, w, new if s == old else s) for n, w, s in held]
        elif held == old:
            self.slots[key] = new

    def _cidr_positions(self) -> list[int]:
        """Where the prefix length of each net dimension sits inside a key."""
        positions = []
        offset = 0
        for dim in self.settype.dims:
            width = {"net": 2, "port": 2, "iface": 1}.get(dim, 1)
            if dim == "net":
                positions.append(offset + 1)
            offset += width
        return positions

    def add(self, member: Member, slot: int, *, exist: bool = False) -> None:
        """Store an entry at `slot`; StoreError when ipset would refuse it. With `exist` an
        entry already stored is replaced (ipset -exist re-adding it)."""
        name = self.settype.name
        if name == "list:set":
            self._add_list(member, slot)
            return
        keys = self.keys(member)
        if name == "hash:ip" and keys and keys[0] == (0,):
            raise StoreError("Null-valued element, cannot be stored in a hash type of set")
        if name == "hash:net,iface":
            self._add_iface(member, slot, keys)
            return
        fresh = [key for key in keys if key not in self.slots]
        if len(fresh) != len(keys) and not exist:
            held = self.slots.get(keys[0])
            if not (name == "bitmap:ip,mac" and isinstance(held, int)
                    and len(self.member_at(held).parts) == 1 and len(member.parts) == 2):
                raise StoreError("Element cannot be added to the set: it's already added")
        if self.maxelem is not None and self.count + len(fresh) > self.maxelem:
            raise StoreError("Hash is full, cannot add more elements")
        for key in keys:
            self.slots[key] = slot
        if member.nomatch:
            self.nomatch_slots.add(slot)
        self._stored(fresh)

    def _stored(self, keys: Sequence[Key]) -> None:
        """Count newly stored keys and their prefix lengths."""
        self.count += len(keys)
        if not self.net_dims or not keys:
            return
        for n, pos in enumerate(self._cidr_positions()):
            counts = self.cidrs[n]
            for key in keys:
                cidr = key[pos]
                assert isinstance(cidr, int)
                counts[cidr] = counts.get(cidr, 0) + 1
        self._cidr_order = None

    def _add_iface(self, member: Member, slot: int, keys: Sequence[Key]) -> None:
        part = member.parts[1]
        assert isinstance(part, IfacePart)
        for key in keys:
            held = self.slots.get(key)
            if isinstance(held, list):
                for stored, wildcard, _slot in held:
                    # the kernel compares the new entry against each stored one
                    if (part.name.startswith(stored) if wildcard else stored == part.name):
                        raise StoreError("Element cannot be added to the set: it's already "
                                         "added")
        if self.maxelem is not None and self.count + len(keys) > self.maxelem:
            raise StoreError("Hash is full, cannot add more elements")
        fresh = []
        for key in keys:
            held = self.slots.get(key)
            if not isinstance(held, list):
                held = []
                self.slots[key] = held
            held.append((part.name, member.wildcard, slot))
            fresh.append(key)
        if member.nomatch:
            self.nomatch_slots.add(slot)
        self._stored(fresh)

    def _add_list(self, member: Member, slot: int) -> None:
        part = member.parts[0]
        assert isinstance(part, SetPart)
        if (part.name,) in self.slots:
            raise StoreError("Element cannot be added to the set: it's already added")
        self.slots[(part.name,)] = slot
        self.order.append(part.name)
        self.count += 1

    def add_nets(self, start: int, values: Sequence[int], cidrs: Sequence[int]) -> int:
        """Store many hash:net (networks already masked) or plain hash:ip entries at slots
        start, start+1, ... (the parser's fast path). Returns -1, or the offset of the first
        entry ipset would refuse (a duplicate, or one more than maxelem); the entries before
        it are stored."""
        stored = self.slots
        if self.settype.name == "hash:net":  # values come masked by their prefix
            keys: list[Key] = list(zip(values, cidrs, strict=True))
        else:
            keys = [(v,) for v in values]
        count = len(keys)
        before = len(stored)
        refused = -1
        fits = stored.keys().isdisjoint(keys)
        if fits:
            stored.update(zip(keys, range(start, start + count), strict=True))
            fits = len(stored) == before + count and (
                self.maxelem is None or len(stored) <= self.maxelem)
            if not fits:  # none of the run's keys was stored before: take them all out
                for key in keys:
                    stored.pop(key, None)
        if not fits:  # find the first entry ipset would refuse; keep those before it
            seen: set[Key] = set()
            for offset, key in enumerate(keys):
                if key in seen or key in stored or (
                        self.maxelem is not None and before + len(seen) >= self.maxelem):
                    refused = offset
                    break
                seen.add(key)
            keys = keys[:refused] if refused >= 0 else keys
            stored.update(zip(keys, range(start, start + len(keys)), strict=True))
        self.count += len(keys)
        if self.net_dims:
            counts = self.cidrs[0]
            for cidr, n in Counter(cidrs[:len(keys)]).items():
                counts[cidr] = counts.get(cidr, 0) + n
            self._cidr_order = None
        return refused

    def remove(self, member: Member, *, exist: bool = False) -> list[int]:
        """Delete an entry; returns the slots that held it. StoreError when not stored."""
        if self.settype.name == "list:set":
            part = member.parts[0]
            assert isinstance(part, SetPart)
            held = self.slots.pop((part.name,), None)
            if held is None:
                if exist:
                    return []
                raise StoreError("Element cannot be deleted from the set: it's not added")
            self.order.remove(part.name)
            self.count -= 1
            assert isinstance(held, int)
            return [held]
        keys = self.keys(member)
        found: list[int] = []
        positions = self._cidr_positions() if self.net_dims else []
        for key in keys:
            held = self.slots.get(key)
            if held is None:
                if exist:
                    continue
                raise StoreError("Element cannot be deleted from the set: it's not added")
            if isinstance(held, list):
                part = member.parts[1]
                assert isinstance(part, IfacePart)
                matches = list(self._iface_matches(held, part.name))
                if not matches:
                    if exist:
                        continue
                    raise StoreError("Element cannot be deleted from the set: it's not added")
                held.remove(matches[0][0])
                found.append(matches[0][1])
                if held:
                    continue
                del self.slots[key]
            else:
                del self.slots[key]
                assert isinstance(held, int)
                found.append(held)
            self.count -= 1
            for n, pos in enumerate(positions):
                cidr = key[pos]
                assert isinstance(cidr, int)
                self.cidrs[n][cidr] -= 1
                if not self.cidrs[n][cidr]:
                    del self.cidrs[n][cidr]
            self._cidr_order = None
        return found

    @staticmethod
    def _iface_matches(entries: list[tuple[str, bool, int]], name: str
                       ) -> Iterator[tuple[tuple[str, bool, int], int]]:
        """Entries whose interface equals `name` as the kernel compares them: a stored
        wildcard entry matches every name it is a prefix of."""
        for entry in entries:
            stored, wildcard, slot = entry
            if (name.startswith(stored) if wildcard else stored == name):
                yield entry, slot

    # --- looking up ---------------------------------------------------------------------

    def cidr_order(self) -> list[list[int]]:
        """Distinct prefix lengths of each net dimension, most specific first."""
        if self._cidr_order is None:
            self._cidr_order = [sorted(c, reverse=True) for c in self.cidrs]
            extra = self.addr_mask if self.settype.name == "hash:net,net" else -1
            self._probes = [[(_mask(c, self.bits) & extra, c) for c in order]
                            for order in self._cidr_order]
        return self._cidr_order

    def probes(self) -> list[list[tuple[int, int]]]:
        """(mask, prefix length) to try per net dimension, most specific first."""
        self.cidr_order()
        return self._probes

    def _probe(self, key: Key, iface: IfacePart | None) -> tuple[bool, int | None]:
        """(the kernel met an entry with this network, slot of the entry that matches)."""
        held = self.slots.get(key)
        if iface is not None:
            if held is not None:
                assert isinstance(held, list)
                for _entry, slot in self._iface_matches(held, iface.name):
                    return True, slot
                return True, None
            return self._shares_bucket(key), None
        if held is None:
            return False, None
        assert isinstance(held, int)
        return True, held

    def _shares_bucket(self, key: Key) -> bool:
        """hash:net,iface: whether an entry of the same network with the other physdev flag
        happens to sit in the probed bucket (the kernel then stops looking). Needs the
        dump's initval and hashsize; without them the chance cannot be known and is
        taken as no."""
        address, cidr, physdev = key
        other = (address, cidr, not physdev)
        initval, hashsize = self.header.initval, self.header.hashsize
        if other not in self.slots or initval is None or hashsize is None:
            return False
        assert isinstance(address, int) and isinstance(cidr, int)
        return netiface_bucket(address, self.bits, bool(physdev), cidr, initval, hashsize) \
            == netiface_bucket(address, self.bits, not physdev, cidr, initval, hashsize)

    def find_slot(self, values: Sequence[object], cidrs: Sequence[int | None] = (), *,
                  exact: bool = False) -> int | None:
        """The slot of the entry the kernel's test finds for host values; `cidrs` (one per
        net dimension, None for host) asks for an exact network instead, as `ipset test
        10.0.0.0/8` does. `exact` asks for that very element even for host prefixes (the
        entry an add or a delete compares with), not for the network a host falls in."""
        name = self.settype.name
        if name == "hash:net" and not cidrs:
            value = values[0]
            get = self.slots.get
            for mask, cidr in self.probes()[0]:
                held = get((value & mask, cidr))  # type: ignore[operator]
                if held is not None:
                    return held  # type: ignore[return-value]
            return None
        if name == "list:set":
            held = self.slots.get((values[0],))
            return held if isinstance(held, int) else None
        atoms, iface = self._query_atoms(values)
        if atoms is None:
            return None
        if self.settype.is_bitmap:
            held = self.slots.get(atoms[0])
            return held if isinstance(held, int) else None
        if not self.net_dims:
            held = self.slots.get(tuple(x for a in atoms for x in a))
            return held if isinstance(held, int) else None
        bits = self.bits
        net_at = [i for i, d in enumerate(self.settype.dims) if d == "net"]
        extra = self.addr_mask if name == "hash:net,net" else -1
        if exact or any(c is not None and c != bits for c in cidrs):
            given = (list(cidrs) + [None] * len(net_at))[:len(net_at)]
            choices = [[(_mask(c if c is not None else bits, bits) & extra,
                         c if c is not None else bits)] for c in given]
        else:
            choices = self.probes()
        hosts = [atoms[i][0] for i in net_at]
        for combo in product(*choices):
            for n, dim_index in enumerate(net_at):
                addr = hosts[n]
                assert isinstance(addr, int)
                mask, cidr = combo[n]
                atoms[dim_index] = (addr & mask, cidr)
            stored, slot = self._probe(tuple(x for a in atoms for x in a), iface)
            if slot is not None:
                return slot
            if stored and iface is not None:
                return None  # hash:net,iface: the kernel stops at the first prefix it meets
        return None

    def _query_atoms(self, values: Sequence[object]
                     ) -> tuple[list[tuple[object, ...]] | None, IfacePart | None]:
        """Split flat packet values into one atom per dimension (masks applied); None when
        the kernel would not match such a packet at all."""
        atoms: list[tuple[object, ...]] = []
        iface: IfacePart | None = None
        i = 0
        dims = self.settype.dims
        if self.settype.name == "bitmap:ip,mac":
            dims = dims[:1]
        try:
            for dim in dims:
                value = values[i]
                if dim in ("ip", "net"):
                    if not isinstance(value, int):
                        raise TypeError(f"address values are ints, not {value!r}")
                    if self.settype.is_bitmap:
                        if not self.first <= value <= self.last:
                            return None, None
                        atoms.append((value & self.addr_mask,))
                    else:
                        atoms.append((value & (self.addr_mask if dim == "ip" else -1),))
                    i += 1
                elif dim in ("port", "bport"):
                    proto, port = values[i], values[i + 1]
                    i += 2
                    if dim == "bport":
                        if proto not in (None, IPPROTO_TCP, IPPROTO_UDP) or not isinstance(
                                port, int) or not self.first <= port <= self.last:
                            return None, None
                        atoms.append((port,))
                    else:
                        atoms.append((proto, port))
                elif dim == "iface":
                    iface = value if isinstance(value, IfacePart) else IfacePart(str(value))
                    if not iface.name:
                        return None, None
                    atoms.append((iface.physdev,))
                    i += 1
                elif dim == "mark":
                    assert isinstance(value, int)
                    atoms.append((value & self.mark_mask,))
                    i += 1
                else:
                    atoms.append((value,))
                    i += 1
        except IndexError:
            raise ValueError(f"{self.settype.name} needs {self.value_count()} value(s) "
                             f"({', '.join(self.value_names())})") from None
        return atoms, iface

    def value_count(self) -> int:
        return sum(2 if d in ("port", "bport") else 1 for d in self.settype.dims)

    def value_names(self) -> list[str]:
        names = {"ip": ["address"], "net": ["address"], "port": ["protocol", "port"],
                 "bport": ["protocol", "port"], "mac": ["mac"], "iface": ["interface"],
                 "mark": ["mark"], "set": ["values of the member sets"]}
        return [n for d in self.settype.dims for n in names[d]]

    def lookup(self, values: Sequence[object]) -> Member | None:
        if self.settype.name == "list:set":
            raise TypeError("a list:set holds sets: use contains() with a resolver")
        if self.settype.name == "bitmap:ip,mac":
            return self._ipmac(values)
        slot = self.find_slot(values)
        return self.member_at(slot) if slot is not None else None

    def _ipmac(self, values: Sequence[object]) -> Member | None:
        atoms, _ = self._query_atoms(values[:1])
        if atoms is None:
            return None
        slot = self.slots.get(atoms[0])
        if not isinstance(slot, int):
            return None
        member = self.member_at(slot)
        mac = values[1] if len(values) > 1 else None
        if mac is None or len(member.parts) < 2:
            return member  # no MAC to compare: the kernel fills it in and matches
        part = member.parts[1]
        assert isinstance(part, MacPart)
        return member if part.value == mac else None

    def contains(self, values: Sequence[object], *, return_nomatch: bool,
                 resolver: Resolver | None, family: str | None = None) -> bool:
        if self.settype.name == "list:set":
            return self._list_contains(values, return_nomatch, resolver, family)
        if self.settype.name == "bitmap:ip,mac":
            return self._ipmac(values) is not None
        slot = self.find_slot(values)
        if slot is None:
            return False
        nomatch = slot in self.nomatch_slots
        if return_nomatch and self.settype.nomatch:
            return nomatch
        return not nomatch

    def _list_contains(self, values: Sequence[object], return_nomatch: bool,
                       resolver: Resolver | None, family: str | None) -> bool:
        if resolver is None:
            raise ValueError("list:set membership needs a resolver for its member sets")
        for name in self.order:
            member_set = resolver(name)
            if member_set is None or member_set.type == "list:set":
                continue
            index = member_set.index
            needed = index.value_count()
            if len(values) < needed:
                continue  # the kernel skips sets of higher dimension
            if family is not None and member_set.family not in (None, family):
                continue
            if index.contains(values[:needed], return_nomatch=return_nomatch,
                              resolver=None):
                return True
        return False


def _contiguous(mask: int, bits: int) -> int:
    """The mask itself when it is a prefix mask, else -1 (bitmasks step one by one)."""
    inverted = ((1 << bits) - 1) ^ mask
    return mask if inverted & (inverted + 1) == 0 else -1


def build_index(ipset: IpSet) -> MembershipIndex:
    """Index a set's members (once; the set caches it)."""
    members = ipset.members
    index = MembershipIndex(ipset.settype, ipset.header, members.__getitem__)
    index.maxelem = None  # a dump may hold what the kernel held; do not refuse it now
    for slot, member in enumerate(members):
        try:
            index.add(member, slot, exist=True)
        except StoreError:
            continue  # a range the kernel could never have stored: it matches nothing
    return index


def _with_parts(member: Member, parts: tuple[Part, ...]) -> Member:
    return replace(member, parts=parts)
