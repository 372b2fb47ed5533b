"""bpf match (libxt_bpf, revision 1): a classic BPF program run over the packet.

`--bytecode "N,c t f k,…"` is what `nfbpf_compile` prints: the instruction count, then each
instruction's code, jump-true, jump-false and constant. It is kept as a tuple of `BpfInsn` so
an interpreter can run it. libxt_bpf reads it with sscanf, so numbers wrap to their C field
sizes (`65542` is code 6, `-1` is k 4294967295) and anything after an instruction's fourth
number up to the next comma is ignored. The kernel then verifies the program as it does any
socket filter (bpf_check_classic); the same checks run here so a program that would not load
is refused. `--object-pinned PATH` names an eBPF program pinned on the loading machine; only
the path can be kept.

Semantics (xt_bpf): the rule matches when the program returns nonzero for the packet (no `!`
exists). A classic program is compiled to tests on packet fields by symbolic execution (see
`_c_bpf`); what it reads beyond the modelled fields becomes assumptions of kind `bpf`, one
per instruction (`bpf@filter:INPUT:3#5`). A pinned eBPF program, or a classic one with too
many paths, is the single assumption `bpf` ("the BPF program accepts the packet").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..logic import Assume, Pred
from ..nodes import ExtOptions
from ._c_bpf import compile_program
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    one_of,
    register,
)

__all__ = ["BpfInsn", "BpfMatch", "check_program", "parse_bytecode"]

MAX_INSNS = 64  # XT_BPF_MAX_NUM_INSTR
PATH_MAX = 512  # XT_BPF_PATH_MAX
_ULONG_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class BpfInsn:
    """One sock_filter instruction."""

    code: int
    jt: int
    jf: int
    k: int


@dataclass(frozen=True, slots=True)
class BpfMatch(ExtOptions):
    """Exactly one of `program` and `pinned_path` is set."""

    program: tuple[BpfInsn, ...] | None = None
    pinned_path: str | None = None


def _scan_number(text: str, pos: int) -> tuple[int, int] | None:
    """scanf's %u at `pos`: blanks, a sign, decimal digits; (value mod 2**64, end) or None."""
    while pos < len(text) and text[pos] in " \t\n\v\f\r":
        pos += 1
    sign = text[pos:pos + 1]
    start = pos + 1 if sign in ("+", "-") else pos
    end = start
    while end < len(text) and text[end].isdigit() and text[end].isascii():
        end += 1
    if end == start:
        return None
    value = int(text[start:end])
    if value > _ULONG_MAX:
        return _ULONG_MAX, end
    return (-value if sign == "-" else value) & _ULONG_MAX, end


def _instruction(text: str, pos: int, index: int, column: int) -> BpfInsn:
    fields: list[int] = []
    for width in (0xFFFF, 0xFF, 0xFF, 0xFFFF_FFFF):
        got = _scan_number(text, pos)
        if got is None:
            raise OptionError(f"bpf: error at instruction {index}", column)
        fields.append(got[0] & width)
        pos = got[1]
    return BpfInsn(*fields)


def parse_bytecode(text: str, column: int = 0) -> tuple[BpfInsn, ...]:
    head = _scan_number(text, 0)
    if head is None or text[head[1]:head[1] + 1] != ",":
        raise OptionError("bpf: error parsing the program length (`N,code jt jf k,...')",
                          column)
    length = head[0] & 0xFFFF
    if length == 0:
        raise OptionError("bpf: illegal zero length program", column)
    if length > MAX_INSNS:
        raise OptionError(f"bpf: more than {MAX_INSNS} instructions", column)
    program: list[BpfInsn] = []
    comma = text.find(",")
    while comma >= 0 and comma + 1 < len(text):
        if len(program) >= length:
            raise OptionError(f"bpf: the program has more instructions than its length "
                              f"{length}", column)
        program.append(_instruction(text, comma + 1, len(program), column))
        comma = text.find(",", comma + 1)
    if len(program) != length:
        raise OptionError(f"bpf: the program has fewer instructions than its length {length}",
                          column)
    return tuple(program)


# classic BPF opcodes the kernel accepts (net/core/filter.c chk_code_allowed)
_ALU_OPS = (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0)
_CONDITIONAL_JUMPS = frozenset(0x05 | op | src for op in (0x10, 0x20, 0x30, 0x40)
                               for src in (0x00, 0x08))
