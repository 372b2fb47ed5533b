"""TPROXY (libxt_TPROXY, revision 1): deliver to a local socket without rewriting the packet.

iptables-save prints all three fields, defaults included (`--on-ip 0.0.0.0 --tproxy-mark
0x0/0x0`). The port is read like a getaddrinfo service: decimal or a service name, and the
number is cut to 16 bits (65536 is port 0), as iptables does.

Semantics (xt_TPROXY.c): the kernel looks for a socket: an established one on the packet's own
addresses, else a listener on --on-ip (0: the input interface's first address) and --on-port (0:
the packet's port). Only a transparent socket takes the packet: then the mark is set, the socket
assigned (`socket` = 1) and the table accepts; else the packet is dropped. Sockets are no part
of a dump: an assumption of kind `tproxy` ("a transparent socket takes the packet").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect, SetBits, SetValue
from ..services import service_port
from ._checks import need_hooks, need_protocols
from ._d_addr import host_text, parse_host
from ._d_sem import xmark_text
from ._xtopt import parse_markmask
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

__all__ = ["TproxyTarget", "parse_service_port"]


@dataclass(frozen=True, slots=True)
class TproxyTarget(ExtOptions):
    """Redirect to `port` (0: keep the packet's port) on `address` (0: the incoming
    interface's address), and set `mark = (mark & ~mark_mask) ^ mark_value`."""

    port: int
    address: int = 0
    mark_value: int = 0
    mark_mask: int = 0


def parse_service_port(arg: OptArg) -> int:
    """XTTYPE_PORT: what getaddrinfo makes of a service string, cut to 16 bits."""
    text = arg.value
    digits = text.lstrip(" \t\n\v\f\r")
    sign = digits[:1] if digits[:1] in "+-" else ""
    body = digits[len(sign):]
    if body.isdigit() and body.isascii():
        value = int(body)
        if value > 0xFFFFFFFFFFFFFFFF:
            value = 0xFFFFFFFFFFFFFFFF  # strtoul saturates (ERANGE), sign or not
        elif sign == "-":
            value = -value
        return value & 0xFFFF
    port = service_port(text)
    if port is None:
        raise OptionError(f"Port \"{text}\" does not resolve to anything.", arg.value_column())
    return port


@register
class Tproxy(Extension):
    kind = "target"
    names = ("TPROXY",)
    tables = frozenset({"mangle"})
    options = (OptSpec("on-port", 1), OptSpec("on-ip", 1), OptSpec("tproxy-mark", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TproxyTarget:
        opts = one_of(args)
        if "on-port" not in opts:
            raise OptionError("option \"--on-port\" must be specified")
        port = parse_service_port(opts["on-port"])
        address = parse_host(opts["on-ip"].value, ctx.family, opts["on-ip"]) \
            if "on-ip" in opts else 0
        value, mask = parse_markmask(opts["tproxy-mark"]) if "tproxy-mark" in opts else (0, 0)
        return TproxyTarget(port, address, value, mask)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TproxyTarget)
        return (f" --on-port {options.port} --on-ip {host_text(options.address, ctx.family)}"
                f" --tproxy-mark {options.mark_value:#x}/{options.mark_mask:#x}")

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocols(ctx, (6, 17), "tcp' or `-p udp") or need_hooks(
            ctx, ("PREROUTING",))

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, TproxyTarget)
        port = str(options.port) if options.port else "the packet's port"
        address = host_text(options.address, ctx.family) if options.address else (
            "the input interface's address")
        where = f"on {address}, port {port}"
        found = ctx.assume("tproxy", f"a transparent socket takes the packet ({where})",
                           f"no transparent socket takes the packet ({where})")
        mark = xmark_text("mark", options.mark_value, options.mark_mask, 32)
        return Effect(
            verdict="ACCEPT",
            changes=(SetBits("mark", options.mark_value, options.mark_mask),
                     SetValue("socket", IntSet.single(1, 1), "the transparent socket")),
            note=f"deliver to the transparent socket ({where}); {mark}",
            when=found,
            otherwise=Effect(verdict="DROP", note=f"no transparent socket for {where}: TPROXY "
                             "drops the packet"))
