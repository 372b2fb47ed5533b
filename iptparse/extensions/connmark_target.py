"""CONNMARK (libxt_CONNMARK, revision 2): set, save or restore the connection mark.

As with MARK, the set spellings become `ctmark = (ctmark & ~ctmask) ^ value`. Save and restore
copy between the packet mark and the connection mark through two masks, then shift the result
(revision 2). Options apply in the order given: `--set-xmark 1 --mask 3` leaves ctmask 3, while
`--mask 3 --set-xmark 1` leaves 0xffffffff, exactly as iptables fills its structure.

Semantics (xt_connmark.c, connmark_tg_shift): without a connection (before conntrack, or an
INVALID / UNTRACKED packet) the target does nothing. Without a shift every mode is exact bit
arithmetic that keeps unknown bits tied to where they came from. A shift moves bits to other
positions, which iptparse's bit expressions cannot follow: the result is then a fresh value
holding exactly the bits the path knew, shifted (a later mark test splits that value, not the
input mark).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import ValueSet
from ..nodes import ExtOptions
from ..semantics import Change, CompileContext, CopyBits, Effect, SetBits, SetFrom
from ._a_sem import has_connection
from ._cnum import U32
from ._d_sem import BitCube, xmark_text
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    register,
)
from .mark_target import MARK_OPERATIONS, exclusive, xmark_from

__all__ = ["ConnmarkMode", "ConnmarkTarget"]


class ConnmarkMode(enum.Enum):
    SET = "set"
    SAVE = "save"  # nfmark -> ctmark
    RESTORE = "restore"  # ctmark -> nfmark


@dataclass(frozen=True, slots=True)
class ConnmarkTarget(ExtOptions):
    """The kernel's xt_connmark_tginfo2.

    SET: `ctmark = ((ctmark & ~ctmask) ^ ctmark_value) << or >> shift`.
    SAVE: `ctmark = (ctmark & ~ctmask) ^ (shift(nfmark & nfmask))`.
    RESTORE: `nfmark = (nfmark & ~nfmask) ^ (shift(ctmark & ctmask))`.
    `shift_right` says which way `shift_bits` goes.
    """

    mode: ConnmarkMode
    ctmark: int = 0
    ctmask: int = U32
    nfmask: int = U32
    shift_right: bool = False
    shift_bits: int = 0


_OPERATIONS = (*MARK_OPERATIONS, "save-mark", "restore-mark")


@register
class Connmark(Extension):
    kind = "target"
    names = ("CONNMARK",)
    options = (
        *(OptSpec(name, 1) for name in MARK_OPERATIONS),
        OptSpec("save-mark", 0),
        OptSpec("restore-mark", 0),
        OptSpec("left-shift-mark", 1),
        OptSpec("right-shift-mark", 1),
        OptSpec("ctmask", 1),
        OptSpec("nfmask", 1),
        OptSpec("mask", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConnmarkTarget:
        exclusive(args, _OPERATIONS)
        for name in ("ctmask", "nfmask", "left-shift-mark", "right-shift-mark"):
            exclusive(args, (name,))
        exclusive(args, ("ctmask", "mask"))
        exclusive(args, ("nfmask", "mask"))
        mode: ConnmarkMode | None = None
        ctmark, ctmask, nfmask, shift_right, shift_bits = 0, U32, U32, False, 0
        for arg in args:
            if arg.name in MARK_OPERATIONS:
                mode = ConnmarkMode.SET
                ctmark, ctmask = xmark_from(arg)
            elif arg.name == "save-mark":
                mode = ConnmarkMode.SAVE
            elif arg.name == "restore-mark":
                mode = ConnmarkMode.RESTORE
            elif arg.name == "mask":
                nfmask = ctmask = xt_uint_arg(arg, 0, U32)
            elif arg.name == "ctmask":
                ctmask = xt_uint_arg(arg, 0, U32)
            elif arg.name == "nfmask":
                nfmask = xt_uint_arg(arg, 0, U32)
            else:
                shift_bits = xt_uint_arg(arg, 0, 32)
                shift_right = arg.name == "right-shift-mark"
                if shift_bits > 31:
                    raise OptionError("the kernel refuses a shift of 32 bits (0-31)",
                                      arg.value_column())
        if mode is None:
            raise OptionError("CONNMARK target: No operation specified")
        if mode is ConnmarkMode.SET:
            nfmask = U32  # unused by the kernel and not printed
        if not shift_bits:
            shift_right = False
        return ConnmarkTarget(mode, ctmark if mode is ConnmarkMode.SET else 0, ctmask, nfmask,
                              shift_right, shift_bits)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConnmarkTarget)
        if options.mode is ConnmarkMode.SET:
            out = f" --set-xmark {options.ctmark:#x}/{options.ctmask:#x}"
        else:
            out = (f" --{options.mode.value}-mark --nfmask {options.nfmask:#x}"
                   f" --ctmask {options.ctmask:#x}")
        if options.shift_bits:
            way = "right" if options.shift_right else "left"
            out += f" --{way}-shift-mark {options.shift_bits}"
        return out

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, ConnmarkTarget)
        change, text = _change(options)
        return Effect(changes=(change,), note=text, when=has_connection(),
                      otherwise=Effect(note="no connection: CONNMARK does nothing"))


def _shift_text(o: ConnmarkTarget) -> str:
    if not o.shift_bits:
        return ""
    return f" {'>>' if o.shift_right else '<<'} {o.shift_bits}"


def _change(o: ConnmarkTarget) -> tuple[Change, str]:
    """The kernel's expression for the mode, and how it reads."""
    shift = _shift_text(o)
    if o.mode is ConnmarkMode.SET:
        if not o.shift_bits:
            return (SetBits("ctmark", o.ctmark, o.ctmask),
                    xmark_text("ctmark", o.ctmark, o.ctmask, 32))

        def set_shifted(values: tuple[ValueSet, ...]) -> ValueSet:
            cube = BitCube.of(values[0]).xmark(o.ctmark, o.ctmask)
            return cube.shift(o.shift_bits, o.shift_right).bitset()

        return (SetFrom("ctmark", ("ctmark",), set_shifted),
                f"ctmark = ((ctmark & {U32 ^ o.ctmask:#x}) ^ {o.ctmark:#x}){shift}")
    if o.mode is ConnmarkMode.SAVE:  # ctmark gets the mark's bits, restore the other way
        return _copy("ctmark", "mark", o.ctmask, o.nfmask, o, "save")
    return _copy("mark", "ctmark", o.nfmask, o.ctmask, o, "restore")


def _copy(dst: str, src: str, clear: int, take: int, o: ConnmarkTarget,
          mode: str) -> tuple[Change, str]:
    """dst = (dst & ~clear) ^ ((src & take) shifted): `--save-mark` and `--restore-mark`."""
    text = (f"{dst} = ({dst} & {U32 ^ clear:#x}) ^ (({src} & {take:#x}){_shift_text(o)})"
            f" ({mode})")
    if not o.shift_bits:
        return CopyBits(dst, src, clear=clear, take=take), text

    def copy_shifted(values: tuple[ValueSet, ...]) -> ValueSet:
        moved = BitCube.of(values[1]).and_(take).shift(o.shift_bits, o.shift_right)
        return BitCube.of(values[0]).and_(U32 ^ clear).xor(moved).bitset()

    return SetFrom(dst, (dst, src), copy_shifted), text
