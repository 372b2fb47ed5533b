"""multiport match (libxt_multiport, revision 1): up to 15 ports or port ranges.

A range takes two of the 15 slots, as in the kernel's table. Ports are numbers in strtoul(…, 0)
syntax or service names of the rule's protocol; since a parsed match is shared by every rule that
spells it the same, names are resolved here for any protocol and re-checked against `-p` when
the rule is assembled. iptables-save always prints numbers.

Semantics (xt_multiport): a non-first fragment never matches, `!` or not; otherwise the source
port, the destination port, or (`--ports`) either one is in the list, negated by `!`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ..services import service_port
from ._a_sem import invert_if
from ._cnum import U16, xt_uint
from ._common import PortRange
from ._pred import conj, disj
from ._xtopt import excl, once
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    register,
)

__all__ = ["MULTIPORT_PROTOCOLS", "MultiportMatch"]

MAX_SLOTS = 15

#: Protocols multiport works with, by number, with the name getservbyname is asked for.
MULTIPORT_PROTOCOLS = {6: "tcp", 17: "udp", 136: "udplite", 132: "sctp", 33: "dccp"}

Which = Literal["sports", "dports", "ports"]


@dataclass(frozen=True, slots=True)
class MultiportMatch(ExtOptions):
    """`[!] --sports|--dports|--ports LIST`: the port(s) fall in one of `ports`.

    `ports` holds (lo, hi) pairs, lo == hi for a single port. `services` records the names used
    and the port each was read as, so the rule's protocol can be checked to know them.
    """

    which: Which
    ports: tuple[PortRange, ...]
    invert: bool = False
    services: tuple[tuple[str, int], ...] = field(default=(), compare=False)


def _port(text: str, column: int, services: list[tuple[str, int]]) -> int:
    number = xt_uint(text, 0, U16)
    if number is not None:
        return number
    port = service_port(text, None) if text else None
    if port is None:
        raise OptionError(f"invalid port/service `{text}' specified", column)
    services.append((text, port))
    return port


def parse_port_list(arg: OptArg) -> tuple[tuple[PortRange, ...], tuple[tuple[str, int], ...]]:
    ports: list[PortRange] = []
    services: list[tuple[str, int]] = []
    slots = 0
    column = arg.value_column()
    for item in arg.value.split(","):
        if slots == MAX_SLOTS:
            raise OptionError("too many ports specified", column)
        lo_text, colon, hi_text = item.partition(":")
        if colon and slots == MAX_SLOTS - 1:
            raise OptionError("too many ports specified", column)
        lo = _port(lo_text, column, services)
        if colon:
            hi = _port(hi_text, column + len(lo_text) + 1, services)
            if lo >= hi:
                raise OptionError("invalid portrange specified", column)
            ports.append((lo, hi))
            slots += 2
        else:
            ports.append((lo, lo))
            slots += 1
        column += len(item) + 1
    return tuple(ports), tuple(services)


@register
class Multiport(Extension):
    names = ("multiport",)
    options = (
        OptSpec("sports", 1, True, ("source-ports",)),
        OptSpec("dports", 1, True, ("destination-ports",)),
        OptSpec("ports", 1, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> MultiportMatch:
        opts = once(args)
        excl(opts, "sports", "dports", "ports")
        if not opts:
            raise OptionError("multiport expection an option")
        (arg,) = opts.values()
        which: Which = arg.name  # type: ignore[assignment]
        ports, services = parse_port_list(arg)
        return MultiportMatch(which, ports, arg.invert, services)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, MultiportMatch)
        text = ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in options.ports)
        return f"{' !' if options.invert else ''} --{options.which} {text}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, MultiportMatch)
        ports = IntSet(options.ports, U16)
        sides = {"sports": ("sport",), "dports": ("dport",), "ports": ("sport", "dport")}
        listed = disj(*(Test(name, ports) for name in sides[options.which]))
        return conj(Test("fragment", IntSet.single(0, 1)), invert_if(options.invert, listed))

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, MultiportMatch)
        if ctx.protocol_invert or (ctx.protocol and ctx.protocol not in MULTIPORT_PROTOCOLS):
            return "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP"
        if not ctx.protocol:
            return "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'"
        name = MULTIPORT_PROTOCOLS[ctx.protocol]
        for service, port in options.services:
            if service_port(service, name) != port:
                return f"invalid port/service `{service}' specified"
        return None
