"""state and conntrack matches (libxt_conntrack, which also implements `state`).

`-m state --state X` and `-m conntrack --ctstate X` test the same thing, but iptables-save prints
whichever name the rule was written with, so they stay two extensions. conntrack also tests the
connection's tuples (addresses with their host bits kept, as the kernel keeps and prints them),
ports, protocol, status bits, remaining lifetime and direction (revision 3 of the kernel match).

Semantics (xt_conntrack.c): the state test comes first; a packet without a connection (INVALID,
UNTRACKED, or any packet before the conntrack hook) then matches exactly when a state test was
given, whatever the other options say (`--ctstate INVALID --ctproto udp` matches an INVALID tcp
packet); with a connection every other given test must hold. SNAT and DNAT in a state list are
the connection's status bits, seen only when there is a connection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..addresses import format_ip
from ..domain import BitSet, IntSet
from ..logic import FALSE, Not, Pred, Test
from ..nodes import ExtOptions, Family
from ..protocols import protocol_number
from ..semantics import CompileContext
from ._a_ct import (
    CtState,
    CtStatus,
    format_states,
    format_statuses,
    parse_getaddrinfo_port,
    parse_host_mask,
    parse_states,
    parse_statuses,
)
from ._a_sem import ESTABLISHED, INVALID, NEW, RELATED, UNTRACKED, has_connection, invert_if, states
from ._cnum import U16, U32, xt_uint
from ._inet import mask_to_plen
from ._pred import conj, disj
from ._xtopt import need, once, xt_mint
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["ConntrackMatch", "CtAddress", "CtRange", "StateMatch", "conntrack_predicate",
           "state_test"]

Direction = Literal["ORIGINAL", "REPLY"]


@dataclass(frozen=True, slots=True)
class CtAddress:
    """An address test: (tuple address & mask) == (address & mask), negated by `invert`.

    `address` keeps the host bits written in the rule: the kernel ignores them when matching
    but stores and prints them.
    """

    family: Family
    address: int
    mask: int
    invert: bool = False

    def matches(self, value: int) -> bool:
        return ((value ^ self.address) & self.mask == 0) != self.invert


@dataclass(frozen=True, slots=True)
class CtRange:
    """An inclusive range test (ports or seconds); lo > hi is kept as written (never true)."""

    lo: int
    hi: int
    invert: bool = False

    def matches(self, value: int) -> bool:
        return (self.lo <= value <= self.hi) != self.invert


@dataclass(frozen=True, slots=True)
class StateMatch(ExtOptions):
    """`[!] --state LIST`: the packet's conntrack state is one of `states`."""

    states: CtState
    invert: bool = False


@dataclass(frozen=True, slots=True)
class ConntrackMatch(ExtOptions):
    """Every conntrack test the rule gives; None means the test is absent (always true)."""

    states: CtState | None = None
    states_invert: bool = False
    proto: int | None = None
    proto_invert: bool = False
    origsrc: CtAddress | None = None
    origdst: CtAddress | None = None
    replsrc: CtAddress | None = None
    repldst: CtAddress | None = None
    origsrcport: CtRange | None = None
    origdstport: CtRange | None = None
    replsrcport: CtRange | None = None
    repldstport: CtRange | None = None
    status: CtStatus | None = None
    status_invert: bool = False
    expire: CtRange | None = None
    direction: Direction | None = None


_STATE_NAMES = ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED")


