"""What a u32 match means, computed from the header fields iptparse knows.

xt_u32 reads 32-bit words at computed offsets of the packet, counted from the IP header, and
checks each test's final value against its ranges. A word is worked out here bit by bit over a
symbolic packet: each bit is a constant, a bit of a packet field (`tos`, `length`, `ttl`,
`proto`, `src`, `dst`, the ports, `tcp_flags`, `icmp_type`, `icmp_code`, `dccp_type`,
`esp_spi`, `ah_spi`, `ipcomp_cpi`), or unknown (the IPv4 identification and checksum, TCP
sequence numbers, payload…). Masks and shifts move and clear
bits; `@` needs an offset made of constants only. A test whose value depends on no unknown bit
becomes a `Custom` predicate over the fields it reads (an exact test when it reads a slice of a
single field); a test touching an unknown bit is the assumption kind `u32`.

Which bytes are which depends on the packet: the transport header's layout on the protocol, and
on the IPv4 fragment offset (a later fragment carries payload there), on IPv6 whether extension
headers sit in between. The match is worked out for each layout and split on the layout only
where the results differ. iptparse has no field for IPv4 options, so an IPv4 header is taken to
be 20 bytes (IHL 5), as almost every packet's is. The kernel refuses shift counts above 31
(`U32.check`); older kernels took them modulo 32, as x86 and arm64 execute `val <<= n`, which is
what is computed here should such a rule be traced anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from ..domain import BitSet, IntSet
from ..fields import FieldKind, field_spec
from ..logic import FALSE, TRUE, Custom, Pred, Test
from ..nodes import Family
from ..semantics import CompileContext
from ._pred import conj, disj, first_fragment, in_range, invert, neg
from .u32 import U32Match, U32Op, U32Test

__all__ = ["u32_predicate"]

Bit = int | tuple[str, int] | None
"""0 or 1, (field, bit index from the least significant), or None when unknown."""
Byte = tuple[Bit, ...]  # eight bits, most significant first

_UNKNOWN: Byte = (None,) * 8
_ZERO: Byte = (0,) * 8
_WORD = 32


def _const(value: int) -> Byte:
    return tuple((value >> (7 - i)) & 1 for i in range(8))


def _field(name: str, width: int) -> list[Byte]:
    """The field's bytes, most significant first, as laid out in a header."""
    bits: list[Bit] = [(name, width - 1 - i) for i in range(width)]
    return [tuple(bits[i : i + 8]) for i in range(0, width, 8)]


@dataclass(frozen=True)
class _Layout:
    """The packet's bytes (from the IP header) as far as the fields say, for packets meeting
    `condition`; every such packet has at least `min_len` bytes."""

    condition: Pred
    data: tuple[Byte, ...]
    min_len: int

    def byte(self, offset: int) -> Byte:
        return self.data[offset] if offset < len(self.data) else _UNKNOWN


def _ports() -> list[Byte]:
    return _field("sport", 16) + _field("dport", 16)


# transport headers: (protocol, bytes known, the header's least size)
_TCP = (6, _ports() + [_UNKNOWN] * 9 + _field("tcp_flags", 8), 20)
_UDP = (17, _ports(), 8)
_SCTP = (132, _ports(), 12)
# DCCP: after the ports, data offset, CCVal/CsCov, checksum; then 3 reserved bits, the 4-bit
# type and the X bit
_DCCP = (33, [*_ports(), *[_UNKNOWN] * 4, (None, None, None, *_field("dccp_type", 4)[0],
                                          None)], 12)
_ESP = (50, _field("esp_spi", 32), 8)
_IPCOMP = (108, [_UNKNOWN, _UNKNOWN, *_field("ipcomp_cpi", 16)], 4)
# IPv4 only: in IPv6, AH is an extension header
_AH = (51, [*[_UNKNOWN] * 4, *_field("ah_spi", 32)], 12)


def _icmp(number: int) -> tuple[int, list[Byte], int]:
    return number, _field("icmp_type", 8) + _field("icmp_code", 8), 8


def _ipv4_layouts() -> list[_Layout]:
    head = ([_const(0x45)] + _field("tos", 8) + _field("length", 16) + [_UNKNOWN] * 2)
    rest = _field("ttl", 8) + _field("proto", 8) + [_UNKNOWN] * 2 + _field("src", 32) + \
        _field("dst", 32)
    # flags and fragment offset: reserved, DF and MF unknown; the offset is 0 unless fragment=1
    whole = [*head, (None, None, None, 0, 0, 0, 0, 0), _ZERO, *rest]
    later = [*head, _UNKNOWN, _UNKNOWN, *rest]
    not_first = neg(first_fragment())
    layouts = [_Layout(not_first, tuple(later), 20)]
    known = [_TCP, _UDP, _icmp(1), _SCTP, _DCCP, _ESP, _IPCOMP, _AH]
    for number, transport, size in known:
        condition = conj(first_fragment(), in_range("proto", number, number))
        layouts.append(_Layout(condition, tuple(whole + transport), 20 + size))
    numbers = IntSet.values((k[0] for k in known), 0xFF)
    others = Test("proto", numbers.complement())
    layouts.append(_Layout(conj(first_fragment(), others), tuple(whole), 20))
    return layouts


