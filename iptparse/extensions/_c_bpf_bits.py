"""The bits a classic BPF program sees, and its tests as predicates (see `_c_bpf`).

A 32-bit word is a tuple of bit sources: a constant, a bit of a packet field, a bit of the IPv4
fragment offset (zero in a whole packet, some nonzero 13-bit value in a later fragment) or
unknown. `Layout` says which bits a load at an offset reads (IPv4 without options, IPv6
without extension headers, then the transport header the protocol selects); `compare` turns a
conditional jump into tests on the fields whose bits it compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ..domain import BitSet, IntSet
from ..fields import FieldKind, field_spec
from ..logic import FALSE, TRUE, Pred, Test
from ..nodes import Family
from ._pred import conj, disj, neg

__all__ = ["AD_OFF", "FRAG", "JSET", "LL_OFF", "M32", "NET_OFF", "UNKNOWN", "ZERO", "Bit",
           "FieldBit", "Layout", "Word", "compare", "word_const", "word_value"]

AD_OFF = 0xFFFF_F000  # SKF_AD_OFF as the u32 in the instruction
NET_OFF = 0xFFF0_0000  # SKF_NET_OFF
LL_OFF = 0xFFE0_0000  # SKF_LL_OFF
M32 = 0xFFFF_FFFF
_MAX_HOLES = 12  # free bits above the bits a test fixes: that many ranges, as a power of 2


class FieldBit(NamedTuple):
    field: str
    bit: int


class _Frag:
    """A bit of the IPv4 fragment offset: all zero unless the packet is a later fragment."""

    def __repr__(self) -> str:
        return "FRAG"


FRAG = _Frag()
Bit = int | FieldBit | _Frag | None  # 0/1, a field's bit, a fragment-offset bit, unknown
Word = tuple[Bit, ...]  # 32 bits, index 0 is the least significant


def word_const(value: int) -> Word:
    return tuple((value >> i) & 1 for i in range(32))


def word_value(word: Word) -> int | None:
    out = 0
    for i, b in enumerate(word):
        if not isinstance(b, int):
            return None
        out |= b << i
    return out


UNKNOWN: Word = (None,) * 32
ZERO: Word = word_const(0)


# --- packet layout -------------------------------------------------------------------------

def _field_byte(name: str, shift: int) -> list[Bit]:
    return [FieldBit(name, shift + i) for i in range(8)]


def _const_byte(value: int) -> list[Bit]:
    return [(value >> i) & 1 for i in range(8)]


def _ip4(offset: int) -> list[Bit]:
    if offset == 0:
        return _const_byte(0x45)
    if offset == 1:
        return _field_byte("tos", 0)
    if offset in (2, 3):
        return _field_byte("length", 8 * (3 - offset))
    if offset == 6:
        return [FRAG] * 5 + [None, None, 0]
    if offset == 7:
        return [FRAG] * 8
    if offset in (8, 9):
        return _field_byte("ttl" if offset == 8 else "proto", 0)
    if 12 <= offset < 20:
        name = "src" if offset < 16 else "dst"
        return _field_byte(name, 8 * (3 - (offset - 12) % 4))
    return [None] * 8


def _ip6(offset: int) -> list[Bit]:
    if offset == 0:
        return [FieldBit("tos", 4 + i) for i in range(4)] + [0, 1, 1, 0]
    if offset == 1:
        unknown: list[Bit] = [None] * 4
        return unknown + [FieldBit("tos", i) for i in range(4)]
    if offset in (6, 7):
        return _field_byte("proto" if offset == 6 else "ttl", 0)
    if 8 <= offset < 40:
        name = "src" if offset < 24 else "dst"
        return _field_byte(name, 8 * (15 - (offset - 8) % 16))
    return [None] * 8


#: Layout classes after the IP header: protocol numbers, header size, known bytes.
_PORTS = {0: ("sport", 8), 1: ("sport", 0), 2: ("dport", 8), 3: ("dport", 0)}
_CLASSES: dict[str, tuple[tuple[int, ...], int, dict[int, tuple[str, int]]]] = {
    "tcp": ((6,), 20, {**_PORTS, 13: ("tcp_flags", 0)}),
    "udp": ((17,), 8, _PORTS),
    "sctp/dccp": ((132, 33), 12, _PORTS),
    "icmp": ((), 8, {0: ("icmp_type", 0), 1: ("icmp_code", 0)}),
}


def _l4(kind: str, offset: int) -> list[Bit]:
    known = _CLASSES[kind][2] if kind in _CLASSES else {}
    spec = known.get(offset)
    return _field_byte(*spec) if spec else [None] * 8


@dataclass(frozen=True, slots=True)
class Layout:
    family: Family

    @property
    def ip_header(self) -> int:
        return 20 if self.family is Family.INET else 40

    def classes(self) -> list[tuple[str, Pred]]:
        """The layouts the bytes after the IP header may have, with the test selecting each."""
        icmp = 1 if self.family is Family.INET else 58
        out: list[tuple[str, Pred]] = []
        listed: list[int] = []
        whole = Test("fragment", IntSet.single(0, 1))
        for kind, (numbers, _, _) in _CLASSES.items():
            numbers = numbers or (icmp,)
            listed.extend(numbers)
            test = conj(Test("proto", IntSet.values(numbers, 255)),
                        whole if self.family is Family.INET else TRUE)
            out.append((kind, test))
        other = neg(Test("proto", IntSet.values(listed, 255)))
        if self.family is Family.INET:
            out.append(("fragment", Test("fragment", IntSet.single(1, 1))))
            other = conj(whole, other)
        out.append(("other", other))
        return out

    def header_size(self, kind: str) -> int:
        return self.ip_header + (_CLASSES[kind][1] if kind in _CLASSES else 0)

    def byte(self, offset: int, kind: str | None) -> list[Bit]:
        if offset < self.ip_header:
            return _ip4(offset) if self.family is Family.INET else _ip6(offset)
        assert kind is not None
        return _l4(kind, offset - self.ip_header)


# --- conditions ----------------------------------------------------------------------------

def _field_test(name: str, value: int, mask: int, family: Family) -> Pred | None:
    spec = field_spec(name)
    if spec.kind is FieldKind.BITS:
        return Test(name, BitSet.cube(value, mask, spec.width))
    bits = family.bits if spec.kind is FieldKind.ADDR else spec.width
    if mask and bits - mask.bit_length() + _holes(mask) > _MAX_HOLES:
        return None  # free bits above tested ones: too many ranges to split a path on
    return Test(name, IntSet.masked(value, mask, bits))


def _holes(mask: int) -> int:
    """Zero bits between the lowest and the highest one bit of `mask`."""
    low = (mask & -mask).bit_length() - 1
    return mask.bit_length() - low - bin(mask).count("1")


def _equal(word: Word, k: int, family: Family) -> Pred | None:
    """`word == k` as tests on fields; None when an unknown bit is compared."""
    wanted: dict[str, tuple[int, int]] = {}
    for i, b in enumerate(word):
        bit = (k >> i) & 1
        if isinstance(b, int):
            if b != bit:
                return FALSE
        elif isinstance(b, FieldBit):
            value, mask = wanted.get(b.field, (0, 0))
            if mask >> b.bit & 1 and (value >> b.bit & 1) != bit:
                return FALSE
            wanted[b.field] = (value | bit << b.bit, mask | 1 << b.bit)
        else:
            return None
    parts: list[Pred] = []
    for name, (value, mask) in wanted.items():
        test = _field_test(name, value, mask, family)
        if test is None:
            return None
        parts.append(test)
    return conj(*parts)


def _any_set(word: Word, k: int, family: Family) -> Pred | None:
    """`word & k != 0`; None when an unknown bit is involved."""
    alternatives: list[Pred] = []
    for i, b in enumerate(word):
        if not k >> i & 1:
            continue
        if isinstance(b, int):
            if b:
                return TRUE
            continue
        if not isinstance(b, FieldBit):
            return None
        test = _field_test(b.field, 1 << b.bit, 1 << b.bit, family)
        if test is None:
            return None
        alternatives.append(test)
    return disj(*alternatives)


def _above(word: Word, k: int, strict: bool, family: Family) -> Pred | None:
    """`word > k` (or >=) when the word is constants around one slice of one field."""
    run = [(i, b) for i, b in enumerate(word) if not isinstance(b, int)]
    if not run:
        value = word_value(word)
        assert value is not None
        return TRUE if (value > k if strict else value >= k) else FALSE
    first = run[0][1]
    if not isinstance(first, FieldBit):
        return None
    low_pos = run[0][0]
    for n, (i, b) in enumerate(run):
        if b != FieldBit(first.field, first.bit + n) or i != low_pos + n:
            return None
    base = sum(b << i for i, b in enumerate(word) if isinstance(b, int))
    threshold = k + 1 if strict else k  # the smallest word that passes
    step = 1 << low_pos
    least = 0 if threshold <= base else -(-(threshold - base) // step)
    return _slice_at_least(first, len(run), least, family)


def _slice_at_least(first: FieldBit, n: int, least: int, family: Family) -> Pred | None:
    """`(field >> first.bit) & (2**n - 1) >= least` as a test on the field."""
    if least > (1 << n) - 1:
        return FALSE
    if least == 0:
        return TRUE
    spec = field_spec(first.field)
    width = family.bits if spec.kind is FieldKind.ADDR else spec.width
    top = (1 << width) - 1
    if spec.kind is not FieldKind.BITS and first.bit + n == width:
        return Test(first.field, IntSet.range(least << first.bit, top, top))
    # s >= least: s == least, or s agrees with least above some 0 bit of it and has a 1 there
    cubes = [(least, (1 << n) - 1)]
    for j in range(n):
        if not least >> j & 1:
            above = ((1 << n) - 1) & ~((1 << j) - 1)
            cubes.append(((least & above) | 1 << j, above))
    if spec.kind is FieldKind.BITS:
        return Test(first.field, BitSet([(v << first.bit, m << first.bit) for v, m in cubes],
                                        width))
    if width - first.bit - n > _MAX_HOLES:
        return None
    values = IntSet.empty(top)
    for v, m in cubes:
        values = values | IntSet.masked(v << first.bit, m << first.bit, width)
    return Test(first.field, values)


_JEQ, _JGT, _JGE, JSET = 0x10, 0x20, 0x30, 0x40


def _plain(op: int, word: Word, k: int, family: Family) -> Pred | None:
    if op == _JEQ:
        return _equal(word, k, family)
    if op == JSET:
        return _any_set(word, k, family)
    return _above(word, k, op == _JGT, family)


def compare(op: int, word: Word, k: int, family: Family, opaque: Callable[[], Pred]) -> Pred:
    """A conditional jump's test. Fragment-offset bits are zero in a whole packet or a first
    fragment (field `fragment` 0) and, in a later fragment, some nonzero 13-bit value: a test
    of all of them for "any set" or "all clear" is decided, anything finer is opaque."""
    relevant = k if op == JSET else M32
    frag = [i for i, b in enumerate(word) if isinstance(b, _Frag)]
    if not any(relevant >> i & 1 for i in frag):
        got = _plain(op, word, k, family)
        return opaque() if got is None else got
    whole = _plain(op, tuple(0 if isinstance(b, _Frag) else b for b in word), k, family)
    later: Pred | None = None
    if len(frag) == 13 and op == JSET and all(k >> i & 1 for i in frag):
        later = TRUE
    elif len(frag) == 13 and op == _JEQ and not any(k >> i & 1 for i in frag):
        later = FALSE
    first = Test("fragment", IntSet.single(0, 1))
    return disj(conj(first, opaque() if whole is None else whole),
                conj(neg(first), opaque() if later is None else later))
