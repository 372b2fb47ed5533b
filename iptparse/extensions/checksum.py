"""CHECKSUM (libxt_CHECKSUM): fill in a missing checksum (for old DHCP clients and offload).

The only option is --checksum-fill and it is required; the target works in mangle only.

Semantics (xt_CHECKSUM.c): a packet whose checksum is left to the device gets it computed now;
no field iptparse models changes and the packet goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._d_sem import continue_with
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

__all__ = ["ChecksumTarget"]


@dataclass(frozen=True, slots=True)
class ChecksumTarget(ExtOptions):
    """`fill`: compute the checksum a packet lacks (always true: the option is required)."""

    fill: bool = True


@register
class Checksum(Extension):
    kind = "target"
    names = ("CHECKSUM",)
    tables = frozenset({"mangle"})
    options = (OptSpec("checksum-fill", 0),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ChecksumTarget:
        if "checksum-fill" not in one_of(args):
            raise OptionError("CHECKSUM target: Parameter --checksum-fill is required")
        return ChecksumTarget()

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        return " --checksum-fill"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        return continue_with("fill in a checksum left to the device (CHECKSUM)")
