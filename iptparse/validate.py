"""What routing checks of a received packet besides its route, by the host's sysctls: that
its input interface forwards, and that an IPv4 one's source is valid (fib_validate_source).

fib_validate_source, for a packet delivered locally (the reverse flow in by lo) or forwarded
(in by the output interface): with rp_filter 0 and no hairpin redirect to send, accept_local
passes everything and otherwise only a source that is one of the host's addresses fails,
unless the host has routing rules or local routes of its own, which take the full check. The
full check looks the route back to the source up (`reverse`): a failed lookup passes only
under rp_filter 0; a local route fails without accept_local, any other kind but unicast
fails; a route through the input interface passes; else an interface without addresses passes
only under rp_filter 0, and rp_filter 1 fails where 0 and 2 pass.
"""

from __future__ import annotations

from functools import lru_cache

from .domain import IntSet, NameSet
from .extensions._pred import conj, disj, neg
from .host import Host
from .iprule import DEFAULT_RULES, IpRule, ReverseFlow
from .logic import TRUE, Assume, Not, Pred, Test
from .nodes import Family
from .reverse import reverse_lookup
from .sysctl import Conf, Sysctls

__all__ = ["forwards", "forwards6", "localnet", "source_valid"]


@lru_cache(maxsize=256)  # the same for every routing decision on one host
def forwards(sysctls: Sysctls) -> Pred:
    """The input interface forwards (its `forwarding`; ip_forward is `all`'s)."""
    return _where(sysctls, "iif", "forwarding", "the input interface forwards (sysctl "
                  "forwarding)", "the input interface does not forward (sysctl forwarding)")


@lru_cache(maxsize=256)
def localnet(sysctls: Sysctls, field: str) -> Pred:
    """The interface in `field` (iif, oif) has route_localnet: loopback addresses may be
    routed to and from it."""
    return _where(sysctls, field, "route_localnet", f"{field} has route_localnet (sysctl)",
                  f"{field} has no route_localnet (sysctl)")


def _where(sysctls: Sysctls, field: str, setting: str, on: str, off: str) -> Pred:
    """The interfaces in `field` whose `setting` is on: the named ones, or all but the named
    ones that have it off when an interface the file does not name has it."""
    named = sorted(sysctls.interfaces)
    having = [n for n in named if getattr(sysctls.conf(n), setting)]
    if getattr(sysctls.conf(None), setting):
        return Not(Test(field, NameSet.exactly(*(n for n in named if n not in having)), off, on))
    return Test(field, NameSet.exactly(*having), on, off)


@lru_cache(maxsize=256)
def forwards6(sysctls: Sysctls) -> Pred:
    """IPv6 forwards what came in by the input interface (ip6_forward)."""
    on, off = ("IPv6 forwards on the input interface (sysctl forwarding)",
               "IPv6 does not forward on the input interface (sysctl forwarding)")
    named = sorted(sysctls.ipv6_interfaces)
    having = [n for n in named if sysctls.ipv6_forwards(n)]
    if sysctls.ipv6_forwards(None):
        return Not(Test("iif", NameSet.exactly(*(n for n in named if n not in having)), off, on))
    return Test("iif", NameSet.exactly(*having), on, off)


def source_valid(host: Host, sysctls: Sysctls, oif: str | None, iif: NameSet) -> Pred:
    """The packets whose source passes fib_validate_source, for the output interface `oif`
    (None: delivered locally), among those in by an interface of `iif`. Interfaces that no
    route names and whose settings agree are judged alike, so are one clause."""
    routed = host.route_devices | ({oif} if oif is not None else set())
    named = sorted(sysctls.interfaces | routed)
    single = iif.single_value()
    if isinstance(single, str):  # a known input interface: its own judgement alone
        return _passes(host, sysctls, single if single in named else None, oif)
    groups: dict[tuple[object, ...], list[str | None]] = {}
    for device in [*named, None]:
        if device is not None and device not in iif:
            continue
        key: tuple[object, ...] = (device if device in routed else "",
                                   sysctls.conf(device), _without_address(host, device))
        groups.setdefault(key, []).append(device)
    parts = []
    for members in groups.values():
        names = [m for m in members if m is not None]
        among: Pred = Test("iif", NameSet.exactly(*names))
        if None in members:  # with every interface the capture does not name
            among = Not(Test("iif", NameSet.exactly(*(n for n in named if n not in names))))
        parts.append(conj(among, _passes(host, sysctls, members[0], oif)))
    return disj(*parts)


