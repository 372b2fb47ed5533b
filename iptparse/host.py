"""What iptparse knows of the host besides its rules: addresses and routes.

Read from what users capture: `ip addr` (or `ip -brief addr`, or a plain list of addresses,
optionally `IFNAME ADDR/LEN` per line) and `ip route` / `ip -6 route` (or `route -n`). They
decide whether a packet is for this host (INPUT) or forwarded (FORWARD) and through which
interface it leaves, and they answer `-m addrtype`, REDIRECT and MASQUERADE.
"""

from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Generator, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .addresses import format_ip
from .describe import describe_set
from .domain import IntSet, NameSet
from .errors import IptparseError
from .events import Note
from .logic import And, Assume, Not, Or, Pred, Test
from .nodes import Family
from .special import ALL_HOSTS, LIMITED_BROADCAST4, LOOPBACK4, MULTICAST, MULTICAST4, ZERO4

if TYPE_CHECKING:
    from .interp import Interpreter, PathState, Snapshot

__all__ = ["Host", "HostAddress", "HostError", "Route", "parse_addrs", "parse_routes"]

#: `PathState.stopped` of routing's own drops
MARTIAN = "routing (a martian address)"
NO_ROUTE = "routing (no route to dst)"
NOT_A_MEMBER = ("routing (a multicast group the host has not joined; multicast routing is not "
                "modelled)")

#: A multicast destination is delivered when the input interface joined the group (sockets'
#: memberships: `ip maddr`, which iptparse does not read), else dropped; forwarded only by a
#: multicast routing daemon. Every interface joins the all-hosts / all-nodes group.
_MEMBER = Assume("multicast-member", "multicast-member",
                 "the input interface joined the multicast group",
                 "the input interface did not join the multicast group")

_MARTIAN_SRC = LOOPBACK4 | MULTICAST4 | LIMITED_BROADCAST4
#: ip_route_input_slow() takes these to the local broadcast input before it looks at 0.0.0.0:
#: the limited broadcast, and 0.0.0.0 to 0.0.0.0 (a DHCP client's first packets)
_BROADCAST_INPUT = Or((Test("dst", LIMITED_BROADCAST4), And((Test("src", ZERO4),
                                                             Test("dst", ZERO4)))))


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


class HostError(IptparseError, ValueError):
    """A routes or addresses file iptparse cannot read (the message names the line)."""


@dataclass(frozen=True, slots=True)
class HostAddress:
    interface: str
    family: Family
    address: int
    prefix: int


@dataclass(frozen=True, slots=True)
class Route:
    family: Family
    network: int
    prefix: int
    interface: str | None
    gateway: int | None = None
    kind: str = "unicast"  # unicast, blackhole, unreachable, prohibit, local, throw
    metric: int = 0

    def addresses(self) -> IntSet:
        return IntSet.prefix(self.network, self.prefix, self.family.bits)

    def text(self) -> str:
        dest = "default" if self.prefix == 0 else (
            f"{format_ip(self.network, self.family)}/{self.prefix}")
        via = f" via {format_ip(self.gateway, self.family)}" if self.gateway is not None else ""
        dev = f" dev {self.interface}" if self.interface else ""
        kind = f"{self.kind} " if self.kind != "unicast" else ""
        return f"{kind}{dest}{via}{dev}"


def _ip(text: str) -> tuple[Family, int]:
    for family, af in ((Family.INET, socket.AF_INET), (Family.INET6, socket.AF_INET6)):
        try:
            return family, int.from_bytes(socket.inet_pton(af, text), "big")
        except OSError:
            continue
    raise ValueError(text)


def _prefix(text: str) -> tuple[Family, int, int]:
    addr, _, length = text.partition("/")
    family, value = _ip(addr)
    n = int(length) if length else family.bits
    mask = ((1 << family.bits) - 1) ^ ((1 << (family.bits - n)) - 1)
    return family, value & mask, n


_IP_ADDR_IF = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?:")
_IP_ADDR_LINE = re.compile(r"^\s+inet6?\s+(\S+)")


