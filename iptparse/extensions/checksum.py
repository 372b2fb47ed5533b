"""CHECKSUM (libxt_CHECKSUM): fill in a missing checksum (for old DHCP clients and offload).

The only option is --checksum-fill and it is required; the target works in mangle only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
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
