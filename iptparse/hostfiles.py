"""The host captures iptparse reads, as typed values: `ip addr` (or `ip -o addr`, `ip -brief
addr`, or a plain list of addresses, optionally `IFNAME ADDR/LEN` per line), `ip route` / `ip
-6 route` (`show table all` too, multipath routes' nexthop lines included, or `route -n`), and
the `ip rule` lines among the routes (`iprule`), and each bridge's own br_netfilter switches
from `ip -d address` (`ip -d link`). `host` makes the routing decisions from them.
"""

from __future__ import annotations

import itertools
import re
import socket
from dataclasses import dataclass, replace

from .addresses import format_ip
from .domain import IntSet
from .errors import IptparseError
from .iprule import IpRule, RuleListError, is_rule_line, parse_ip_rules, rule_lists, table_name
from .nodes import Family

__all__ = ["HostAddress", "HostError", "NextHop", "Route", "parse_addrs", "parse_bridge_calls",
           "parse_routes", "parse_rules"]


class HostError(IptparseError, ValueError):
    """A routes or addresses file iptparse cannot read (the message names the line)."""


@dataclass(frozen=True, slots=True)
class HostAddress:
    interface: str
    family: Family
    address: int
    prefix: int
    #: the kernel routes the address's subnet (`ip addr`'s `noprefixroute` says it does not)
    prefix_route: bool = True


@dataclass(frozen=True, slots=True)
class NextHop:
    """One path of a multipath route (`nexthop via GW dev IF weight W` under the route)."""

    #: as `ip route` prints it (an IPv4 route's may be `inet6 fe80::1`, RFC 5549)
    gateway: str | None
    interface: str | None
    weight: int = 1
    #: the kernel marked it dead (its device is down): no lookup chooses it
    dead: bool = False

    def text(self) -> str:
        via = f" via {self.gateway}" if self.gateway is not None else ""
        dev = f" dev {self.interface}" if self.interface else ""
        weight = f" weight {self.weight}" if self.weight != 1 else ""
        dead = " dead" if self.dead else ""
        return f"nexthop{via}{dev}{weight}{dead}"


@dataclass(frozen=True, slots=True)
class Route:
    family: Family
    network: int
    prefix: int
    interface: str | None
    #: as printed (`route -n`'s, or `ip route`'s: `inet6 fe80::1` on an IPv4 route, RFC 5549)
    gateway: str | None = None
    kind: str = "unicast"  # unicast, blackhole, unreachable, prohibit, local, throw
    metric: int = 0
    table: str = "main"
    #: made by the kernel for an address (`proto kernel`), not by a user or daemon
    kernel: bool = False
    #: a multipath route's paths (`interface` and `gateway` are then None); the kernel
    #: hashes each flow onto one of those alive (fib_select_multipath)
    nexthops: tuple[NextHop, ...] = ()
    #: `ip route` flags a single-path route `dead` when its device is down
    dead: bool = False

    def addresses(self) -> IntSet:
        return IntSet.prefix(self.network, self.prefix, self.family.bits)

    @property
    def live(self) -> bool:
        """Whether a lookup can end here: fib_table_lookup passes by a route whose every
        nexthop is dead, to the next less specific one."""
        return not self.dead and (not self.nexthops or any(not n.dead for n in self.nexthops))

    def devices(self) -> tuple[str, ...]:
        """The interfaces the route goes out by: a check of the route back to a source
        (rpfilter, source validation) passes on any of a multipath route's
        (fib_info_nh_uses_dev), dead or alive."""
        if self.nexthops:
            return tuple(dict.fromkeys(n.interface for n in self.nexthops if n.interface))
        return (self.interface,) if self.interface else ()

    def text(self) -> str:
        dest = "default" if self.prefix == 0 else (
            f"{format_ip(self.network, self.family)}/{self.prefix}")
        via = f" via {self.gateway}" if self.gateway is not None else ""
        dev = f" dev {self.interface}" if self.interface else ""
        kind = f"{self.kind} " if self.kind != "unicast" else ""
        table = f" table {self.table}" if self.table != "main" else ""
        hops = "".join(f" {n.text()}" for n in self.nexthops)
        dead = " dead" if self.dead else ""
        return f"{kind}{dest}{via}{dev}{table}{dead}{hops}"


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
#: `ip -o addr`: an address per line, `N: IFNAME    inet ADDR/LEN … \  valid_lft …`
_IP_ADDR_ONELINE = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?\s+inet6?\s+(\S+)([^\\]*)")
_IP_ADDR_LINE = re.compile(r"^\s+inet6?\s+(\S+)")


