"""ECN (libipt_ECN, IPv4 only): rewrite ECN bits in the IP and TCP headers.

--ecn-tcp-remove is the documented form; the undocumented --ecn-tcp-ece, --ecn-tcp-cwr (0/1)
and --ecn-ip-ect (0-3) set single fields. iptables-save prints `--ecn-tcp-remove` exactly when
the TCP part is "ECE and CWR cleared" and nothing else is set. Touching TCP bits needs `-p tcp`.

Semantics (ipt_ECN.c): the two ECN bits of the TOS byte become --ecn-ip-ect, and the TCP ECE /
CWR flags the given values (the rule has `-p tcp` for those); the packet goes on. The flags are
exact bit arithmetic; the TOS byte stays tied to the input TOS (`logic.Moved`), exact when
that is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ..semantics import Change, CompileContext, Effect, SetBits
from ._checks import need_protocols
from ._d_sem import rewrite_byte
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = ["EcnTarget"]


@dataclass(frozen=True, slots=True)
class EcnTarget(ExtOptions):
    """Each field None when left alone, else the value to write."""

    ece: int | None = None
    cwr: int | None = None
    ect: int | None = None


@register
class Ecn(Extension):
    kind = "target"
    names = ("ECN",)
    families = frozenset({Family.INET})
    tables = frozenset({"mangle"})
    options = (OptSpec("ecn-tcp-remove", 0), OptSpec("ecn-tcp-cwr", 1),
               OptSpec("ecn-tcp-ece", 1), OptSpec("ecn-ip-ect", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> EcnTarget:
        opts = one_of(args)
        if "ecn-tcp-remove" in opts:
            for other in ("ecn-tcp-cwr", "ecn-tcp-ece"):
                if other in opts:
                    raise OptionError(f"option \"--ecn-tcp-remove\" cannot be used together "
                                      f"with \"--{other}\"", opts[other].column)
        ece = cwr = ect = None
        if "ecn-tcp-remove" in opts:
            ece = cwr = 0
        if "ecn-tcp-ece" in opts:
            ece = xt_uint_arg(opts["ecn-tcp-ece"], 0, 1)
        if "ecn-tcp-cwr" in opts:
            cwr = xt_uint_arg(opts["ecn-tcp-cwr"], 0, 1)
        if "ecn-ip-ect" in opts:
            ect = xt_uint_arg(opts["ecn-ip-ect"], 0, 3)
        if ece is None and cwr is None and ect is None:
            raise OptionError("ECN target: An operation is required")
        return EcnTarget(ece, cwr, ect)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, EcnTarget)
        if options.ece == 0 and options.cwr == 0 and options.ect is None:
            return " --ecn-tcp-remove"
        out = ""
        if options.ece is not None:
            out += f" --ecn-tcp-ece {options.ece}"
        if options.cwr is not None:
            out += f" --ecn-tcp-cwr {options.cwr}"
        if options.ect is not None:
            out += f" --ecn-ip-ect {options.ect}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, EcnTarget)
        if options.ece is not None or options.cwr is not None:
            return need_protocols(ctx, (6,), "tcp")
        return None

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, EcnTarget)
        changes: list[Change] = []
        notes = []
        for name, bit, value in (("ece", 0x40, options.ece), ("cwr", 0x80, options.cwr)):
            if value is not None:
                changes.append(SetBits("tcp_flags", bit if value else 0, bit))
                notes.append(f"TCP {name.upper()} = {value}")
        ect = options.ect
        if ect is not None:
            changes.append(rewrite_byte("tos", ect, 0x03))
            notes.append(f"IP ECN bits = {ect}")
        return Effect(changes=tuple(changes), note=", ".join(notes))
