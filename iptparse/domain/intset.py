"""Sets of integers as sorted, disjoint, inclusive intervals.

Addresses, ports, protocol numbers, ICMP types, lengths, TTLs, conntrack states: every numeric
packet field is constrained by a union of ranges, and every test iptables can make on one of
them (a prefix, a mask that is a prefix, a port range, a list of values) is such a union too.
The representation is closed under intersection, union and complement, which is what splitting
a path on a match needs: the part where it holds and the part where it does not.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

__all__ = ["IntSet"]


class IntSet:
    """An immutable union of inclusive ranges within the universe [0, top]."""

    __slots__ = ("_hash", "_starts", "ranges", "top")

    ranges: tuple[tuple[int, int], ...]
    top: int

    def __init__(self, ranges: Iterable[tuple[int, int]] = (), top: int = (1 << 32) - 1,
                 *, _normal: bool = False) -> None:
        self.top = top
        if _normal:
            self.ranges = tuple(ranges)
        else:
            self.ranges = _normalise(ranges, top)
        self._starts: tuple[int, ...] | None = None
        self._hash: int | None = None

    # construction ----------------------------------------------------------------------

    @classmethod
    def all(cls, top: int) -> IntSet:
        return cls(((0, top),), top, _normal=True)

    @classmethod
    def empty(cls, top: int) -> IntSet:
        return cls((), top, _normal=True)

    @classmethod
    def single(cls, value: int, top: int) -> IntSet:
        return cls(((value, value),), top, _normal=True)

    @classmethod
    def range(cls, lo: int, hi: int, top: int) -> IntSet:
        if 0 <= lo <= hi <= top:  # already normal: one range inside the space
            return cls(((lo, hi),), top, _normal=True)
        return cls(((lo, hi),), top)

    @classmethod
    def values(cls, values: Iterable[int], top: int) -> IntSet:
        return cls(((v, v) for v in values), top)

    @classmethod
    def prefix(cls, value: int, length: int, bits: int) -> IntSet:
        """The addresses of a CIDR prefix within a `bits`-wide space."""
        span = (1 << (bits - length)) - 1
        lo = value & ~span & ((1 << bits) - 1)
        return cls(((lo, lo | span),), (1 << bits) - 1, _normal=True)

    @classmethod
    def masked(cls, value: int, mask: int, bits: int) -> IntSet:
        """{x : x & mask == value & mask}; a union of ranges when the mask is not a prefix.

        The number of ranges is 2 ** (number of 0 bits above the lowest 1 bit of the mask); masks
        with holes are rare (iptables allows them for -s/-d) and kept small by callers.
        """
        full = (1 << bits) - 1
        mask &= full
        value &= mask
        low_free = (~mask & full) & (((mask & -mask) - 1) if mask else full)
        holes = ~mask & full & ~low_free
        hole_bits = [1 << i for i in range(bits) if holes >> i & 1]
        if len(hole_bits) > 16:
            raise ValueError("mask with too many holes to enumerate")
        ranges = []
        for n in range(1 << len(hole_bits)):
            base = value
            for i, bit in enumerate(hole_bits):
                if n >> i & 1:
                    base |= bit
            ranges.append((base, base | low_free))
        return cls(ranges, full)

    # queries ---------------------------------------------------------------------------

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        ranges = self.ranges
        if len(ranges) <= 4:
            for lo, hi in ranges:  # sorted and disjoint: past `value` nothing holds it
                if value <= hi:
                    return lo <= value
            return False
        starts = self._starts
        if starts is None:
            starts = self._starts = tuple(lo for lo, _ in ranges)
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= ranges[i][1]

    def __bool__(self) -> bool:
        return bool(self.ranges)

    @property
    def is_empty(self) -> bool:
        return not self.ranges

    @property
    def is_all(self) -> bool:
        return self.ranges == ((0, self.top),)

    def single_value(self) -> int | None:
        """The value when the set has exactly one, else None."""
        ranges = self.ranges  # read for every field of every packet of a batch
        if len(ranges) == 1:
            lo, hi = ranges[0]
            if lo == hi:
                return lo
        return None

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def size(self) -> int:
        """The number of members; unlike len(), not limited to sys.maxsize (IPv6 sets)."""
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.ranges:
            yield from range(lo, hi + 1)

    def min(self) -> int:
        return self.ranges[0][0]

    def issubset(self, other: IntSet) -> bool:
        return not (self - other)

    def isdisjoint(self, other: IntSet) -> bool:
        return not (self & other)

    # algebra ---------------------------------------------------------------------------

    def __and__(self, other: IntSet) -> IntSet:
        a, b = self.ranges, other.ranges
        if not a or not b:
            return IntSet.empty(self.top)
        out: list[tuple[int, int]] = []
        i = j = 0
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntSet(out, self.top, _normal=True)

    def __or__(self, other: IntSet) -> IntSet:
        return IntSet((*self.ranges, *other.ranges), self.top)

    def complement(self) -> IntSet:
        out = []
        nxt = 0
        for lo, hi in self.ranges:
            if lo > nxt:
                out.append((nxt, lo - 1))
            nxt = hi + 1
        if nxt <= self.top:
            out.append((nxt, self.top))
        return IntSet(out, self.top, _normal=True)

    def __invert__(self) -> IntSet:
        return self.complement()

    def __sub__(self, other: IntSet) -> IntSet:
        return self & other.complement()

    # identity --------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntSet) and self.ranges == other.ranges and self.top == other.top

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash((self.ranges, self.top))
        return h

    def __repr__(self) -> str:
        return f"IntSet({list(self.ranges)!r}, top={self.top:#x})"

    def __reduce__(self) -> tuple[object, ...]:
        return (IntSet, (self.ranges, self.top))


def _normalise(ranges: Iterable[tuple[int, int]], top: int) -> tuple[tuple[int, int], ...]:
    items = sorted((max(lo, 0), min(hi, top)) for lo, hi in ranges)
    out: list[tuple[int, int]] = []
    for lo, hi in items:
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)