#: lines `ip addr` prints under an interface besides its addresses
_DETAILS = ("link/ether", "link/loopback", "valid_lft", "altname", "link/none")


def parse_addrs(text: str) -> list[HostAddress]:
    """Addresses from `ip addr` (`-d` too), `ip -o addr`, `ip -brief addr`, or lines
    `[IFNAME] ADDR[/LEN]`."""
    out: list[HostAddress] = []
    interface = ""
    for number, given in enumerate(text.splitlines(), 1):
        line = given
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _IP_ADDR_IF.match(line)
        if m:
            interface = m.group(1)
            continue
        one = _IP_ADDR_ONELINE.match(line)
        if one:
            line = f"    inet {one.group(2)}{one.group(3)}"
            interface = one.group(1)
        m = _IP_ADDR_LINE.match(line)
        words = line.split()
        try:
            if m:
                family, _, n = _prefix(m.group(1))
                out.append(HostAddress(interface, family, _ip(m.group(1).split("/")[0])[1], n,
                                       prefix_route="noprefixroute" not in words))
            elif line.startswith((" ", "\t")) and (interface or words[0] in _DETAILS):
                continue  # under an interface: its link, lifetimes, `ip -d`'s details
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
            raise HostError(f"line {number}: cannot read an address in `{given.strip()}' (give "
                            "`ip addr` output, or lines `IFACE ADDR/LEN` or `ADDR/LEN`)") from None
    return out


#: a bridge's own switches in `ip -d`'s details (its ports' `bridge_slave` lines have none)
_NF_CALL = re.compile(r"\bnf_call_(iptables|ip6tables) (\d+)\b")


def parse_bridge_calls(text: str) -> dict[str, dict[str, int]]:
    """Each bridge's own `nf_call_iptables` / `nf_call_ip6tables` (keyed "iptables",
    "ip6tables"), from `ip -d address` or `ip -d link` (`-o` too).

    br_netfilter calls a family's tables for a bridge's packets when the namespace's sysctl
    bridge-nf-call-iptables is on *or* the bridge's own switch is (`ip link set BR type bridge
    nf_call_iptables 1`), so a sysctl at 0 does not decide alone. Only `-d` prints the
    switches: other captures give none, and the sysctl decides."""
    out: dict[str, dict[str, int]] = {}
    interface = ""
    for line in text.splitlines():
        header = _IP_ADDR_IF.match(line)
        if header:
            interface = header.group(1)
        found = _NF_CALL.findall(line)
        if found and interface:
            out.setdefault(interface, {}).update((tool, int(value)) for tool, value in found)
    return out


_KINDS = ("blackhole", "unreachable", "prohibit", "local", "throw", "broadcast", "anycast",
          "multicast", "nat", "unicast")
#: the kinds `ip route add` puts in the local table unless told another
_LOCAL_KINDS = ("local", "broadcast", "anycast", "nat")


def parse_routes(text: str) -> list[Route]:
    """Routes from `ip route` / `ip -6 route` output (`show table all` too) or `route -n`
    (`netstat -rn`) output. Lines of `ip rule` output are left to `parse_rules`."""
    out: list[Route] = []
    known: list[bool] = []  # whether the line says its route's family
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#") or words[0] in ("Kernel", "Destination"):
            continue
        if is_rule_line(line):
            continue
        try:
            if words[0] == "nexthop":  # a path of the multipath route above
                if not out:
                    raise ValueError(line)
                hop, said = _nexthop(words)
                out[-1] = replace(out[-1], nexthops=(*out[-1].nexthops, hop))
                if said is not None and not known[-1]:
                    out[-1] = replace(out[-1], family=said)
                    known[-1] = True
            elif (len(words) >= 8 and re.fullmatch(r"[\d.]+", words[2]) and words[3].isalpha()
                    and words[3].isupper()):
                out.append(_route_n(words))
                known.append(True)
            else:
                route, definite = _ip_route(words)
                out.append(route)
                known.append(definite)
        except (ValueError, IndexError):
            raise HostError(f"line {number}: cannot read a route in `{line.strip()}' (give "
                            "`ip route` or `route -n` output)") from None
    return _families_settled(out, known)


