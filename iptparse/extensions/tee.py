"""TEE (libxt_TEE): send a copy of the packet to a gateway on the local segment.

The gateway is read like a getaddrinfo host (`10` is 0.0.0.10) and may not be the zero
address; --oif is printed unquoted, as iptables prints it, and cut to 15 bytes.

Semantics (xt_TEE.c): a copy goes to the gateway; the original goes on unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._d_addr import host_text, parse_host
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

__all__ = ["TeeTarget"]


@dataclass(frozen=True, slots=True)
class TeeTarget(ExtOptions):
    gateway: int
    oif: str = ""


@register
class Tee(Extension):
    kind = "target"
    names = ("TEE",)
    options = (OptSpec("gateway", 1), OptSpec("oif", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TeeTarget:
        opts = one_of(args)
        if "gateway" not in opts:
            raise OptionError("option \"--gateway\" must be specified")
        arg = opts["gateway"]
        gateway = parse_host(arg.value, ctx.family, arg)
        if gateway == 0:
            raise OptionError("the kernel refuses the zero address as gateway",
                              arg.value_column())
        return TeeTarget(gateway, c_string(opts["oif"], 16) if "oif" in opts else "")

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TeeTarget)
        out = f" --gateway {host_text(options.gateway, ctx.family)}"
        return out + (f" --oif {options.oif}" if options.oif else "")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, TeeTarget)
        via = f" via {options.oif}" if options.oif else ""
        return continue_with(f"send a copy to gateway {host_text(options.gateway, ctx.family)}"
                             f"{via}")
