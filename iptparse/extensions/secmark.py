"""SECMARK and CONNSECMARK (libxt_SECMARK, libxt_CONNSECMARK): SELinux packet labels.

SECMARK sets the packet's security context (printed as given, cut to 255 bytes); the kernel
only loads it when an LSM knows the context. CONNSECMARK copies the label between packet and
connection. Both work in the mangle and security tables.

Semantics (xt_SECMARK.c, xt_CONNSECMARK.c): SELinux labels, which no match iptparse models reads;
the packet goes on.
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

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, SecmarkTarget)
        return continue_with(f"set the packet's security mark to {options.context}")


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

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, ConnsecmarkTarget)
        if options.mode is ConnsecmarkMode.SAVE:
            return continue_with("copy the packet's security mark to a new connection")
        return continue_with("copy the connection's security mark to the packet")