def _ipv6_layouts() -> list[_Layout]:
    tos = _field("tos", 8)[0]
    first = (0, 1, 1, 0, *tos[:4])
    second = (*tos[4:], None, None, None, None)
    # flow label, payload length unknown (the latter is length - 40, not a slice of a field)
    head = [first, second] + [_UNKNOWN] * 4
    tail = _field("ttl", 8) + _field("src", 128) + _field("dst", 128)
    # no hop-by-hop, destination, routing, fragment or AH header: the fixed header's next
    # header is the protocol (ESP and "no next header" included)
    plain = BitSet.cube(0, 0xF8, 8)
    no_ext = Test("ipv6_headers", plain, "the packet has no IPv6 extension headers",
                  "the packet has IPv6 extension headers")
    layouts = [_Layout(neg(no_ext), tuple([*head, _UNKNOWN, *tail]), 40)]
    known = [_TCP, _UDP, _icmp(58), _SCTP, _DCCP, _ESP, _IPCOMP]
    for number, transport, size in known:
        condition = conj(no_ext, in_range("proto", number, number))
        data = head + _field("proto", 8) + tail + transport
        layouts.append(_Layout(condition, tuple(data), 40 + size))
    numbers = IntSet.values((k[0] for k in known), 0xFF)
    others = conj(no_ext, Test("proto", numbers.complement()))
    layouts.append(_Layout(others, tuple(head + _field("proto", 8) + tail), 40))
    return layouts


@cache
def _layouts(family: Family) -> tuple[_Layout, ...]:
    return tuple(_ipv4_layouts() if family is Family.INET else _ipv6_layouts())


# --- one test over one layout ----------------------------------------------------------------

Word = tuple[Bit, ...]  # 32 bits, most significant first


@dataclass(frozen=True)
class _Plan:
    """A test worked out over a layout: the packet must have `need` bytes, and the value is
    `word`; `unknown` when an unknown bit or a non-constant offset is involved."""

    need: int
    word: Word
    ranges: tuple[tuple[int, int], ...]
    unknown: bool = False


def _read(layout: _Layout, offset: int) -> Word:
    return tuple(b for i in range(4) for b in layout.byte(offset + i))


def _constant(word: Word) -> int | None:
    value = 0
    for bit in word:
        if not isinstance(bit, int):
            return None
        value = value << 1 | bit
    return value


def _plan(test: U32Test, layout: _Layout) -> _Plan:
    location = test.location
    need = location.start + 4
    word = _read(layout, location.start)
    at = 0
    for op, number in location.steps:
        if op is U32Op.AND:
            word = tuple(b if number >> (_WORD - 1 - i) & 1 else 0 for i, b in enumerate(word))
        elif op is U32Op.LEFT_SHIFT:
            n = number % _WORD
            word = word[n:] + (0,) * n
        elif op is U32Op.RIGHT_SHIFT:
            n = number % _WORD
            word = (0,) * n + word[: _WORD - n]
        else:
            offset = _constant(word)
            if offset is None or at + offset > 0xFFFFFFFF:
                return _Plan(0, (), (), unknown=True)
            at += offset
            need = max(need, at + number + 4)
            word = _read(layout, at + number)
    return _Plan(need, word, test.ranges, unknown=any(b is None for b in word))


def _evaluate(word: Word, values: dict[str, int]) -> int:
    result = 0
    for bit in word:
        if isinstance(bit, tuple):
            name, index = bit
            bit = values[name] >> index & 1
        assert isinstance(bit, int)
        result = result << 1 | bit
    return result