_ALLOWED = frozenset({
    *(0x04 | op | src for op in _ALU_OPS for src in (0x00, 0x08)), 0x84,
    0x20, 0x28, 0x30, 0x80, 0x40, 0x48, 0x50, 0x00, 0x60,  # LD
    0x81, 0xB1, 0x01, 0x61, 0x02, 0x03, 0x07, 0x87,  # LDX, ST, STX, TAX, TXA
    0x06, 0x16, 0x05, *_CONDITIONAL_JUMPS,  # RET K/A, JA, conditional jumps
})
_ANCILLARY_BASE = 0xFFFF_F000  # SKF_AD_OFF
_ANCILLARY = frozenset(_ANCILLARY_BASE + offset for offset in range(0, 64, 4))
_MEMWORDS = 16


def check_program(program: Sequence[BpfInsn]) -> str | None:
    """Why the kernel's classic BPF verifier refuses the program, or None."""
    size = len(program)
    for pc, insn in enumerate(program):
        code, k = insn.code, insn.k
        if code not in _ALLOWED:
            return f"instruction {pc}: opcode {code} is not allowed"
        if code in (0x34, 0x94) and k == 0:
            return f"instruction {pc}: division by zero"
        if code in (0x64, 0x74) and k >= 32:
            return f"instruction {pc}: shift by {k}"
        if code in (0x60, 0x61, 0x02, 0x03) and k >= _MEMWORDS:
            return f"instruction {pc}: scratch memory slot {k} does not exist"
        if code == 0x05 and k >= size - pc - 1:
            return f"instruction {pc}: jump past the end"
        if code in _CONDITIONAL_JUMPS and max(insn.jt, insn.jf) + pc + 1 >= size:
            return f"instruction {pc}: jump past the end"
        if code in (0x20, 0x28, 0x30) and k >= _ANCILLARY_BASE and k not in _ANCILLARY:
            return f"instruction {pc}: unknown ancillary load {k}"
    if program[-1].code not in (0x06, 0x16):
        return "the last instruction must be a return"
    return _check_memory(program)


def _check_memory(program: Sequence[BpfInsn]) -> str | None:
    """Every scratch slot must be stored before it is loaded, along every path."""
    valid_at = [0xFFFF] * len(program)
    valid = 0
    for pc, insn in enumerate(program):
        valid &= valid_at[pc]
        if insn.code in (0x02, 0x03):
            valid |= 1 << insn.k
        elif insn.code in (0x60, 0x61):
            if not valid >> insn.k & 1:
                return f"instruction {pc}: scratch slot {insn.k} is read before it is written"
        elif insn.code == 0x05:
            valid_at[pc + 1 + insn.k] &= valid
            valid = 0xFFFF
        elif insn.code in _CONDITIONAL_JUMPS:
            valid_at[pc + 1 + insn.jt] &= valid
            valid_at[pc + 1 + insn.jf] &= valid
            valid = 0xFFFF
    return None


@register
class Bpf(Extension):
    """Assumption kind `bpf`: the whole program (key `bpf@TABLE:CHAIN:N`) or one
    instruction (`bpf@TABLE:CHAIN:N#PC`), holds = accepts / the jump's test holds."""

    names = ("bpf",)
    options = (OptSpec("bytecode", 1), OptSpec("object-pinned", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> BpfMatch:
        opts = one_of(args)
        code, pinned = opts.get("bytecode"), opts.get("object-pinned")
        if (code is None) == (pinned is None):
            raise OptionError("one of --bytecode or --object-pinned is required",
                              args[-1].column if args else 0)
        if pinned is not None:
            path = pinned.value.encode()[: PATH_MAX - 1].decode(errors="ignore")
            return BpfMatch(pinned_path=path)
        assert code is not None
        program = parse_bytecode(code.value, code.value_column())
        problem = check_program(program)
        if problem:
            raise OptionError(f"the kernel refuses this BPF program: {problem}",
                              code.value_column())
        return BpfMatch(program=program)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, BpfMatch)
        if options.program is None:
            return f" --object-pinned {options.pinned_path}"
        body = ",".join(f"{i.code} {i.jt} {i.jf} {i.k}" for i in options.program)
        return f' --bytecode "{len(options.program)},{body}"'

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, BpfMatch)
        whole: Pred = ctx.assume("bpf", "the BPF program accepts the packet",
                                 "the BPF program rejects the packet")
        if options.program is None:
            return whole

        def opaque(pc: int, why: str) -> Pred:
            return Assume(f"{ctx.key('bpf')}#{pc}", "bpf",
                          f"bpf instruction {pc} holds ({why})",
                          f"bpf instruction {pc} does not hold ({why})")

        program = [(i.code, i.jt, i.jf, i.k) for i in options.program]
        compiled = compile_program(program, ctx.family, opaque)
        return whole if compiled is None else compiled