def _families_settled(routes: list[Route], known: list[bool]) -> list[Route]:
    """A `default` route through a device alone (`default dev wg0`, `local default dev lo
    table 100`) does not say its family: it is of the routes printed around it (`ip route`
    and `ip -6 route` output one after the other), the earlier first; IPv4 alone."""
    out = []
    for index, (route, definite) in enumerate(zip(routes, known, strict=True)):
        if not definite:
            near = [routes[i] for i in range(index - 1, -1, -1) if known[i]] + [
                routes[i] for i in range(index + 1, len(routes)) if known[i]]
            route = replace(route, family=near[0].family if near else Family.INET)
        out.append(route)
    return out


def _route_n(words: list[str]) -> Route:
    """`Destination Gateway Genmask Flags Metric Ref Use Iface` (route -n)."""
    _, net = _ip(words[0])
    _, gateway = _ip(words[1])
    _, mask = _ip(words[2])
    prefix = bin(mask).count("1")
    kind = "unreachable" if "!" in words[3] else "unicast"
    return Route(Family.INET, net & mask, prefix, words[7], words[1] if gateway else None, kind,
                 int(words[4]))


def _ip_route(words: list[str]) -> tuple[Route, bool]:
    """The route of one `ip route` line, and whether the line says its family (a `default`
    through a device alone does not, unless its `src` or `ip -6 route`'s `pref` does)."""
    kind = "unicast"
    if words[0] in _KINDS:
        kind = words.pop(0)
    hops: list[tuple[NextHop, Family | None]] = []
    if "nexthop" in words:  # `ip route add`'s form: the paths on the route's line
        at = [i for i, word in enumerate(words) if word == "nexthop"] + [len(words)]
        hops = [_nexthop(words[i:j]) for i, j in itertools.pairwise(at)]
        del words[at[0]:]
    dest = words.pop(0)
    definite = True
    if dest == "default":
        family = Family.INET6 if "pref" in words else Family.INET
        definite = "pref" in words or "via" in words
        if "src" in words[:-1]:
            family, definite = _ip(words[words.index("src") + 1])[0], True
        network, prefix = 0, 0
    else:
        family, network, prefix = _prefix(dest)
    interface = gateway = None
    metric = 0
    table = "local" if kind in _LOCAL_KINDS else "main"
    for index, (key, value) in enumerate(itertools.pairwise(words)):
        if key == "dev":
            interface = value
        elif key == "via":
            gateway = _gateway(words[index + 1:])
            family = _gateway_family(words[index + 1:])[0] if dest == "default" else family
        elif key == "metric":
            metric = int(value)
        elif key == "table":
            table = table_name(value)
    kernel = "proto" in words[:-1] and words[words.index("proto") + 1] == "kernel"
    said = [f for _, f in hops if f is not None]
    if said and dest == "default" and not definite:
        family, definite = said[0], True
    return Route(family, network, prefix, interface, gateway, kind, metric, table,
                 kernel, tuple(h for h, _ in hops), dead="dead" in words), definite


def _gateway_family(words: list[str]) -> tuple[Family, int]:
    """The gateway of `via [inet|inet6] ADDR` (`words` from the one after `via`) and the
    route's family it says: an IPv4 route's gateway may be IPv6 (RFC 5549), and is then
    printed `via inet6 ADDR`. An IPv6 link-local one may carry `%dev`."""
    if words[0] in ("inet", "inet6"):
        return Family.INET, _ip(words[1].split("%")[0])[1]
    return _ip(words[0].split("%")[0])


def _gateway(words: list[str]) -> str:
    """The gateway's text (checked by `_gateway_family`)."""
    _gateway_family(words)
    return " ".join(words[:2]) if words[0] in ("inet", "inet6") else words[0]


def _nexthop(words: list[str]) -> tuple[NextHop, Family | None]:
    """`nexthop [via GW] [dev IF] [weight W] [flags…]`, one path of a multipath route, and
    the family its gateway says."""
    gateway = interface = family = None
    weight = 1
    for index, (key, value) in enumerate(itertools.pairwise(words)):
        if key == "via":
            family = _gateway_family(words[index + 1:])[0]
            gateway = _gateway(words[index + 1:])
        elif key == "dev":
            interface = value
        elif key == "weight":
            weight = int(value)
    return NextHop(gateway, interface, weight, dead="dead" in words), family


def parse_rules(text: str) -> dict[Family, tuple[IpRule, ...]]:
    """The routing rules of `ip rule` / `ip -6 rule` output among a routes file's lines;
    none when it has none (the kernel's default rules then)."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if is_rule_line(line)]
    if not lines:
        return {}
    try:
        return rule_lists(parse_ip_rules(lines))
    except RuleListError as exc:
        raise HostError(str(exc)) from None
