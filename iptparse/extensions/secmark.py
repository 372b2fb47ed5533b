"""SECMARK and CONNSECMARK (libxt_SECMARK, libxt_CONNSECMARK): SELinux packet labels.

SECMARK sets the packet's security context (printed as given, cut to 255 bytes); the kernel
only loads it when an LSM knows the context. CONNSECMARK copies the label between packet and
connection. Both work in the mangle and security tables.
"""

from __future__ import annotations

import enum
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
from .log import c_string
from .mark_target import exclusive

__all__ = ["ConnsecmarkMode", "ConnsecmarkTarget", "SecmarkTarget"]

_TABLES = frozenset({"mangle", "security"})


@dataclass(frozen=True, slots=True)
class SecmarkTarget(ExtOptions):
    context: str


@register
class Secmark(Extension):
    kind = "target"
    names = ("SECMARK",)
    tables = _TABLES
    options = (OptSpec("selctx", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SecmarkTarget:
        opts = one_of(args)
        if "selctx" not in opts:
            raise OptionError("option \"--selctx\" must be specified")
        return SecmarkTarget(c_string(opts["selctx"], 256))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SecmarkTarget)
        return f" --selctx {options.context}"


class ConnsecmarkMode(enum.Enum):
    SAVE = "save"  # packet -> connection
    RESTORE = "restore"  # connection -> packet


@dataclass(frozen=True, slots=True)
class ConnsecmarkTarget(ExtOptions):
    mode: ConnsecmarkMode


@register
class Connsecmark(Extension):
    kind = "target"
    names = ("CONNSECMARK",)
    tables = _TABLES
    options = (OptSpec("save", 0), OptSpec("restore", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConnsecmarkTarget:
        arg = exclusive(args, ("save", "restore"))
        if arg is None:
            raise OptionError("CONNSECMARK target: parameter required")
        return ConnsecmarkTarget(ConnsecmarkMode(arg.name))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConnsecmarkTarget)
        return f" --{options.mode.value}"