@register
class State(Extension):
    names = ("state",)
    options = (OptSpec("state", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> StateMatch:
        opts = once(args)
        need(opts, "state")
        arg = opts["state"]
        return StateMatch(parse_states(arg, _STATE_NAMES), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, StateMatch)
        return f"{' !' if options.invert else ''} --state {format_states(options.states)}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        """xt_state: the packet's state is listed (no connection reads INVALID/UNTRACKED)."""
        assert isinstance(options, StateMatch)
        return invert_if(options.invert, state_test(options.states))


_ADDRESSES = ("ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst")
_PORTS = ("ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport")


def _port_range(arg: OptArg) -> CtRange:
    """XTTYPE_PORTRC: `port`, `lo:hi`, `lo:` or `:hi`; empty parts keep 0 and 65535."""
    parts = arg.value.split(":")
    if len(parts) > 2:
        raise OptionError(f'Too many components for option "--{arg.name}" (max: 2)',
                          arg.value_column())
    bounds = [0, U16]
    pos = 0
    for index, part in enumerate(parts):
        if part:
            port = parse_getaddrinfo_port(part)
            if port is None:
                raise OptionError(f'Port "{part}" does not resolve to anything',
                                  arg.value_column() + pos)
            bounds[index] = port
        pos += len(part) + 1
    if len(parts) == 1:
        bounds[1] = bounds[0]
    return CtRange(bounds[0], bounds[1], arg.invert)


def _u32_range(arg: OptArg) -> CtRange:
    """XTTYPE_UINT32RC: `n`, `lo:hi`, `lo:` (to 2**32-1) or `:hi` (from 0)."""
    values = xt_mint(arg, U32)
    return CtRange(values[0], values[-1], arg.invert)


def _protocol(arg: OptArg) -> int:
    """xtables_parse_protocol: a number 0-255 in strtoul(…, 0) syntax, or a protocol name."""
    number = xt_uint(arg.value, 0, 255)
    if number is None and not re.fullmatch(r"[ +]*\d+", arg.value):
        number = protocol_number(arg.value)
    if number is None:
        raise OptionError(f'unknown protocol "{arg.value}" specified', arg.value_column())
    return number


@register
class Conntrack(Extension):
    names = ("conntrack",)
    options = (
        OptSpec("ctstate", 1, True),
        OptSpec("ctproto", 1, True),
        *(OptSpec(name, 1, True) for name in _ADDRESSES),
        *(OptSpec(name, 1, True) for name in _PORTS),
        OptSpec("ctstatus", 1, True),
        OptSpec("ctexpire", 1, True),
        OptSpec("ctdir", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConntrackMatch:
        opts = once(args)
        if not opts:
            raise OptionError("At least one option is required")
        fields: dict[str, object] = {}
        if "ctstate" in opts:
            fields["states"] = parse_states(opts["ctstate"])
            fields["states_invert"] = opts["ctstate"].invert
        if "ctproto" in opts:
            fields["proto"] = _protocol(opts["ctproto"])
            fields["proto_invert"] = opts["ctproto"].invert
        for name in _ADDRESSES:
            if name in opts:
                address, mask = parse_host_mask(opts[name], ctx.family)
                fields[name[2:]] = CtAddress(ctx.family, address, mask, opts[name].invert)
        for name in _PORTS:
            if name in opts:
                fields[name[2:]] = _port_range(opts[name])
        if "ctstatus" in opts:
            fields["status"] = parse_statuses(opts["ctstatus"])
            fields["status_invert"] = opts["ctstatus"].invert
        if "ctexpire" in opts:
            fields["expire"] = _u32_range(opts["ctexpire"])
        if "ctdir" in opts:
            arg = opts["ctdir"]
            direction = arg.value.upper()
            if direction not in ("ORIGINAL", "REPLY"):
                raise OptionError(f'Bad value for "--ctdir" option: "{arg.value}"',
                                  arg.value_column())
            fields["direction"] = direction
        return ConntrackMatch(**fields)  # type: ignore[arg-type]

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConntrackMatch)
        o = options
        out = []
        if o.states is not None:
            out.append(f"{_bang(o.states_invert)} --ctstate {format_states(o.states)}")
        if o.proto is not None:
            out.append(f"{_bang(o.proto_invert)} --ctproto {o.proto}")
        for name in _ADDRESSES:
            address = getattr(o, name[2:])
            if address is not None:
                out.append(f"{_bang(address.invert)} --{name} {_format_address(address)}")
        for name in _PORTS:
            ports = getattr(o, name[2:])
            if ports is not None:
                text = str(ports.lo) if ports.hi in (0, ports.lo) else f"{ports.lo}:{ports.hi}"
                out.append(f"{_bang(ports.invert)} --{name} {text}")
        if o.status is not None:
            out.append(f"{_bang(o.status_invert)} --ctstatus {format_statuses(o.status)}")
        if o.expire is not None:
            e = o.expire
            text = str(e.lo) if e.lo == e.hi else f"{e.lo}:{e.hi}"
            out.append(f"{_bang(e.invert)} --ctexpire {text}")
        if o.direction is not None:
            out.append(f" --ctdir {o.direction}")
        return "".join(out)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, ConntrackMatch)
        return conntrack_predicate(options, ctx.family)


def _bang(invert: bool) -> str:
    return " !" if invert else ""


# --- semantics -----------------------------------------------------------------------------

_STATE_INDEX = {CtState.INVALID: INVALID, CtState.NEW: NEW, CtState.ESTABLISHED: ESTABLISHED,
                CtState.RELATED: RELATED, CtState.UNTRACKED: UNTRACKED}
_NAT_BITS = {CtState.SNAT: ("SNAT", 0x10, "source"), CtState.DNAT: ("DNAT", 0x20, "destination")}


def state_test(wanted: CtState) -> Pred:
    """The state bit is in `wanted`; SNAT/DNAT also hold for a connection with that status
    bit (the kernel ORs them into the state bit only when there is a connection)."""
    parts: list[Pred] = []
    listed = [index for flag, index in _STATE_INDEX.items() if flag in wanted]
    if listed:
        parts.append(states(*listed))
    for flag, (name, bit, side) in _NAT_BITS.items():
        if flag in wanted:
            parts.append(conj(has_connection(), Test(
                "ctstatus", BitSet.cube(bit, bit, 8), f"ctstatus has {name} (the connection is "
                f"{side}-NATed)", f"ctstatus has not {name} (the connection is not "
                f"{side}-NATed)")))
    return disj(*parts)


def _ctproto(number: int) -> Pred:
    """The connection's protocol: the packet's own, except for an ICMP error RELATED to a
    connection, which belongs to the connection of the packet it quotes."""
    icmp_error = conj(states(RELATED), Test("proto", IntSet.values((1, 58), 255),
                                            "proto ∈ {icmp, ipv6-icmp}"))
    wanted = IntSet.single(number, 255)
    return disj(conj(Not(icmp_error), Test("proto", wanted)),
                conj(icmp_error, Test("ctproto", wanted)))


def _status(mask: CtStatus) -> Pred:
    """(status & mask) != 0: `--ctstatus NONE` (mask 0) never holds."""
    if not mask.value:
        return FALSE
    names = format_statuses(mask)
    return Not(Test("ctstatus", BitSet.cube(0, mask.value, 8), f"ctstatus has none of {names}",
                    f"ctstatus has {names}" if "," not in names else
                    f"ctstatus has one of {names}"))


def conntrack_predicate(o: ConntrackMatch, family: Family) -> Pred:
    """conntrack_mt(), test by test in the kernel's order."""
    checks: list[Pred] = []
    if o.direction is not None:
        checks.append(Test("ctdir", IntSet.single(0 if o.direction == "ORIGINAL" else 1, 1)))
    for name in _ADDRESSES:
        address = getattr(o, name[2:])
        if address is not None:
            values = IntSet.masked(address.address, address.mask, family.bits)
            checks.append(invert_if(address.invert, Test(name, values)))
    if o.proto is not None:
        checks.append(invert_if(o.proto_invert, _ctproto(o.proto)))
    for name in _PORTS:
        ports = getattr(o, name[2:])
        if ports is not None:
            checks.append(invert_if(ports.invert, Test(name, IntSet.range(ports.lo, ports.hi,
                                                                          U16))))
    if o.status is not None:
        checks.append(invert_if(o.status_invert, _status(o.status)))
    if o.expire is not None:
        e = o.expire
        checks.append(invert_if(e.invert, Test("ctexpire", IntSet.range(e.lo, e.hi, U32))))
    with_connection = conj(has_connection(), *checks)
    if o.states is None:
        return with_connection
    state = invert_if(o.states_invert, state_test(o.states))
    if not checks:
        return state
    return conj(state, disj(Not(has_connection()), with_connection))


def _format_address(address: CtAddress) -> str:
    """`addr` for a full mask, else `addr/len` (the mask is always a prefix here)."""
    text = format_ip(address.address, address.family)
    plen = mask_to_plen(address.mask, address.family)
    return text if plen == address.family.bits else f"{text}/{plen}"