def parse_addrs(text: str) -> list[HostAddress]:
    """Addresses from `ip addr`, `ip -brief addr`, or lines `[IFNAME] ADDR[/LEN]`."""
    out: list[HostAddress] = []
    interface = ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _IP_ADDR_IF.match(line)
        if m:
            interface = m.group(1)
            continue
        m = _IP_ADDR_LINE.match(line)
        words = line.split()
        try:
            if m:
                family, value, n = _prefix(m.group(1))
                out.append(HostAddress(interface, family, value | 0, n))
                # `_prefix` masked the address; keep the host part for local delivery
                out[-1] = replace(out[-1], address=_ip(m.group(1).split("/")[0])[1])
            elif line.startswith((" ", "\t")) and words and words[0] in ("link/ether",
                                                                          "link/loopback",
                                                                          "valid_lft", "altname",
                                                                          "link/none"):
                continue
            elif len(words) >= 3 and words[1] in ("UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN"):
                name = words[0].split("@")[0]
                for item in words[2:]:
                    family, _, n = _prefix(item)
                    out.append(HostAddress(name, family, _ip(item.split("/")[0])[1], n))
            elif len(words) == 2:
                family, _, n = _prefix(words[1])
                out.append(HostAddress(words[0], family, _ip(words[1].split("/")[0])[1], n))
            elif len(words) == 1:
                family, _, n = _prefix(words[0])
                out.append(HostAddress("", family, _ip(words[0].split("/")[0])[1], n))
            else:
                raise ValueError(line)
        except ValueError:
            raise HostError(f"line {number}: cannot read an address in `{line.strip()}' (give "
                            "`ip addr` output, or lines `IFACE ADDR/LEN` or `ADDR/LEN`)") from None
    return out


_KINDS = ("blackhole", "unreachable", "prohibit", "local", "throw", "broadcast", "anycast",
          "multicast", "nat", "unicast")


def parse_routes(text: str) -> list[Route]:
    """Routes from `ip route` / `ip -6 route` output or `route -n` (`netstat -rn`) output."""
    out: list[Route] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#") or words[0] in ("Kernel", "Destination"):
            continue
        try:
            if (len(words) >= 8 and re.fullmatch(r"[\d.]+", words[2]) and words[3].isalpha()
                    and words[3].isupper()):
                out.append(_route_n(words))
            else:
                out.append(_ip_route(words))
        except (ValueError, IndexError):
            raise HostError(f"line {number}: cannot read a route in `{line.strip()}' (give "
                            "`ip route` or `route -n` output)") from None
    return out


def _route_n(words: list[str]) -> Route:
    """`Destination Gateway Genmask Flags Metric Ref Use Iface` (route -n)."""
    _, net = _ip(words[0])
    _, gateway = _ip(words[1])
    _, mask = _ip(words[2])
    prefix = bin(mask).count("1")
    kind = "unreachable" if "!" in words[3] else "unicast"
    return Route(Family.INET, net & mask, prefix, words[7], gateway or None, kind, int(words[4]))


def _ip_route(words: list[str]) -> Route:
    kind = "unicast"
    if words[0] in _KINDS:
        kind = words.pop(0)
    dest = words.pop(0)
    if dest == "default":
        family = Family.INET6 if "::" in " ".join(words) and "." not in " ".join(words) else (
            Family.INET)
        network, prefix = 0, 0
    else:
        family, network, prefix = _prefix(dest)
    interface = gateway = None
    metric = 0
    for key, value in itertools.pairwise(words):
        if key == "dev":
            interface = value
        elif key == "via":
            gw_family, gateway = _ip(value.split("%")[0]) if value != "inet6" else (family, 0)
            family = gw_family if dest == "default" else family
        elif key == "metric":
            metric = int(value)
    return Route(family, network, prefix, interface, gateway, kind, metric)


