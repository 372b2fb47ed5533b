"""cpu match (libxt_cpu): the number of the CPU handling the packet.

Semantics (xt_cpu): smp_processor_id() equals the number, `!` inverts. The CPU is the packet
field `cpu` (a packet stays on one CPU from PREROUTING to POSTROUTING); left unknown, rules
fork on it consistently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ._cnum import U32
from ._pred import invert
from ._xtopt import xt_uint_option
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

__all__ = ["CpuMatch"]


@dataclass(frozen=True, slots=True)
class CpuMatch(ExtOptions):
    cpu: int
    invert: bool = False


@register
class Cpu(Extension):
    """Field `cpu`."""

    names = ("cpu",)
    options = (OptSpec("cpu", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> CpuMatch:
        arg = one_of(args).get("cpu")
        if arg is None:
            raise OptionError("option --cpu must be specified")
        return CpuMatch(xt_uint_option(arg.value, 0, U32, "cpu", arg.value_column()),
                        arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, CpuMatch)
        return f"{' !' if options.invert else ''} --cpu {options.cpu}"

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, CpuMatch)
        same = Test("cpu", IntSet.single(options.cpu, U32), f"cpu = {options.cpu}",
                    f"cpu ≠ {options.cpu}")
        return invert(same, options.invert)
