"""cpu match (libxt_cpu): the number of the CPU handling the packet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._c_num import U32, xt_uint_option
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