@lru_cache(maxsize=4096)  # a host's routing decisions ask the same few again and again
def _passes(host: Host, sysctls: Sysctls, device: str | None, oif: str | None) -> Pred:
    """`device`: the input interface (None: one the capture does not name)."""
    conf = sysctls.conf(device)
    rpf = conf.rp_filter
    hairpin = oif is not None and device == oif and conf.send_redirects
    if rpf == 0 and not hairpin:
        if conf.accept_local:
            return TRUE
        if not _custom(host):
            own = IntSet.values([a.address for a in host.addresses if a.family is Family.INET],
                                0xFFFFFFFF)
            return neg(Test("src", own, "src is an address of this host",
                            "src is not an address of this host"))
    flow = ReverseFlow(oif or "lo", mark=bool(conf.src_valid_mark),
                       ports=any(r.ipproto is not None or r.sport or r.dport
                                 for r in host.rules_for(Family.INET)))
    passing = []
    for reached in reverse_lookup(host, flow, _unseen):
        if reached.kind == "unknown":  # the routes were not captured
            passing.append(reached.where if rpf == 0 else conj(
                reached.where, _UNCAPTURED[1 if rpf == 1 else 2]))
        elif _judged(reached.kind, reached.devices, device, conf,
                     _without_address(host, device)):
            passing.append(reached.where)
    return disj(*passing)


#: rp_filter's check of a route back no capture shows, strict and loose
_UNCAPTURED = {
    1: Assume("validate-route-back", "rp-filter",
              "the route back to src goes out by iif (rp_filter 1; no routes given)",
              "the route back to src does not go out by iif (rp_filter 1; no routes given)"),
    2: Assume("validate-route-back-loose", "rp-filter",
              "the host has a route back to src (rp_filter 2; no routes given)",
              "the host has no route back to src (rp_filter 2; no routes given)"),
}


def _judged(kind: str, through: tuple[str, ...], device: str | None, conf: Conf,
            no_address: bool) -> bool:
    rpf = conf.rp_filter
    if kind == "error":
        return rpf == 0  # last_resort
    if kind not in ("unicast", "local") or (kind == "local" and not conf.accept_local):
        return False
    if through and (device in through or (kind == "local" and device == "lo")):
        return True
    if no_address:
        return rpf == 0
    return rpf != 1


def _without_address(host: Host, device: str | None) -> bool:
    """The input interface has no IPv4 address; without `ip addr` output every interface is
    taken to have one."""
    if not any(a.family is Family.INET for a in host.addresses):
        return False
    return not any(a.interface == device and a.family is Family.INET for a in host.addresses)


def _custom(host: Host) -> bool:
    """Routing rules or local routes a user added (fib4_has_custom_rules,
    fib_has_custom_local_routes): the kernel then checks every source in full."""
    return host.rules_for(Family.INET) != DEFAULT_RULES[Family.INET] or any(
        r.kind == "local" and not r.kernel and r.family is Family.INET for r in host.routes)


def _unseen(rule: IpRule) -> Pred:
    shown = " ".join(rule.unseen)
    return Assume(f"validate-rule-{rule.priority}", "ip-rule",
                  f"the route back to src meets rule {rule.priority}'s `{shown}'",
                  f"the route back to src does not meet rule {rule.priority}'s `{shown}'")
