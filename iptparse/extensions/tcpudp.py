"""tcp and udp matches (libxt_tcp, libxt_udp): ports, TCP flags and TCP options."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..domain import BitSet, IntSet
from ..logic import And, Not, Pred, Test
from ..nodes import ExtOptions
from ._common import PortRange, format_port_range, parse_port_range
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    parse_int,
    register,
)

ANY_PORT: PortRange = (0, 0xFFFF)

TCP_FLAGS: tuple[tuple[str, int], ...] = (
    ("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20),
    ("ECE", 0x40), ("CWR", 0x80),
)
# --tcp-flags knows the six classic flags only (iptables 1.8.9 refuses ECE and CWR)
_FLAG_BY_NAME = {name: bit for name, bit in TCP_FLAGS[:6]} | {"ALL": 0x3F, "NONE": 0}


@dataclass(frozen=True, slots=True)
class PortMatch(ExtOptions):
    """Options shared by tcp and udp: source and destination port ranges."""

    sport: PortRange = ANY_PORT
    sport_invert: bool = False
    dport: PortRange = ANY_PORT
    dport_invert: bool = False


@dataclass(frozen=True, slots=True)
class TcpMatch(ExtOptions):
    sport: PortRange = ANY_PORT
    sport_invert: bool = False
    dport: PortRange = ANY_PORT
    dport_invert: bool = False
    flags_mask: int = 0
    flags_compare: int = 0
    flags_invert: bool = False
    option: int = 0
    option_invert: bool = False


def _flags(text: str, column: int) -> int:
    value = 0
    for name in text.split(","):
        bit = _FLAG_BY_NAME.get(name.upper())
        if bit is None:
            raise OptionError(f"unknown TCP flag `{name}'", column)
        value |= bit
    return value


def format_tcp_flags(flags: int) -> str:
    if not flags:
        return "NONE"
    return ",".join(name for name, bit in TCP_FLAGS if flags & bit)


def _ports(options: dict[str, OptArg], protocol: str) -> tuple[PortRange, bool, PortRange, bool]:
    # iptables 1.8.9: tcp reads ports as C numbers (base 0), udp in decimal
    base = 0 if protocol == "tcp" else 10
    sport, sport_inv, dport, dport_inv = ANY_PORT, False, ANY_PORT, False
    if "sport" in options:
        arg = options["sport"]
        sport = parse_port_range(arg.value, protocol, arg.value_column(), base=base)
        sport_inv = arg.invert
    if "dport" in options:
        arg = options["dport"]
        dport = parse_port_range(arg.value, protocol, arg.value_column(), base=base)
        dport_inv = arg.invert
    return sport, sport_inv, dport, dport_inv


def _render_ports(sport: PortRange, sport_inv: bool, dport: PortRange, dport_inv: bool) -> str:
    out = []
    if sport != ANY_PORT or sport_inv:
        out.append(f"{' !' if sport_inv else ''} --sport {format_port_range(sport)}")
    if dport != ANY_PORT or dport_inv:
        out.append(f"{' !' if dport_inv else ''} --dport {format_port_range(dport)}")
    return "".join(out)


def _need_protocol(ctx: RuleContext, number: int, name: str) -> str | None:
    if ctx.protocol != number or ctx.protocol_invert:
        return f"needs `-p {name}'"
    return None


_PORT_OPTIONS = (
    OptSpec("sport", 1, True, ("source-port",)),
    OptSpec("dport", 1, True, ("destination-port",)),
)


@register
class Tcp(Extension):
    names = ("tcp",)
    options = (
        *_PORT_OPTIONS,
        OptSpec("tcp-flags", 2, True),
        OptSpec("syn", 0, True),
        OptSpec("tcp-option", 1, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TcpMatch:
        options = one_of(args)
        sport, sport_inv, dport, dport_inv = _ports(options, "tcp")
        mask = compare = 0
        flags_inv = False
        if "tcp-flags" in options and "syn" in options:
            raise OptionError("--syn and --tcp-flags cannot be combined",
                              options["syn"].column)
        if "tcp-flags" in options:
            arg = options["tcp-flags"]
            mask = _flags(arg.values[0], arg.value_column(0))
            compare = _flags(arg.values[1], arg.value_column(1))
            flags_inv = arg.invert
        elif "syn" in options:
            mask, compare, flags_inv = 0x17, 0x02, options["syn"].invert
        option = 0
        option_inv = False
        if "tcp-option" in options:
            arg = options["tcp-option"]
            option = parse_int(arg.value, 1, 255, "TCP option", arg.value_column())
            option_inv = arg.invert
        return TcpMatch(sport, sport_inv, dport, dport_inv, mask, compare, flags_inv, option,
                        option_inv)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TcpMatch)
        out = _render_ports(options.sport, options.sport_invert, options.dport,
                            options.dport_invert)
        if options.option or options.option_invert:
            out += f"{' !' if options.option_invert else ''} --tcp-option {options.option}"
        if options.flags_mask or options.flags_invert:
            out += (f"{' !' if options.flags_invert else ''} --tcp-flags "
                    f"{format_tcp_flags(options.flags_mask)} "
                    f"{format_tcp_flags(options.flags_compare)}")
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return _need_protocol(ctx, 6, "tcp")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, TcpMatch)
        return _tcp_predicate(options)


@register
class Udp(Extension):
    names = ("udp",)
    options = _PORT_OPTIONS

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> PortMatch:
        return PortMatch(*_ports(one_of(args), "udp"))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, PortMatch)
        return _render_ports(options.sport, options.sport_invert, options.dport,
                             options.dport_invert)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return _need_protocol(ctx, 17, "udp")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, PortMatch)
        return _udp_predicate(options)


# --- semantics -----------------------------------------------------------------------------
# xt_tcpudp: a non-first fragment never matches; ports are inclusive ranges; --tcp-flags holds
# when (flags & mask) == compare; --tcp-option when the option kind is present.

_FIRST_FRAGMENT = Test("fragment", IntSet.single(0, 1))


def _port_tests(sport: PortRange, sport_inv: bool, dport: PortRange,
                dport_inv: bool) -> list[Pred]:
    parts: list[Pred] = [_FIRST_FRAGMENT]
    for name, ports, invert in (("sport", sport, sport_inv), ("dport", dport, dport_inv)):
        if ports != ANY_PORT or invert:
            test: Pred = Test(name, IntSet.range(ports[0], ports[1], 0xFFFF))
            parts.append(Not(test) if invert else test)
    return parts


# One predicate per distinct option set, shared by the rules that have it: a kube-proxy node
# has thousands of rules with `-m tcp --dport 80`, and a batch that compiles them keeps each.
@lru_cache(maxsize=4096)
def _udp_predicate(options: PortMatch) -> Pred:
    return And(tuple(_port_tests(options.sport, options.sport_invert, options.dport,
                                 options.dport_invert)))


@lru_cache(maxsize=4096)
def _tcp_predicate(options: TcpMatch) -> Pred:
    parts = _port_tests(options.sport, options.sport_invert, options.dport,
                        options.dport_invert)
    if options.flags_mask or options.flags_invert:
        flags: Pred = Test("tcp_flags",
                           BitSet.cube(options.flags_compare, options.flags_mask, 8))
        parts.append(Not(flags) if options.flags_invert else flags)
    if options.option or options.option_invert:
        option: Pred = Test("tcp_options", BitSet.cube(1 << options.option,
                                                      1 << options.option, 256))
        parts.append(Not(option) if options.option_invert else option)
    return And(tuple(parts))

