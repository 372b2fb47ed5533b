"""Building blocks of the target semantics: notes, images of value sets, bit-cube arithmetic.

Many targets rewrite a field as a function of its current value (TTL --ttl-dec, DSCP, NETMAP,
CONNMARK's shifts). `iptparse.semantics.SetFrom` hands such a function the field's current value
set at run time; the helpers here turn a function of one value into the exact image of a set, so
a known input gives the known output and an unknown one exactly the values it can become. Bit
fields arrive as the one cube of bits the path knows, and the cube arithmetic follows the
kernel's expressions bit by bit (a bit is known after `x << 3` exactly when it was known before).
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain import BitSet, IntSet, ValueSet
from ..logic import Test, XorMask
from ..semantics import Effect, SetFrom

__all__ = [
    "BitCube",
    "continue_with",
    "int_image",
    "masked_image",
    "range_bits",
    "rewrite_byte",
    "tcp_option",
    "xmark_text",
]

_ENUMERATE = 1 << 16  # fields up to 16 bits are imaged value by value


def continue_with(note: str) -> Effect:
    """A target that leaves every modelled field alone and lets the packet go on."""
    return Effect(note=note)


def tcp_option(kinds: int, what: str) -> Test:
    """The packet carries one of the TCP option kinds whose bits are set in `kinds`."""
    return Test("tcp_options", BitSet.cube(0, kinds, 256).complement(),
                f"the packet has {what}", f"the packet has no {what}")


def int_image(values: ValueSet, fn: Callable[[int], int], top: int) -> IntSet:
    """`{fn(v) for v in values}` for a small field (TTL, TOS: at most 2**16 values)."""
    assert isinstance(values, IntSet)
    if len(values) > _ENUMERATE:
        raise ValueError("int_image is for fields of at most 16 bits")
    return IntSet.values((fn(v) for v in values), top)


def rewrite_byte(field: str, value: int, mask: int) -> SetFrom:
    """`field = (field & ~mask) ^ value` on a byte (TOS, DSCP, ECN's IP bits), kept tied to
    the input value: a later `-m tos`/`-m dscp` narrows the TOS the packet came with."""
    step = XorMask(value, mask)

    def rewrite(values: tuple[ValueSet, ...]) -> ValueSet:
        return int_image(values[0], lambda byte: step.apply(byte, 0xFF), 0xFF)

    return SetFrom(field, (field,), rewrite, step=step)


def masked_image(values: ValueSet, network: int, host_bits: int, bits: int) -> IntSet:
    """`{network | (v & host) for v in values}` with `host` the low `host_bits` bits: where an
    address lands when its prefix is replaced (NETMAP), computed range by range."""
    assert isinstance(values, IntSet)
    span = (1 << host_bits) - 1
    top = (1 << bits) - 1
    base = network & ~span & top
    out: list[tuple[int, int]] = []
    for lo, hi in values.ranges:
        if hi - lo >= span:
            return IntSet.range(base, base | span, top)
        first, last = lo & span, hi & span
        if first <= last:
            out.append((base | first, base | last))
        else:  # the range wraps past a multiple of the host span
            out += [(base | first, base | span), (base, base | last)]
    return IntSet(out, top)


def range_bits(lo: int, hi: int, width: int) -> BitSet:
    """The numbers lo..hi (wrapping past the top when lo > hi) as aligned bit cubes."""
    full = (1 << width) - 1
    if lo > hi:
        return range_bits(lo, full, width) | range_bits(0, hi, width)
    cubes = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << width
        while lo + size - 1 > hi:
            size >>= 1
        cubes.append((lo, full ^ (size - 1)))
        lo += size
    return BitSet(cubes, width)


def xmark_text(field: str, value: int, mask: int, width: int) -> str:
    """`(x & ~mask) ^ value` in the words iptables' own help uses for the special cases."""
    full = (1 << width) - 1
    digits = (width + 3) // 4
    if mask == full:
        return f"{field} = {value:#0{digits + 2}x}"
    if value == mask:
        return f"{field} |= {value:#x}"
    if value == 0:
        return f"{field} &= {full ^ mask:#x}"
    if mask == 0:
        return f"{field} ^= {value:#x}"
    return f"{field} = ({field} & {full ^ mask:#x}) ^ {value:#x}"


class BitCube:
    """The bits of a value that are known (`mask`) and their values (`value`), under the
    operations CONNMARK applies; `x << k` shifts knowledge with the bits and knows the zeros
    shifted in."""

    __slots__ = ("mask", "value", "width")

    def __init__(self, value: int, mask: int, width: int) -> None:
        full = (1 << width) - 1
        self.mask = mask & full
        self.value = value & self.mask
        self.width = width

    @classmethod
    def of(cls, values: ValueSet) -> BitCube:
        assert isinstance(values, BitSet)
        value, mask = values.known()
        return cls(value, mask, values.width)

    @property
    def full(self) -> int:
        return (1 << self.width) - 1

    def xmark(self, value: int, mask: int) -> BitCube:
        """(x & ~mask) ^ value."""
        return BitCube((self.value & ~mask) ^ value, self.mask | mask, self.width)

    def and_(self, constant: int) -> BitCube:
        return BitCube(self.value & constant, self.mask | (self.full & ~constant), self.width)

    def xor(self, other: BitCube) -> BitCube:
        return BitCube(self.value ^ other.value, self.mask & other.mask, self.width)

    def shift(self, bits: int, right: bool) -> BitCube:
        entering = ((1 << bits) - 1) << (self.width - bits) if right else (1 << bits) - 1
        if right:
            return BitCube(self.value >> bits, (self.mask >> bits) | entering, self.width)
        return BitCube(self.value << bits, (self.mask << bits) | entering, self.width)

    def bitset(self) -> BitSet:
        return BitSet.cube(self.value, self.mask, self.width)
