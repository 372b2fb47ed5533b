"""rpfilter match (libxt_rpfilter): reverse-path filtering by a route lookup of the source.

Four independent flags. The kernel only accepts the match in the PREROUTING chain of the raw
and mangle tables.

Semantics (ipt_rpfilter, ip6t_rpfilter). A packet from lo always passes (`--invert`: never;
so does multicast or broadcast the host loops back to itself, PACKET_LOOPBACK, which no packet
field describes: give such a packet iif=lo),
so does an IPv4 packet from 0.0.0.0 to 255.255.255.255 or 224.0.0.0/24 (DHCP, IGMP), and an
IPv6 one from ::. Otherwise the kernel looks up the route to the source address: a local
address passes only with --accept-local (IPv4: and through the input interface unless
--loose), a broadcast, anycast or reject route or no route fails, and a unicast route passes
when it goes out through the input interface, or with --loose whatever the interface.

With the host's routes and addresses known the lookup is exact: the local table (see
`_c_addr`) first, then the routes, most specific first. With routing rules of the host's own
(`ip rule`) an IPv4 lookup walks them (`_by_rules`), with the mark only under --validmark; an
IPv6 one is then an assumption. An IPv6 lookup names the input interface as the way out when
strict, or for a link-local source (`_lookup6`). Without routes, or for a route given without
its interface, the walk forks on the assumption `rpfilter` ("the reverse path check passes"),
pinned per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet, NameSet
from ..host import Host, Route
from ..iprule import DEFAULT_RULES, IpRule, ReverseFlow
from ..logic import FALSE, TRUE, Pred, Test
from ..nodes import ExtOptions, Family
from ..reverse import reverse_lookup
from ..semantics import CompileContext
from ..special import LINK_LOCAL6
from ._c_addr import LOCAL, host_of, local_table
from ._checks import need_tables, only_at_hooks
from ._pred import conj, disj, invert
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = ["RpfilterMatch"]


@dataclass(frozen=True, slots=True)
class RpfilterMatch(ExtOptions):
    loose: bool = False
    validmark: bool = False
    accept_local: bool = False
    invert: bool = False


@register
class Rpfilter(Extension):
    """Assumption kind `rpfilter` without routes (holds = the reverse path check passes,
    before --invert)."""

    names = ("rpfilter",)
    options = (OptSpec("loose", 0), OptSpec("validmark", 0), OptSpec("accept-local", 0),
               OptSpec("invert", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RpfilterMatch:
        opts = one_of(args)
        return RpfilterMatch("loose" in opts, "validmark" in opts, "accept-local" in opts,
                             "invert" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RpfilterMatch)
        flags = (("loose", options.loose), ("validmark", options.validmark),
                 ("accept-local", options.accept_local), ("invert", options.invert))
        return "".join(f" --{name}" for name, given in flags if given)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return (need_tables(ctx, ("raw", "mangle"), "-m rpfilter")
                or only_at_hooks(ctx, ("PREROUTING",), "-m rpfilter"))

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, RpfilterMatch)
        family: Family = ctx.family
        loopback = Test("iif", NameSet.single("lo"))
        if family is Family.INET:
            unrouted = conj(Test("src", IntSet.single(0, 0xFFFFFFFF)),  # ipv4_is_zeronet()
                            Test("dst", IntSet.single(0xFFFFFFFF, 0xFFFFFFFF)
                                 | IntSet.prefix(0xE0000000, 24, 32)))
        else:
            unrouted = Test("src", IntSet.single(0, (1 << 128) - 1))
        host = host_of(ctx)
        if host is None:
            lookup = _assumed(options, ctx)
        elif host.rules_for(family) == DEFAULT_RULES[family]:
            lookup = _lookup(options, host, family, ctx)
        elif family is Family.INET:
            lookup = _by_rules(options, host, ctx)
        else:  # ip6t_rpfilter's flow (its oif, protocol, flow label) is not modelled
            lookup = _assumed(options, ctx)
        return invert(disj(loopback, unrouted, lookup), options.invert)


def _assumed(o: RpfilterMatch, ctx: CompileContext) -> Pred:
    if o.loose:
        route, none = "a route back to src", "no route back to src"
    else:
        route = "the route back to src goes out through iif"
        none = "the route back to src does not go out through iif"
    local = " (a local src counts)" if o.accept_local else ""
    return ctx.assume("rpfilter", f"reverse path check passes: {route}{local}",
                      f"reverse path check fails: {none}{local}")


def _through(o: RpfilterMatch, devices: tuple[str, ...], ctx: CompileContext) -> Pred:
    """The route back goes out by the input interface: any of a multipath route's nexthops'
    counts (fib_info_nh_uses_dev); a route naming none is an assumption."""
    if o.loose:
        return TRUE
    if not devices:
        return _assumed(o, ctx)
    return Test("iif", NameSet.exactly(*devices))


def _local_table(o: RpfilterMatch, host: Host, ctx: CompileContext
                 ) -> tuple[list[Pred], IntSet]:
    """IPv4's local table: where it passes the check (a local source, with --accept-local),
    and the sources it has no route for."""
    remaining = IntSet.all(0xFFFFFFFF)
    alternatives: list[Pred] = []
    for entry in local_table(host, Family.INET):
        remaining = remaining - entry.addresses
        if entry.kind == LOCAL and o.accept_local:
            alternatives.append(conj(
                Test("src", entry.addresses, "src is a local address of this host",
                     "src is not a local address of this host"),
                _through(o, (entry.device,) if entry.device else (), ctx)))
    return alternatives, remaining


def _lookup(o: RpfilterMatch, host: Host, family: Family, ctx: CompileContext) -> Pred:
    """The lookup with the kernel's default rules: IPv4's local table, then its routes, the
    first of a prefix deciding; IPv6's by `_lookup6`."""
    if family is Family.INET6:
        return _lookup6(o, host, ctx)
    alternatives, remaining = _local_table(o, host, ctx)
    for route in host.routes_for(family):
        won = route.addresses() & remaining
        if won.is_empty:
            continue
        remaining = remaining - won
        via: Pred = FALSE
        if route.kind == "unicast":
            via = _through(o, route.devices(), ctx)
        alternatives.append(conj(Test("src", won, f"src is routed by `{route.text()}'",
                                      f"src is not routed by `{route.text()}'"), via))
    if not host.routes_known_for(family) and not remaining.is_empty:  # routes no capture shows
        alternatives.append(conj(Test("src", remaining, "src has no route captured",
                                      "src has a route captured"), _assumed(o, ctx)))
    return disj(*alternatives)


