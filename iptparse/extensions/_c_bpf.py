"""A classic BPF program (xt_bpf --bytecode) turned into a predicate on packet fields.

xt_bpf runs the program over the packet from its IP header on and matches when it returns
nonzero. Instead of running it on bytes (iptparse's packets are fields, often not all known),
the program is executed symbolically: every bit of the accumulator, the index register and the
scratch memory is a constant, a bit of a packet field, or unknown. A load reads the bits the
packet's layout puts at that offset (an IPv4 header without options, an IPv6 header without
extension headers, then the TCP, UDP, ICMP, SCTP or DCCP header the protocol says, which forks
the execution on the protocol); a conditional jump becomes a test on the fields whose bits it
compares (`_c_bpf_bits`). Every path that returns nonzero contributes the conjunction of its
tests; paths no packet can take are pruned as they appear.

What cannot be expressed this way (a comparison involving unknown bytes such as the IP id,
sequence numbers or payload, arithmetic on field bits, a load at an offset computed from
unknown data, an ordering test across fields, a test of only the low bits of an address,
whose values are too many ranges to split on) becomes a per-instruction assumption of kind
`bpf` ("bpf instruction N holds"), so the predicate stays exact wherever the program looks at
modelled fields. A load past the headers also needs the packet to be long enough (the
kernel's program returns 0 otherwise): a test on `length`. Programs with too many paths
become one assumption as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..domain import IntSet
from ..logic import FALSE, TRUE, Box, Branch, Pred, Test, split
from ..nodes import Family
from ._c_bpf_bits import (
    AD_OFF,
    JSET,
    LL_OFF,
    M32,
    NET_OFF,
    UNKNOWN,
    ZERO,
    Bit,
    FieldBit,
    Layout,
    Word,
    compare,
    word_const,
    word_value,
)
from ._pred import conj, disj, neg

__all__ = ["MAX_PATHS", "compile_program"]

Opaque = Callable[[int, str], Pred]

MAX_PATHS = 256


@dataclass(frozen=True, slots=True)
class _State:
    pc: int = 0
    a: Word = ZERO
    x: Word = ZERO
    mem: tuple[Word, ...] = (ZERO,) * 16
    conds: tuple[Pred, ...] = ()
    kind: str | None = None  # the layout after the IP header, once a load needed it
    room: tuple[Branch, ...] = ()  # the packets `conds` allow, as disjoint boxes


class _TooManyPaths(Exception):
    pass


class _Runner:
    def __init__(self, program: Sequence[tuple[int, int, int, int]], family: Family,
                 opaque: Opaque) -> None:
        self.program = program
        self.layout = Layout(family)
        self.family = family
        self.opaque = opaque
        self.accepting: list[Pred] = []
        self.paths = 0

    def run(self) -> Pred:
        pending = [_State(room=(Branch(Box({}, self.family)),))]
        while pending:
            state = pending.pop()
            pending.extend(self._step(state))
        return disj(*self.accepting)

    def _finish(self, state: _State, accepted: Pred) -> list[_State]:
        self.paths += 1
        if self.paths > MAX_PATHS:
            raise _TooManyPaths
        self.accepting.append(conj(*state.conds, accepted))
        return []

    def _narrow(self, state: _State, cond: Pred, **changes: object) -> list[_State]:
        """The state with one more test, or none when no packet passes the tests so far
        (a TCP layout after a jump that ruled TCP out, say): such paths are pruned."""
        if cond == TRUE:
            return [replace(state, **changes)]  # type: ignore[arg-type]
        room = tuple(b for branch in state.room for b in split(cond, branch, {})[0])
        if not room:
            return []
        return [replace(state, conds=(*state.conds, cond), room=room,
                        **changes)]  # type: ignore[arg-type]

    def _branch(self, state: _State, cond: Pred, then_pc: int, else_pc: int) -> list[_State]:
        return [*self._narrow(state, cond, pc=then_pc), *self._narrow(state, neg(cond),
                                                                       pc=else_pc)]

    def _load(self, state: _State, offset: int, size: int) -> list[_State]:
        """States after loading `size` bytes at `offset` into A (forking on the layout)."""
        pc = state.pc
        if offset >= AD_OFF:
            return [replace(state, pc=pc + 1, a=self._ancillary(state, offset - AD_OFF))]
        if NET_OFF <= offset < AD_OFF:
            offset -= NET_OFF
        elif offset >= LL_OFF:
            return [replace(state, pc=pc + 1, a=UNKNOWN,
                            conds=(*state.conds, self.opaque(pc, "a link-layer load")))]
        if offset + size <= self.layout.ip_header:
            return [replace(state, pc=pc + 1, a=self._read(state, offset, size, None))]
        states = [state]
        if state.kind is None:
            states = [n for kind, test in self.layout.classes()
                      for n in self._narrow(state, test, kind=kind)]
        out = []
        for s in states:
            assert s.kind is not None
            if offset + size > self.layout.header_size(s.kind):
                long_enough = Test("length", IntSet.range(offset + size, 0xFFFF, 0xFFFF))
                narrowed = self._narrow(s, long_enough)
                if not narrowed:
                    continue
                s = narrowed[0]
            out.append(replace(s, pc=pc + 1, a=self._read(s, offset, size, s.kind)))
        return out

    def _read(self, state: _State, offset: int, size: int, kind: str | None) -> Word:
        bits: list[Bit] = []
        for index in reversed(range(size)):  # big-endian: the last byte is the lowest
            bits.extend(self.layout.byte(offset + index, kind))
        return tuple(bits) + ZERO[len(bits):]

    def _ancillary(self, state: _State, which: int) -> Word:
        if which == 0:  # SKF_AD_PROTOCOL
            return word_const(0x0800 if self.family is Family.INET else 0x86DD)
        if which == 20:  # SKF_AD_MARK
            return tuple(FieldBit("mark", i) for i in range(32))
        if which == 36:  # SKF_AD_CPU
            return tuple(FieldBit("cpu", i) for i in range(32))
        if which == 40:  # SKF_AD_ALU_XOR_X
            a, x = word_value(state.a), word_value(state.x)
            return word_const(a ^ x) if a is not None and x is not None else UNKNOWN
        return UNKNOWN

    def _step(self, state: _State) -> list[_State]:
        if state.pc >= len(self.program):
            return self._finish(state, FALSE)
        code, jt, jf, k = self.program[state.pc]
        cls, pc = code & 0x07, state.pc
        if cls == 0x06:  # RET
            if code & 0x18 == 0x10:  # RET A
                return self._finish(state, compare(
                    JSET, state.a, M32, self.family,
                    lambda: self.opaque(pc, "the returned value is nonzero")))
            return self._finish(state, TRUE if k else FALSE)
        if cls in (0x00, 0x01):
            return self._ld(state, code, k)
        if cls == 0x02:  # ST
            return [replace(state, pc=pc + 1, mem=_store(state.mem, k, state.a))]
        if cls == 0x03:  # STX
            return [replace(state, pc=pc + 1, mem=_store(state.mem, k, state.x))]
        if cls == 0x04:
            return self._alu(state, code, k)
        if cls == 0x07:  # TAX / TXA
            if code & 0x80:
                return [replace(state, pc=pc + 1, a=state.x)]
            return [replace(state, pc=pc + 1, x=state.a)]
        return self._jump(state, code, jt, jf, k)

    def _ld(self, state: _State, code: int, k: int) -> list[_State]:
        pc, mode, size = state.pc, code & 0xE0, {0x00: 4, 0x08: 2, 0x10: 1}.get(code & 0x18, 4)
        if code & 0x07 == 0x01:  # LDX
            if mode == 0x00:
                return [replace(state, pc=pc + 1, x=word_const(k))]
            if mode == 0x60:
                return [replace(state, pc=pc + 1, x=state.mem[k])]
            if mode == 0x80:
                return [replace(state, pc=pc + 1, x=self._length())]
            # MSH: 4 * (byte & 0xf) of the IP header's first byte (or an unknown one)
            byte = self.layout.byte(k, None) if k < self.layout.ip_header else [None] * 8
            nibble = word_value(tuple(byte[:4]) + ZERO[4:])
            if nibble is not None:
                return [replace(state, pc=pc + 1, x=word_const(4 * nibble))]
            return [replace(state, pc=pc + 1, x=UNKNOWN, conds=(*state.conds, self.opaque(
                pc, "a header length read from unknown bits")))]
        if mode == 0x00:
            return [replace(state, pc=pc + 1, a=word_const(k))]
        if mode == 0x60:
            return [replace(state, pc=pc + 1, a=state.mem[k])]
        if mode == 0x80:
            return [replace(state, pc=pc + 1, a=self._length())]
        if mode == 0x40:  # IND: X + k
            x = word_value(state.x)
            if x is None:
                return [replace(state, pc=pc + 1, a=UNKNOWN, conds=(*state.conds, self.opaque(
                    pc, "a load at an offset computed from unknown bits")))]
            return self._load(state, (x + k) & M32, size)
        return self._load(state, k, size)

    def _length(self) -> Word:
        return tuple(FieldBit("length", i) for i in range(16)) + ZERO[16:]

    def _alu(self, state: _State, code: int, k: int) -> list[_State]:
        op, pc = code & 0xF0, state.pc
        if op == 0x80:  # NEG
            a = word_value(state.a)
            return [replace(state, pc=pc + 1, a=UNKNOWN if a is None else word_const(-a & M32))]
        operand = state.x if code & 0x08 else word_const(k)
        value = word_value(operand)
        a = word_value(state.a)
        if op in (0x30, 0x90) and value == 0:  # division by X = 0: the program returns 0
            return self._finish(state, FALSE)
        if a is not None and value is not None:
            return [replace(state, pc=pc + 1, a=word_const(_compute(op, a, value)))]
        if value is None:
            conds = state.conds
            if op in (0x30, 0x90):  # X may be zero, which ends the program with 0
                conds = (*conds, self.opaque(pc, "the divisor is not zero"))
            return [replace(state, pc=pc + 1, a=UNKNOWN, conds=conds)]
        bits = state.a
        if op == 0x50:  # AND
            bits = tuple(b if value >> i & 1 else 0 for i, b in enumerate(bits))
        elif op == 0x40:  # OR
            bits = tuple(1 if value >> i & 1 else b for i, b in enumerate(bits))
        elif op == 0x60:  # LSH
            n = value & 31
            bits = tuple(ZERO[:n]) + bits[:32 - n]
        elif op == 0x70:  # RSH
            n = value & 31
            bits = bits[n:] + tuple(ZERO[:n])
        else:
            bits = UNKNOWN
        return [replace(state, pc=pc + 1, a=bits)]

    def _jump(self, state: _State, code: int, jt: int, jf: int, k: int) -> list[_State]:
        op, pc = code & 0xF0, state.pc
        if op == 0x00:  # JA
            return [replace(state, pc=pc + 1 + k)]
        operand = word_value(state.x) if code & 0x08 else k

        def unknown() -> Pred:
            return self.opaque(pc, "a comparison of bytes iptparse does not model")

        cond = unknown() if operand is None else compare(op, state.a, operand, self.family,
                                                         unknown)
        return self._branch(state, cond, pc + 1 + jt, pc + 1 + jf)


def _store(mem: tuple[Word, ...], k: int, word: Word) -> tuple[Word, ...]:
    return (*mem[:k], word, *mem[k + 1:])


def _compute(op: int, a: int, b: int) -> int:
    results = {0x00: a + b, 0x10: a - b, 0x20: a * b, 0x30: a // b if b else 0,
               0x40: a | b, 0x50: a & b, 0x60: a << (b & 31), 0x70: a >> (b & 31),
               0x90: a % b if b else 0, 0xA0: a ^ b}
    return results.get(op, 0) & M32


def compile_program(program: Sequence[tuple[int, int, int, int]], family: Family,
                    opaque: Opaque) -> Pred | None:
    """The program's verdict as a predicate; None when it has more than MAX_PATHS paths.

    `opaque(pc, why)` gives the assumption standing for an instruction whose outcome depends
    on bits iptparse does not model.
    """
    try:
        return _Runner(program, family, opaque).run()
    except _TooManyPaths:
        return None
