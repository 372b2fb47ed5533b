"""CONNMARK (libxt_CONNMARK, revision 2): set, save or restore the connection mark.

As with MARK, the set spellings become `ctmark = (ctmark & ~ctmask) ^ value`. Save and restore
copy between the packet mark and the connection mark through two masks, then shift the result
(revision 2). Options apply in the order given: `--set-xmark 1 --mask 3` leaves ctmask 3, while
`--mask 3 --set-xmark 1` leaves 0xffffffff, exactly as iptables fills its structure.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._d_num import U32, xt_uint_arg
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