def _lookup6(o: RpfilterMatch, host: Host, ctx: CompileContext) -> Pred:
    """ip6t_rpfilter's lookup, the host's rules being the defaults: a local source passes
    only with --accept-local; else the most specific prefix decides. Strictly, and for a
    link-local source either way, the lookup names the input interface as the way out, and
    rt6_device_match takes any of the prefix's routes through it (another metric's, an ECMP
    sibling's): the check passes if one goes through iif (for a link-local source none
    means no route). Loosely the first of the prefix's routes decides: any unicast route
    passes, a reject or anycast one fails. Checked in the lab."""
    family = Family.INET6
    local = host.local_addresses(family)
    remaining = IntSet.all((1 << family.bits) - 1) - local
    alternatives: list[Pred] = []
    if o.accept_local:
        alternatives.append(Test("src", local, "src is a local address of this host",
                                 "src is not a local address of this host"))
    prefixes: dict[tuple[int, int], list[Route]] = {}
    for route in host.routes_for(family):  # most specific first, then by metric
        prefixes.setdefault((route.network, route.prefix), []).append(route)
    for routes in prefixes.values():
        won = routes[0].addresses() & remaining
        if won.is_empty:
            continue
        remaining = remaining - won
        devices = tuple(dict.fromkeys(d for r in routes if r.kind == "unicast"
                                      for d in r.devices()))
        through: Pred = Test("iif", NameSet.exactly(*devices)) if devices else FALSE
        shown = routes[0].text() + ("" if len(routes) == 1 else f" and {len(routes) - 1} more")
        for part, exact in ((won & LINK_LOCAL6, True), (won - LINK_LOCAL6, not o.loose)):
            if part.is_empty:
                continue
            via = through if exact else TRUE if routes[0].kind == "unicast" else FALSE
            alternatives.append(conj(Test("src", part, f"src is routed by `{shown}'",
                                          f"src is not routed by `{shown}'"), via))
    if not host.routes_known_for(family) and not remaining.is_empty:
        alternatives.append(conj(Test("src", remaining, "src has no route captured",
                                      "src has a route captured"), _assumed(o, ctx)))
    return disj(*alternatives)


def _by_rules(o: RpfilterMatch, host: Host, ctx: CompileContext) -> Pred:
    """The reverse lookup through the host's routing rules (IPv4, `reverse`): the check
    passes where the lookup ends at a unicast route through the input interface (or a local
    one, with --accept-local; any interface with --loose)."""
    flow = ReverseFlow("lo", mark=o.validmark, zero_special=True)

    def unseen(rule: IpRule) -> Pred:
        shown = " ".join(rule.unseen)
        return ctx.assume(f"rpfilter-rule-{rule.priority}",
                          f"the reverse lookup meets rule {rule.priority}'s `{shown}'",
                          f"the reverse lookup does not meet rule {rule.priority}'s `{shown}'")

    passing = []
    for reached in reverse_lookup(host, flow, unseen):
        if reached.kind == "unicast" or (reached.kind == "local" and o.accept_local):
            passing.append(conj(reached.where, _through(o, reached.devices, ctx)))
        elif reached.kind == "unknown":
            passing.append(conj(reached.where, _assumed(o, ctx)))
    return disj(*passing)
