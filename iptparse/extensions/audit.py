"""AUDIT (libxt_AUDIT): emit an audit record for the packet.

iptables 1.8.9 requires --type (accept, drop or reject, any case) although kernels since 4.12
ignore it; iptables-save prints it in lower case.

Semantics (xt_AUDIT.c): an audit record for the packet; the packet goes on.
"""

from __future__ import annotations

import enum
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

__all__ = ["AuditTarget", "AuditType"]


class AuditType(enum.Enum):
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class AuditTarget(ExtOptions):
    type: AuditType


@register
class Audit(Extension):
    kind = "target"
    names = ("AUDIT",)
    options = (OptSpec("type", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> AuditTarget:
        opts = one_of(args)
        if "type" not in opts:
            raise OptionError("option \"--type\" must be specified")
        arg = opts["type"]
        try:
            return AuditTarget(AuditType(arg.value.lower()))
        except ValueError:
            raise OptionError(f"Bad action type value \"{arg.value}\"",
                              arg.value_column()) from None

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, AuditTarget)
        return f" --type {options.type.value}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, AuditTarget)
        return continue_with(f"audit record (type {options.type.value}, ignored by kernels "
                             "since 4.12)")
