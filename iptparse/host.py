"""What iptparse knows of the host besides its rules: addresses, routes, routing rules and
settings, read from what users capture (`hostfiles`, `sysctl`). They decide whether a packet
is for this host (INPUT) or forwarded (FORWARD) and through which interface it leaves, and
they answer `-m addrtype`, `-m rpfilter`, REDIRECT and MASQUERADE.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterable, Mapping
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from .describe import describe_set
from .domain import IntSet, NameSet
from .events import Note
from .hostfiles import (
    HostAddress,
    HostError,
    NextHop,
    Route,
    parse_addrs,
    parse_bridge_calls,
    parse_routes,
    parse_rules,
)
from .iprule import DEFAULT_RULES, IpRule
from .logic import TRUE, And, Assume, Not, Or, Pred, Test
from .nodes import Family
from .special import ALL_HOSTS, LIMITED_BROADCAST4, LOOPBACK4, MULTICAST, MULTICAST4, ZERO4

if TYPE_CHECKING:
    from .interp import Interpreter, PathState, RoutingKey, Snapshot
    from .sysctl import Sysctls

__all__ = ["Host", "HostAddress", "HostError", "NextHop", "Route", "captured_families",
           "parse_addrs", "parse_bridge_calls", "parse_routes", "parse_rules"]

_T = TypeVar("_T")

#: `PathState.stopped` of routing's own drops
MARTIAN = "routing (a martian address)"
NO_ROUTE = "routing (no route to dst)"
NOT_FORWARDING = "routing (the input interface does not forward: sysctl forwarding)"
INVALID_SOURCE = ("routing (a martian source: it fails the kernel's source validation, by "
                  "the sysctls rp_filter and accept_local)")
LOOPBACK_OUT = ("routing (a loopback source may leave only by lo, or an interface with the "
                "sysctl route_localnet)")
NOT_A_MEMBER = ("routing (a multicast group the host has not joined; multicast routing is not "
                "modelled)")

#: A multicast destination is delivered when the input interface joined the group (sockets'
#: memberships: `ip maddr`, which iptparse does not read), else dropped; forwarded only by a
#: multicast routing daemon. Every interface joins the all-hosts / all-nodes group.
_MEMBER = Assume("multicast-member", "multicast-member",
                 "the input interface joined the multicast group",
                 "the input interface did not join the multicast group")

_MARTIAN_SRC = MULTICAST4 | LIMITED_BROADCAST4
#: ip_route_input_slow() takes these to the local broadcast input before it looks at 0.0.0.0:
#: the limited broadcast, and 0.0.0.0 to 0.0.0.0 (a DHCP client's first packets)
_BROADCAST_INPUT = Or((Test("dst", LIMITED_BROADCAST4), And((Test("src", ZERO4),
                                                             Test("dst", ZERO4)))))


_LOOPBACK_SRC = Test("src", LOOPBACK4, "src is a loopback address", "src is not a loopback address")
#: the label of a multicast delivery (`_validated` leaves its source unchecked)
_JOINED = "a group the host joined"
#: the labels of a routing decision the captures leave to the path asked
_AS_ASKED = "the host's addresses were not captured: delivered locally, as asked"
_UNCAPTURED = ("the host's routes were not captured: forwarded by the output interface the "
               "packet names")
#: routes whose lookup fails, so no rule suppresses them (fib_table_lookup's errors)
_FAILING = ("blackhole", "unreachable", "prohibit")


def _is_local(local: IntSet) -> Test:
    return Test("dst", local, "dst is a local address", "dst is not a local address")


def routing_key(state: PathState) -> RoutingKey:
    """What a local packet's route was chosen on: its destination, source and mark, as the
    path holds them (a variable, or the mark's expression once MARK changed it)."""
    env = state.env
    return (_dst_var(state), env.get("src", "src"), env.get("mark", "mark"))


def _dst_var(state: PathState) -> str:
    """The variable that holds the destination now (addresses are never `Moved`)."""
    var = state.env.get("dst", "dst")
    assert isinstance(var, str)
    return var


def _membership(interp: Interpreter, group: PathState, joined: list[Pred]
                ) -> tuple[list[PathState], list[PathState]]:
    """The pieces of a path to a multicast group whose input interface joined it, and the
    others: by the groups `ip addr` lists (`joined`), else by the assumption (the
    memberships of sockets are not captured)."""
    listed, unlisted = (interp._split_state(group, Or(tuple(joined))) if joined
                        else ([], [group]))
    member, stranger = list(listed), []
    for unknown in unlisted:
        joins, does_not = interp._split_state(unknown, _MEMBER)
        member += joins
        stranger += does_not
    return member, stranger


def captured_families(routes: Iterable[Route], rules: Mapping[Family, object] | None
                      ) -> frozenset[Family]:
    """The families whose routes a routes capture gives: those it has routes or `ip rule`
    lines of. `ip route` without `ip -6 route` says nothing of IPv6's routes: taking them as
    none would give every IPv6 packet "no route", and fail its reverse-path checks."""
    return frozenset({r.family for r in routes} | set(rules or ()))


class Host:
    """A host's addresses and routing table, as the interpreter consults them."""

    def __init__(self, addresses: Iterable[HostAddress] = (), routes: Iterable[Route] = (),
                 rules: Mapping[Family, tuple[IpRule, ...]] | None = None,
                 sysctls: Sysctls | None = None, *, addresses_known: bool = True,
                 routes_known: bool | Collection[Family] = True,
                 bridges: Mapping[str, Mapping[str, int]] | None = None):
        self.addresses = tuple(addresses)
        self.routes = tuple(routes)
        #: whether the host's addresses were captured (`ip addr`, or the local table's routes):
        #: else the path asked says whether a packet is for the host, and -m addrtype and the
        #: NAT targets assume, as with no host at all
        self.addresses_known = addresses_known or any(
            r.table == "local" and r.kind == "local" and r.interface != "lo" for r in self.routes)
        #: each family's routing rules as `ip rule` gave them (else the kernel's defaults)
        self.rules = dict(rules or {})
        #: the IPv4 settings routing reads on receipt (None: forwarding on, rp_filter 0,
        #: accept_local 1, as the kernel lab runs)
        self.sysctls = sysctls
        #: each bridge's own nf_call_iptables / nf_call_ip6tables (`parse_bridge_calls`)
        self.bridges = {name: dict(calls) for name, calls in (bridges or {}).items()}
        # The families whose routes were captured: for the others the main table holds, beyond
        # the subnets of the addresses, routes no capture shows (a packet leaves by the
        # interface it names). True: every family's are `routes` (a lab's, a library caller's
        # host); a routes file knows those it shows (`captured_families`); False: none.
        self._captured = (frozenset(Family) if routes_known is True else
                          frozenset(routes_known) if routes_known is not False else frozenset())
        self._tables: dict[tuple[Family, str, bool], tuple[Route, ...]] = {}

    @cached_property
    def route_devices(self) -> frozenset[str]:
        """The interfaces a route can go through: the routes', the addresses' (their local
        and connected routes), lo."""
        return frozenset({d for r in self.routes for d in r.devices()} | {"lo"}
                         | {a.interface for a in self.addresses if a.interface})

    def bridges_calling(self, tool: str) -> frozenset[str]:
        """The bridges whose own switch has br_netfilter call `tool`'s tables (iptables,
        ip6tables) for their packets, whatever the sysctl says."""
        return frozenset(name for name, calls in self.bridges.items() if calls.get(tool))

    def routes_known_for(self, family: Family) -> bool:
        """Whether the family's routes were captured (see `routes_known`)."""
        return family in self._captured

    @classmethod
    def from_text(cls, addrs: str | None = None, routes: str | None = None,
                  sysctl: str | None = None, *,
                  names: tuple[str | None, str | None, str | None] = (None, None, None)
                  ) -> Host:
        """The host of these captures; one not given (None) is unknown, not empty. `names`:
        each capture's file name, put before what cannot be read in it."""
        from .sysctl import parse_sysctls

        def read(parse: Callable[[str], _T], text: str, name: str | None) -> _T:
            try:
                return parse(text)
            except HostError as exc:
                if name is None:
                    raise
                raise HostError(f"{name}: {exc}") from None

        found = read(parse_routes, routes, names[1]) if routes else []
        rules = read(parse_rules, routes, names[1]) if routes else None
        return cls(read(parse_addrs, addrs, names[0]) if addrs else (), found, rules,
                   read(parse_sysctls, sysctl, names[2]) if sysctl else None,
                   addresses_known=addrs is not None,
                   routes_known=captured_families(found, rules) if routes is not None else False,
                   bridges=parse_bridge_calls(addrs) if addrs else None)

    def rules_for(self, family: Family) -> tuple[IpRule, ...]:
        return self.rules.get(family) or DEFAULT_RULES[family]

    def _local_first(self, family: Family) -> bool:
        """The local table is looked in before any other (rule 0, as the kernel starts):
        local delivery is then decided before the rules are walked."""
        first = self.rules_for(family)[0]
        return first.table == "local" and first.action == "lookup" and first.selector(
            family, local=False) is TRUE

    def local_addresses(self, family: Family) -> IntSet:
        """The host's addresses, and the subnets of IPv4 ones on lo (fib_add_ifaddr makes
        the whole prefix local there: `10.5.0.1/24 dev lo` takes in 10.5.0.77)."""
        top = (1 << family.bits) - 1
        values = [a.address for a in self.addresses if a.family is family]
        if family is Family.INET:
            values.append(0x7F000001)
            result = IntSet.values(values, top) | IntSet.prefix(0x7F000000, 8, 32)
            for a in self.addresses:
                if a.family is family and a.interface == "lo" and a.prefix_route:
                    result = result | IntSet.prefix(a.address, a.prefix, 32)
        else:
            result = IntSet.values([*values, 1], top)
        for route in self.routes:
            if route.family is family and route.kind == "local" and route.table == "local":
                result = result | route.addresses()
        return result

    def broadcast_addresses(self, family: Family) -> IntSet:
        """Addresses delivered locally as broadcasts: 255.255.255.255 and each subnet's last
        address (the kernel adds broadcast routes only for prefixes shorter than /31)."""
        top = (1 << family.bits) - 1
        if family is not Family.INET:
            return IntSet.empty(top)
        values = [0xFFFFFFFF]
        for a in self.addresses:
            if a.family is family and a.prefix < 31:
                values.append(a.address | ((1 << (32 - a.prefix)) - 1))
        result = IntSet.values(values, top)
        for route in self.routes:
            if route.family is family and route.kind == "broadcast" and route.table == "local":
                result = result | route.addresses()
        return result

    def interface_addresses(self, name: str, family: Family) -> list[int]:
        return [a.address for a in self.addresses if a.interface == name and a.family is family]

    def routes_for(self, family: Family, table: str = "main", *, dead: bool = False
                   ) -> tuple[Route, ...]:
        """A table's routes, most specific first (then lowest metric); main's with a route
        for each address's subnet (the kernel adds them). Dead routes only when asked: every
        lookup passes them by."""
        key = (family, table, dead)
        found = self._tables.get(key)
        if found is None:
            found = self._tables[key] = self._table(family, table, dead)
        return found

    def _table(self, family: Family, table: str, dead: bool) -> tuple[Route, ...]:
        routes = [r for r in self.routes if r.family is family and r.table == table]
        if table == "main":
            # fib_add_ifaddr: none for noprefixroute, an IPv4 /32 or one on lo (its prefix
            # is local); IPv6 routes even a /128
            connected = [
                Route(family, a.address & (((1 << family.bits) - 1)
                                           ^ ((1 << (family.bits - a.prefix)) - 1)),
                      a.prefix, a.interface)
                for a in self.addresses
                if a.family is family and a.interface and a.prefix and a.prefix_route
                and (family is not Family.INET or (a.prefix < 32 and a.interface != "lo"))
            ]
            known = {(r.network, r.prefix) for r in routes}
            routes += [r for r in connected if (r.network, r.prefix) not in known]
        return tuple(sorted((r for r in routes if dead or r.live),
                            key=lambda r: (-r.prefix, r.metric)))

    # --- the routing decision ------------------------------------------------------------

    def route(self, interp: Interpreter, state: PathState
              ) -> Generator[Snapshot, int | None, PathState]:
        """After PREROUTING: martians dropped, local delivery or forwarding, and the output
        interface. Every piece of the packet's constraints that decides differently is a fork
        option (a state a new walk resumes from: its box decides the same way again)."""
        from .interp import PATHS, stages_for

        family = interp.family
        options: list[tuple[PathState, str]] = []
        pieces = [state]
        if family is Family.INET:
            # a destination DNAT rewrote is checked too (127.0.0.1 needs route_localnet), but
            # not REDIRECT's: its set of candidates holds 127.0.0.1 only for local packets
            rewritten = state.env.get("dst", "dst") != "dst"
            now = state.current("dst")
            loopback_only = isinstance(now, IntSet) and (now - LOOPBACK4).is_empty
            martian = And((Not(Test("iif", NameSet.single("lo"))), self._martian(
                dst=not rewritten, loopback_dst=not rewritten or loopback_only)))
            dropped, pieces = interp._split_state(state, martian)
            options += [(replace(s, verdict="DROP", stopped=MARTIAN),
                         "martian address: dropped by routing") for s in dropped]
        # a group `ip addr` lists (autojoin) is joined on its interface only
        local = ((self.local_addresses(family) - MULTICAST[family])
                 | self.broadcast_addresses(family) | ALL_HOSTS[family])
        joined: list[Pred] = [
            And((Test("dst", IntSet.single(a.address, (1 << family.bits) - 1)),
                 Test("iif", NameSet.single(a.interface))))
            for a in self.addresses if a.family is family and a.address in MULTICAST[family]]
        if family is Family.INET:
            local = local | ZERO4  # 0.0.0.0 → 0.0.0.0: the one zero left, a local broadcast
        in_stages = stages_for(PATHS["in"][2:])
        fwd_stages = stages_for(PATHS["forward"][2:])
        done = state.stages[: state.stage + 1]
        local_first = self._local_first(family)
        if not local_first:  # the groups are met before the rules (ip_route_input_noref)
            joined.append(Test("dst", ALL_HOSTS[family]))
        for piece in pieces:
            if not self.addresses_known and piece.path == "in":
                options.append((replace(piece, stages=done + in_stages), _AS_ASKED))
                continue
            holds, fails = interp._split_state(piece, _is_local(local)) if local_first else (
                [], [piece])
            for s in holds:
                options.append((replace(s, stages=done + in_stages, path="in"), "for this host"))
            unicast: list[PathState] = []
            for s in fails:
                groups, others = interp._split_state(s, Test(
                    "dst", MULTICAST[family], "dst is a multicast group",
                    "dst is not a multicast group"))
                unicast += others
                for group in groups:  # never looked up in the unicast routes
                    member, stranger = _membership(interp, group, joined)
                    options += [(replace(m, stages=done + in_stages, path="in"),
                                 _JOINED) for m in member]
                    options += [(replace(d, verdict="DROP", stopped=NOT_A_MEMBER),
                                 "a group the host did not join: dropped") for d in stranger]
            for s in unicast:
                for routed, label, here in self._lookup(interp, s, local, output=False,
                                                        start=int(local_first)):
                    options.append((replace(routed, stages=done + (in_stages if here else
                                                                   fwd_stages),
                                            path="in" if here else "forward"), label))
        if self.sysctls is not None:
            options = self._validated(interp, options, self.sysctls)
        state = yield from interp._fork(state, None, options)
        label = next((text for option, text in options if option is state), "")
        if label in (_AS_ASKED, _UNCAPTURED) and state.verdict is None:
            yield Note(f"routing: {label}"), state
        elif state.path == "in" and state.verdict is None:
            by_route = label.removeprefix("for this host: ")
            yield Note(f"routing: delivered locally (INPUT) by {by_route}" if by_route != label
                       else "routing: dst is a local address: delivered locally (INPUT)"), state
        elif state.verdict is None:
            oif = describe_set("oif", state.current("oif"), family)
            by = f" by {label}" if family in self.rules else ""
            yield Note(f"routing: forwarded{by}, oif {oif}"), state
        else:
            yield Note(f"dropped by {state.stopped or 'routing'}"), state
        return replace(state, stage=state.stage + 1, chain=None, index=0, stack=(), trail=())

    def _martian(self, *, dst: bool, loopback_dst: bool) -> Pred:
        """ip_route_input_slow's martians, in its order, as the addresses are when routing
        runs (after PREROUTING's DNAT): a multicast or limited-broadcast source; then, but
        for a local broadcast, 0.0.0.0 either way, and a loopback address either way unless
        the input interface has route_localnet (which DNAT to 127.0.0.1 needs). `dst`,
        `loopback_dst`: whether the destination's checks apply."""
        loopback: Pred = _LOOPBACK_SRC
        if loopback_dst:
            loopback = Or((loopback, Test("dst", LOOPBACK4, "dst is a loopback address",
                                          "dst is not a loopback address")))
        if self.sysctls is not None:
            from .validate import localnet

            loopback = And((Not(localnet(self.sysctls, "iif")), loopback))
        zero: list[Pred] = [Test("src", ZERO4, "src is 0.0.0.0", "src is not 0.0.0.0")]
        if dst:
            zero.append(Test("dst", ZERO4, "dst is 0.0.0.0", "dst is not 0.0.0.0"))
        return Or((Test("src", _MARTIAN_SRC, "src is a multicast or broadcast address",
                        "src is not a multicast or broadcast address"),
                   And((Not(_BROADCAST_INPUT), Or((*zero, loopback))))))

    def _validated(self, interp: Interpreter, options: list[tuple[PathState, str]],
                   sysctls: Sysctls) -> list[tuple[PathState, str]]:
        """The received packet's routing outcomes after the checks the sysctls rule
        (`validate`): a forwarded one's input interface must forward, and the source of an
        IPv4 one forwarded or delivered to a local address must pass fib_validate_source."""
        from .validate import forwards, forwards6, source_valid

        out: list[tuple[PathState, str]] = []
        inet = interp.family is Family.INET
        for state, label in options:
            if state.verdict is not None or label == _JOINED:  # its validation: not modelled
                out.append((state, label))
                continue
            pieces, oif = [state], None
            if state.path == "forward":
                pieces, off = interp._split_state(state, forwards(sysctls) if inet
                                                  else forwards6(sysctls))
                out += [(replace(s, verdict="DROP", stopped=NOT_FORWARDING),
                         "the input interface does not forward: dropped") for s in off]
                chosen = state.current("oif").single_value()
                oif = chosen if isinstance(chosen, str) else None
            if not inet:  # IPv6 validates no source
                out += [(s, label) for s in pieces]
                continue
            for piece in pieces:
                iif = piece.current("iif")
                assert isinstance(iif, NameSet)
                # a broadcast from 0.0.0.0 (a DHCP client's) is not validated (brd_input)
                valid, invalid = interp._split_state(piece, Or((
                    Test("src", ZERO4, "src is 0.0.0.0", "src is not 0.0.0.0"),
                    source_valid(self, sysctls, oif, iif))))
                out += [(s, label) for s in valid]
                out += [(replace(s, verdict="DROP", stopped=INVALID_SOURCE),
                         "the source fails validation: dropped as a martian") for s in invalid]
        return out

    def route_output(self, interp: Interpreter, state: PathState
                     ) -> Generator[Snapshot, int | None, PathState]:
        """Before OUTPUT: a local process's packet is routed before any hook sees it
        (ip_route_output), so OUTPUT's `-o` is the route's interface. A local destination
        leaves by lo; without a route the send fails and no hook sees the packet."""
        options = self._output_routes(interp, state)
        state = yield from interp._fork(state, None, options)
        if state.verdict is None:
            oif = describe_set("oif", state.current("oif"), interp.family)
            yield Note(f"routing: sent, oif {oif}"), state
        else:
            yield Note(f"not sent: {state.stopped or 'routing'}"), state
        return replace(state, stage=state.stage + 1, chain=None, index=0, stack=(), trail=(),
                       routed=routing_key(state))

    def rerouted_by(self, state: PathState, table: str, family: Family) -> str | None:
        """What OUTPUT's `table` changed that routes a local packet again, if anything: the
        destination after mangle or nat; after mangle also the source or the mark
        (ipt_mangle_out), which only routing rules read."""
        if state.routed is None:
            return None
        dst, src, mark = routing_key(state)
        if dst != state.routed[0]:
            return "dst"
        if table != "mangle" or family not in self.rules:
            return None
        if mark != state.routed[2]:
            return "the mark"
        return "src" if src != state.routed[1] else None

    def reroute_output(self, interp: Interpreter, state: PathState
                       ) -> Generator[Snapshot, int | None, PathState]:
        """After mangle or nat OUTPUT changed the destination, or mangle the mark or source
        (ip_route_me_harder; `rerouted_by`): routed again, for POSTROUTING. The rest of
        OUTPUT still sees the first route's interface (its hooks were called with it; checked
        against the kernel); no route now drops the packet here, before the next table."""
        seen = state.env.get("oif", "oif")
        assert isinstance(seen, str)
        options = []
        for routed, label in self._output_routes(interp, state):
            if routed.verdict is not None:
                options.append((routed, label))
                continue
            env = dict(routed.env)
            chosen = env["oif"]
            assert isinstance(chosen, str)
            env["oif"] = seen
            options.append((replace(routed, env=env, next_oif=chosen), label))
        table = state.stages[state.stage - 1].table
        state_before = state
        state = yield from interp._fork(state, None, options)
        if state.verdict is None:
            assert state.next_oif is not None
            oif = describe_set("oif", state.box.get(state.next_oif), interp.family)
            changed = self.rerouted_by(state_before, table, interp.family)
            yield Note(f"routing again: {table} OUTPUT changed {changed}; POSTROUTING sees oif "
                       f"{oif}, the rest of OUTPUT the first route's"), state
        else:
            yield Note(f"dropped by {state.stopped or 'routing'} after {table} OUTPUT"), state
        return replace(state, stage=state.stage + 1, chain=None, index=0, stack=(), trail=(),
                       routed=routing_key(state))

    def _output_routes(self, interp: Interpreter, state: PathState
                       ) -> list[tuple[PathState, str]]:
        """Where a local packet's destination leaves: lo for a local address (it then comes
        in again: `Interpreter._loop_back`), else the routes."""
        family = interp.family
        local = self.local_addresses(family)
        local_first = self._local_first(family)
        holds, fails = interp._split_state(state, _is_local(local)) if local_first else (
            [], [state])
        lo = Route(family, 0, 0, "lo")
        options = [(self._via(s, lo), "for this host: out by lo") for s in holds]
        for s in fails:
            for routed, label, here in self._lookup(interp, s, local, output=True,
                                                    start=int(local_first)):
                if here:
                    options.append((self._via(routed, lo), f"{label}: out by lo"))
                elif routed.verdict is not None or family is not Family.INET:
                    options.append((routed, label))
                else:
                    options += self._loopback_out(interp, routed, label)
        return options

    def _loopback_out(self, interp: Interpreter, state: PathState, label: str
                      ) -> list[tuple[PathState, str]]:
        """A loopback source may leave only by lo, or an interface with route_localnet
        (__mkroute_output: the send fails, EINVAL); kube-proxy's node ports on localhost
        need it, their DNAT routing the packet out again with source 127.0.0.1."""
        leaving: Pred = And((_LOOPBACK_SRC, Not(Test("oif", NameSet.single("lo")))))
        if self.sysctls is not None:
            from .validate import localnet

            leaving = And((leaving, Not(localnet(self.sysctls, "oif"))))
        failed, sent = interp._split_state(state, leaving)
        return [(s, label) for s in sent] + [
            (replace(s, verdict="DROP", stopped=LOOPBACK_OUT),
             "a loopback source leaving by another interface: the send fails") for s in failed]

    def _lookup(self, interp: Interpreter, state: PathState, local: IntSet, *, output: bool,
                start: int) -> list[tuple[PathState, str, bool]]:
        """The routing rules from the `start`th on (fib_rules_lookup): each outcome, its label,
        and whether it is delivered to the host. A rule's selector splits the paths; those it
        selects take its action, the rest meet the next rule. A table's most specific route
        decides, but a `throw` route, a route the rule suppresses (`suppress_prefixlength`),
        or no route in the table go on to the next rule; after the last, no route."""
        family = interp.family
        rules = self.rules_for(family)
        waiting: list[list[PathState]] = [[] for _ in range(len(rules) + 1)]
        waiting[start].append(state)
        out: list[tuple[PathState, str, bool]] = []
        for index in range(start, len(rules)):
            rule = rules[index]
            selector = rule.selector(family, local=output)
            named = "" if rule in DEFAULT_RULES[family] else f" ({rule.label})"
            for s in waiting[index]:
                chosen, passed = ([s], []) if selector is TRUE else interp._split_state(
                    s, selector)
                waiting[index + 1] += passed
                if rule.action in ("nop", "goto"):
                    target = next((i for i, r in enumerate(rules) if rule.action == "goto"
                                   and r.priority == rule.goto and i > index), index + 1)
                    waiting[target] += chosen
                    continue
                if rule.action != "lookup":
                    stopped = f"routing (the rule `{rule.priority}: {rule.text}')"
                    out += [(replace(c, verdict="DROP", stopped=stopped),
                             f"dropped by {rule.label}", False) for c in chosen]
                    continue
                for c in chosen:
                    found, rest = self._in_table(interp, c, rule, local)
                    out += [(f, label + named, here) for f, label, here in found]
                    waiting[index + 1] += rest
        out += [(replace(s, verdict="DROP", stopped=NO_ROUTE), "no route to host", False)
                for s in waiting[len(rules)]]
        return out

    def _in_table(self, interp: Interpreter, state: PathState, rule: IpRule, local: IntSet
                  ) -> tuple[list[tuple[PathState, str, bool]], list[PathState]]:
        """The outcomes of one rule's table, and the paths that go on to the next rule."""
        assert rule.table is not None
        if rule.table == "local":
            holds, fails = interp._split_state(state, _is_local(local))
            return [(s, "for this host", True) for s in holds], fails
        out: list[tuple[PathState, str, bool]] = []
        remaining, rest = [state], []
        suppressed = rule.suppress_prefixlength
        for route in self.routes_for(interp.family, rule.table):
            nxt = []
            for s in remaining:
                holds, fails = interp._split_state(
                    s, Test("dst", route.addresses(), f"dst routed by `{route.text()}'",
                            f"dst not routed by `{route.text()}'"))
                nxt.extend(fails)
                if route.kind == "throw" or (suppressed is not None and route.prefix <= suppressed
                                             and route.kind not in _FAILING):
                    rest += holds
                elif route.kind == "local":
                    out += [(h, f"for this host: route {route.text()}", True) for h in holds]
                else:
                    out += [(taken, label, False)
                            for h in holds for taken, label in self._ways(interp, h, route)]
            remaining = nxt
            if not remaining:
                break
        if rule.table == "main" and not self.routes_known_for(interp.family):
            out += [(replace(s, env={**s.env, "oif": "oif"}), _UNCAPTURED, False)
                    for s in remaining]
            remaining = []
        return out, rest + remaining

    def _ways(self, interp: Interpreter, state: PathState, route: Route
              ) -> list[tuple[PathState, str]]:
        """The packet out by `route`, and how each way reads: a multipath route's flow goes
        by the nexthop the kernel's hash picks (fib_select_multipath, IPv6's siblings alike),
        seeded at random unless set: which one is an assumption per nexthop, the last taken
        when none of the earlier is."""
        alive = [hop for hop in route.nexthops if not hop.dead]
        if route.kind != "unicast" or len(alive) < 2:
            return [(self._via(state, route, alive[0].interface if alive else None),
                     f"route {route.text()}")]
        out: list[tuple[PathState, str]] = []
        pending = [state]
        total = sum(hop.weight for hop in alive)
        name = replace(route, nexthops=()).text()

        def plain(hop: NextHop) -> str:
            return f"`{replace(hop, weight=1).text()}'"

        def chosen(hop: NextHop) -> str:
            return f"{plain(hop)} (weight {hop.weight} of {total})"

        for number, hop in enumerate(alive, 1):
            label = f"route {name} {replace(hop, weight=1).text()}"
            if number == len(alive):
                out += [(self._via(s, route, hop.interface), label) for s in pending]
                break
            # the last assumption's negation is the last nexthop (the earlier ones' too)
            other = (f"picks {chosen(alive[-1])}, not {plain(hop)}" if number == len(alive) - 1
                     else f"does not pick {plain(hop)}")
            picked = Assume(f"multipath:{route.text()}#{number}", "multipath",
                            f"the multipath hash picks {chosen(hop)} of route {name}",
                            f"the multipath hash {other} of route {name}")
            taken: list[PathState] = []
            for s in pending:
                holds, fails = interp._split_state(s, picked)
                out += [(self._via(h, route, hop.interface), label) for h in holds]
                taken += fails
            pending = taken
        return out

    def _via(self, state: PathState, route: Route, device: str | None = None) -> PathState:
        """The packet out by `device` (else the route's own), or dropped by a route that
        sends nowhere."""
        device = device or route.interface
        if route.kind != "unicast" or device is None:
            return replace(state, verdict="DROP", stopped=f"routing (the route `{route.text()}')")
        env = dict(state.env)
        fresh = state.fresh + 1
        var = f"oif@{fresh}"
        box = state.box.with_(var, NameSet.single(device))
        env["oif"] = var
        labels = dict(state.labels)
        labels[var] = "oif chosen by routing"
        return replace(state, env=env, branch=replace(state.branch, box=box), fresh=fresh,
                       labels=labels)