class Host:
    """A host's addresses and routing table, as the interpreter consults them."""

    def __init__(self, addresses: Iterable[HostAddress] = (), routes: Iterable[Route] = ()):
        self.addresses = tuple(addresses)
        self.routes = tuple(routes)

    @classmethod
    def from_text(cls, addrs: str | None = None, routes: str | None = None) -> Host:
        return cls(parse_addrs(addrs) if addrs else (), parse_routes(routes) if routes else ())

    def local_addresses(self, family: Family) -> IntSet:
        top = (1 << family.bits) - 1
        values = [a.address for a in self.addresses if a.family is family]
        if family is Family.INET:
            values.append(0x7F000001)
            result = IntSet.values(values, top) | IntSet.prefix(0x7F000000, 8, 32)
        else:
            result = IntSet.values([*values, 1], top)
        for route in self.routes:
            if route.family is family and route.kind == "local":
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
        return IntSet.values(values, top)

    def interface_addresses(self, name: str, family: Family) -> list[int]:
        return [a.address for a in self.addresses if a.interface == name and a.family is family]

    def routes_for(self, family: Family) -> list[Route]:
        """Unicast-table routes, most specific first (then lowest metric)."""
        routes = [r for r in self.routes if r.family is family and r.kind != "local"]
        connected = [
            Route(family, a.address & (((1 << family.bits) - 1) ^ ((1 << (family.bits - a.prefix))
                                                                   - 1)),
                  a.prefix, a.interface)
            for a in self.addresses if a.family is family and a.interface and a.prefix
        ]
        known = {(r.network, r.prefix) for r in routes}
        routes += [r for r in connected if (r.network, r.prefix) not in known]
        return sorted(routes, key=lambda r: (-r.prefix, r.metric))

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
            # ip_route_input_slow: martian sources and destinations never get a route
            bad: list[Pred] = [Test("src", _MARTIAN_SRC, "src is a martian source (loopback, "
                                    "multicast or broadcast)", "src is not a martian source")]
            zero: list[Pred] = [Test("src", ZERO4, "src is 0.0.0.0", "src is not 0.0.0.0")]
            if state.env.get("dst", "dst") == "dst":
                # a destination NAT rewrote is an address the host chose: never a martian
                bad.append(Test("dst", LOOPBACK4, "dst is a loopback address",
                                "dst is not a loopback address"))
                zero.append(Test("dst", ZERO4, "dst is 0.0.0.0", "dst is not 0.0.0.0"))
            # 0.0.0.0 is a martian too, but for a local broadcast (checked first)
            bad.append(And((Not(_BROADCAST_INPUT), Or(tuple(zero)))))
            martian = And((Not(Test("iif", NameSet.single("lo"))), Or(tuple(bad))))
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
        for piece in pieces:
            holds, fails = interp._split_state(
                piece, Test("dst", local, "dst is a local address", "dst is not a local address"))
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
                                 "a group the host joined") for m in member]
                    options += [(replace(d, verdict="DROP", stopped=NOT_A_MEMBER),
                                 "a group the host did not join: dropped") for d in stranger]
            for s in unicast:
                for routed, label in self._lookup(interp, s):
                    options.append((replace(routed, stages=done + fwd_stages, path="forward"),
                                    label))
        state = yield from interp._fork(state, None, options)
        if state.path == "in" and state.verdict is None:
            yield Note("routing: dst is a local address: delivered locally (INPUT)"), state
        elif state.verdict is None:
            oif = describe_set("oif", state.current("oif"), family)
            yield Note(f"routing: forwarded, oif {oif}"), state
        else:
            yield Note(f"dropped by {state.stopped or 'routing'}"), state
        return replace(state, stage=state.stage + 1, chain=None, index=0, stack=(), trail=())

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
                       routed=_dst_var(state))

    def reroute_output(self, interp: Interpreter, state: PathState
                       ) -> Generator[Snapshot, int | None, PathState]:
        """After mangle or nat OUTPUT changed the destination (ip_route_me_harder): routed
        again, for POSTROUTING. The rest of OUTPUT still sees the first route's interface
        (its hooks were called with it; checked against the kernel); no route now drops the
        packet here, before the next table."""
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
        state = yield from interp._fork(state, None, options)
        if state.verdict is None:
            assert state.next_oif is not None
            oif = describe_set("oif", state.box.get(state.next_oif), interp.family)
            yield Note(f"routing again: {table} OUTPUT changed dst; POSTROUTING sees oif "
                       f"{oif}, the rest of OUTPUT the first route's"), state
        else:
            yield Note(f"dropped by {state.stopped or 'routing'} after {table} OUTPUT"), state
        return replace(state, stage=state.stage + 1, chain=None, index=0, stack=(), trail=(),
                       routed=_dst_var(state))

    def _output_routes(self, interp: Interpreter, state: PathState
                       ) -> list[tuple[PathState, str]]:
        """Where a local packet's destination leaves: lo for a local address (it then comes
        in again: `Interpreter._loop_back`), else the routes."""
        local = self.local_addresses(interp.family)
        holds, fails = interp._split_state(
            state, Test("dst", local, "dst is a local address", "dst is not a local address"))
        options = [(self._via(s, Route(interp.family, 0, 0, "lo")), "for this host: out by lo")
                   for s in holds]
        for s in fails:
            options += self._lookup(interp, s)
        return options

    def _lookup(self, interp: Interpreter, state: PathState
                ) -> list[tuple[PathState, str]]:
        out: list[tuple[PathState, str]] = []
        remaining = [state]
        for route in self.routes_for(interp.family):
            nxt = []
            for s in remaining:
                holds, fails = interp._split_state(
                    s, Test("dst", route.addresses(), f"dst routed by `{route.text()}'",
                            f"dst not routed by `{route.text()}'"))
                for h in holds:
                    out.append((self._via(h, route), f"route {route.text()}"))
                nxt.extend(fails)
            remaining = nxt
            if not remaining:
                break
        for s in remaining:
            out.append((replace(s, verdict="DROP", stopped=NO_ROUTE), "no route to host"))
        return out

    def _via(self, state: PathState, route: Route) -> PathState:
        if route.kind != "unicast" or route.interface is None:
            return replace(state, verdict="DROP", stopped=f"routing (the route `{route.text()}')")
        env = dict(state.env)
        fresh = state.fresh + 1
        var = f"oif@{fresh}"
        box = state.box.with_(var, NameSet.single(route.interface))
        env["oif"] = var
        labels = dict(state.labels)
        labels[var] = "oif chosen by routing"
        return replace(state, env=env, branch=replace(state.branch, box=box), fresh=fresh,
                       labels=labels)
