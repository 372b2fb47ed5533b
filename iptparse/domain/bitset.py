"""Sets of fixed-width bit vectors as disjoint cubes (value/mask pairs).

Marks, conntrack marks, TCP flags and conntrack status bits are tested bit by bit
(`--mark 0x10000/0x10000`, `--tcp-flags SYN,ACK SYN`), so the natural constraint is a cube: some
bits fixed, the rest free. A union of disjoint cubes is closed under intersection and
complement (the complement of one cube is one cube per fixed bit), so a path can be split on a
mark test without losing which bits are known.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BitSet", "Cube"]

Cube = tuple[int, int]  # (value, mask): the vectors x with x & mask == value


class BitSet:
    """An immutable union of disjoint cubes over `width` bits."""

    __slots__ = ("_hash", "cubes", "width")

    cubes: tuple[Cube, ...]
    width: int

    def __init__(self, cubes: Iterable[Cube], width: int) -> None:
        self.width = width
        self.cubes = tuple(sorted(set(cubes)))
        self._hash: int | None = None

    @classmethod
    def all(cls, width: int) -> BitSet:
        return cls(((0, 0),), width)

    @classmethod
    def empty(cls, width: int) -> BitSet:
        return cls((), width)

    @classmethod
    def cube(cls, value: int, mask: int, width: int) -> BitSet:
        full = (1 << width) - 1
        mask &= full
        return cls(((value & mask, mask),), width)

    @classmethod
    def single(cls, value: int, width: int) -> BitSet:
        full = (1 << width) - 1
        return cls(((value & full, full),), width)

    @property
    def full(self) -> int:
        return (1 << self.width) - 1

    # queries ---------------------------------------------------------------------------

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        for v, m in self.cubes:  # noqa: SIM110 (a loop: marks are tested at every Calico rule)
            if value & m == v:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.cubes)

    @property
    def is_empty(self) -> bool:
        return not self.cubes

    @property
    def is_all(self) -> bool:
        return self.size() == 1 << self.width

    def single_value(self) -> int | None:
        cubes = self.cubes
        if len(cubes) == 1:
            value, mask = cubes[0]
            if mask == (1 << self.width) - 1:
                return value
        return None

    def size(self) -> int:
        return sum(1 << (self.width - bin(m).count("1")) for _, m in self.cubes)

    def known(self) -> Cube:
        """(value, mask) of the bits every member agrees on."""
        if not self.cubes:
            return (0, self.full)
        mask = self.full
        value = self.cubes[0][0]
        for v, m in self.cubes:
            mask &= m & ~(v ^ value)
        return (value & mask, mask)

    def min(self) -> int:
        return min(v for v, _ in self.cubes)

    def issubset(self, other: BitSet) -> bool:
        return not (self - other)

    # algebra ---------------------------------------------------------------------------

    def __and__(self, other: BitSet) -> BitSet:
        out = []
        for v1, m1 in self.cubes:
            for v2, m2 in other.cubes:
                if (v1 ^ v2) & m1 & m2:
                    continue
                out.append((v1 | v2, m1 | m2))
        return BitSet(out, self.width)

    def complement(self) -> BitSet:
        result = BitSet.all(self.width)
        for cube in self.cubes:
            result = result & _cube_complement(cube, self.width)
        return result

    def __invert__(self) -> BitSet:
        return self.complement()

    def __sub__(self, other: BitSet) -> BitSet:
        result = self
        for cube in other.cubes:
            result = result & _cube_complement(cube, self.width)
            if not result:
                break
        return result

    def __or__(self, other: BitSet) -> BitSet:
        return BitSet((*self.cubes, *(other - self).cubes), self.width)

    # identity --------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitSet) or other.width != self.width:
            return False
        if self.cubes == other.cubes:
            return True
        return not (self - other) and not (other - self)

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash((self.width, self.size(), self.known()))
        return h

    def __repr__(self) -> str:
        cubes = ", ".join(f"{v:#x}/{m:#x}" for v, m in self.cubes)
        return f"BitSet([{cubes}], width={self.width})"

    def __reduce__(self) -> tuple[object, ...]:
        return (BitSet, (self.cubes, self.width))


def _cube_complement(cube: Cube, width: int) -> BitSet:
    """Disjoint cubes covering everything outside `cube`: for each fixed bit in turn, the
    vectors that agree on the earlier fixed bits and differ on this one."""
    value, mask = cube
    out = []
    seen_mask = 0
    for i in range(width):
        bit = 1 << i
        if mask & bit:
            out.append(((value & seen_mask) | (~value & bit), seen_mask | bit))
            seen_mask |= bit
    return BitSet(out, width)