def _in_ranges(value: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def _fields(word: Word) -> tuple[str, ...]:
    return tuple(dict.fromkeys(b[0] for b in word if isinstance(b, tuple)))


def _size(plan: _Plan, min_len: int) -> Pred:
    """The kernel gives up (no match) when a word would be read past the packet's end."""
    return in_range("length", plan.need, 0xFFFF) if plan.need > min_len else TRUE


def _plan_predicate(plan: _Plan, text: str, ctx: CompileContext, family: Family) -> Pred:
    """The value part of a known plan."""
    known = _constant(plan.word)
    if known is not None:
        return TRUE if _in_ranges(known, plan.ranges) else FALSE
    names = _fields(plan.word)
    word, ranges = plan.word, plan.ranges

    def decide(values: tuple[int | str, ...]) -> bool:
        ints = {n: v for n, v in zip(names, values, strict=True) if isinstance(v, int)}
        return _in_ranges(_evaluate(word, ints), ranges)

    return Custom(names, decide, ctx.key("u32"), "u32", f"u32 test {text} holds",
                  f"u32 test {text} fails", _expansion(word, ranges, names, family))


_MAX_PIECES = 4096


def _expansion(word: Word, ranges: tuple[tuple[int, int], ...], names: tuple[str, ...],
               family: Family) -> Callable[[], Pred] | None:
    """An exact test for a value read from one field: ranges when the value is a slice of
    the field's bits in order, every value checked for a byte-wide field; else None."""
    if len(names) != 1:
        return None
    name = names[0]
    spec = field_spec(name)
    width = family.bits if spec.kind is FieldKind.ADDR else spec.width
    if spec.kind is FieldKind.BITS:
        if width > 8:
            return None

        def bit_values() -> Pred:
            values = BitSet.empty(width)
            for v in range(1 << width):
                if _in_ranges(_evaluate(word, {name: v}), ranges):
                    values = values | BitSet.single(v, width)
            return Test(name, values)
        return cache(bit_values)
    found = _slice(word)
    if found is None:
        if width > 8:
            return None

        def int_values() -> Pred:
            accepted = [v for v in range(1 << width)
                        if _in_ranges(_evaluate(word, {name: v}), ranges)]
            return Test(name, IntSet.values(accepted, (1 << width) - 1))
        return cache(int_values)
    constant, shift, low, count = found
    high = width - low - count
    if len(ranges) << high > _MAX_PIECES:
        return None

    def slice_values() -> Pred:
        pieces = []
        step = 1 << shift
        for lo, hi in ranges:
            first = max(0, -((constant - lo) // step))
            last = min((1 << count) - 1, (hi - constant) // step)
            if first > last:
                continue
            for top in range(1 << high):
                base = top << (low + count)
                pieces.append((base | first << low, base | last << low | ((1 << low) - 1)))
        return Test(name, IntSet(pieces, (1 << width) - 1))
    return cache(slice_values)


def _slice(word: Word) -> tuple[int, int, int, int] | None:
    """When the word is `constant + ((field >> low) & (2**count - 1)) << shift`, the field's
    bits in order at consecutive positions: (constant, shift, low, count)."""
    positions = [(31 - i, b[1]) for i, b in enumerate(word) if isinstance(b, tuple)]
    indexes = sorted(index for _, index in positions)
    low, count = indexes[0], len(indexes)
    if indexes != list(range(low, low + count)):
        return None
    shift = min(p for p, _ in positions)
    if any(p - shift != index - low for p, index in positions):
        return None
    constant = sum(b << (31 - i) for i, b in enumerate(word) if isinstance(b, int))
    return constant, shift, low, count


# --- the match ---------------------------------------------------------------------------------

def _layout_predicate(options: U32Match, layout: _Layout, ctx: CompileContext,
                      texts: Sequence[str], whole: str) -> tuple[tuple[object, ...], Pred]:
    """The match's value (before `!`) on this layout, and a key equal for equal results."""
    plans = [_plan(test, layout) for test in options.tests]
    key = tuple((p.unknown, p.need if p.need > layout.min_len else 0, p.word, p.ranges)
                for p in plans)
    parts = [conj(_size(p, layout.min_len),
                  TRUE if p.unknown else _plan_predicate(p, text, ctx, ctx.family))
             for p, text in zip(plans, texts, strict=True)]
    if any(p.unknown for p in plans):
        parts.append(ctx.assume("u32", f"u32 {whole} holds (it reads bytes iptparse does "
                                "not know)", f"u32 {whole} does not hold"))
    return key, conj(*parts)


def u32_predicate(options: U32Match, ctx: CompileContext, texts: Sequence[str],
                  whole: str) -> Pred:
    """`texts`: each test as iptables-save prints it; `whole`: the match's argument."""
    results: dict[tuple[object, ...], tuple[list[Pred], Pred]] = {}
    for layout in _layouts(ctx.family):
        key, pred = _layout_predicate(options, layout, ctx, texts, whole)
        results.setdefault(key, ([], pred))[0].append(layout.condition)
    if len(results) == 1:
        ((_, pred),) = results.values()
        return invert(pred, options.invert)
    return invert(disj(*(conj(disj(*conditions), pred)
                         for conditions, pred in results.values())), options.invert)
