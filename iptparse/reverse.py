"""The route back to a packet's source, through the host's routing rules (IPv4).

Two checks of the kernel look it up: `-m rpfilter` (ipt_rpfilter.c) and the source validation
of routing on receipt (fib_validate_source, under the rp_filter and accept_local sysctls). Each
asks which route the rules and tables give for a flow from the packet's destination to its
source (`iprule.ReverseFlow`), and judges it by its kind and device. The answer is a list of
regions of packets (predicates on the packet's fields) with the route each region meets, so
the checks can be predicates too, split by the interpreter like any match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .domain import IntSet
from .extensions._c_addr import ANYCAST, BROADCAST, LOCAL, local_table
from .extensions._pred import conj, disj, neg
from .host import Host
from .iprule import IpRule, ReverseFlow
from .logic import FALSE, TRUE, Pred, Test
from .nodes import Family

__all__ = ["Reached", "reverse_lookup"]

#: a table's route as the lookup meets it: its addresses, kind, devices, prefix length, and
#: how a condition names it
_Route = tuple[IntSet, str, tuple[str, ...], int, str]
#: a route kind the lookup fails on (fib_table_lookup's errors): the lookup ends there
_FAILING = ("blackhole", "unreachable", "prohibit")


@dataclass(frozen=True, slots=True)
class Reached:
    """The packets (`where`) whose reverse lookup ends at a route of `kind` through
    `devices` (a multipath route's nexthops' all; none: the route names none); kind "error"
    is a failed lookup (no route, a blackhole, unreachable or prohibit rule or route), kind
    "unknown" a route of the main table no capture shows (the host's routes not given)."""

    where: Pred
    kind: str
    devices: tuple[str, ...]


def reverse_lookup(host: Host, flow: ReverseFlow,
                   assume: Callable[[IpRule], Pred]) -> list[Reached]:
    """Where the rules lead each packet's reverse lookup (fib_rules_lookup, as
    `Host._lookup` walks it forward). `assume(rule)`: the assumption for a rule's selectors
    no capture shows. The lookup reaches a rule when every earlier one let it pass: not
    selected, or its table had no route for the source, a `throw` one, or one the rule
    suppresses."""
    local_kinds = {LOCAL: "local", BROADCAST: "broadcast", ANYCAST: "anycast"}
    rules = host.rules_for(Family.INET)
    reach: list[Pred] = [FALSE] * (len(rules) + 1)
    reach[0] = TRUE
    out: list[Reached] = []
    for index, rule in enumerate(rules):
        here = reach[index]
        if here is FALSE:
            continue
        selected = rule.reverse_selector(flow, assume(rule) if rule.unseen else TRUE)
        onward: Pred = FALSE
        if rule.action == "nop":
            onward = selected
        elif rule.action == "goto":
            target = next((i for i, r in enumerate(rules) if r.priority == rule.goto
                           and i > index), index + 1)
            if target == index + 1:
                onward = selected
            else:
                reach[target] = disj(reach[target], conj(here, selected))
        elif rule.action != "lookup":
            out.append(Reached(conj(here, selected), "error", ()))
        else:
            assert rule.table is not None
            routes: list[_Route]
            if rule.table == "local":
                routes = [(e.addresses, local_kinds[e.kind], (e.device,) if e.device else (), 32,
                           f"a {local_kinds[e.kind]} address of this host")
                          for e in local_table(host, Family.INET)]
            else:
                routes = [(r.addresses(), r.kind, r.devices(), r.prefix, f"routed by `{r.text()}'")
                          for r in host.routes_for(Family.INET, rule.table)]
            left = _table(rule, routes, conj(here, selected), out,
                          uncaptured=rule.table == "main"
                          and not host.routes_known_for(Family.INET))
            if not left.is_empty:
                onward = conj(selected, Test("src", left, f"src has no route in table "
                                             f"{rule.table} that decides (rule "
                                             f"{rule.priority})"))
        reach[index + 1] = disj(reach[index + 1], conj(here, disj(neg(selected), onward)))
    out.append(Reached(reach[len(rules)], "error", ()))
    return [r for r in out if r.where is not FALSE]


def _table(rule: IpRule, routes: list[_Route], here: Pred, out: list[Reached], *,
           uncaptured: bool) -> IntSet:
    """One rule's table: the regions it decides go to `out`; the sources it leaves to the
    next rule are returned. `uncaptured`: the table has routes besides `routes`, unknown, for
    every source those leave."""
    remaining = IntSet.all(0xFFFFFFFF)
    left = IntSet.empty(0xFFFFFFFF)
    suppress = rule.suppress_prefixlength
    for addresses, kind, devices, prefix, shown in routes:
        won = addresses & remaining
        if won.is_empty:
            continue
        remaining = remaining - won
        if kind == "throw" or (suppress is not None and prefix <= suppress
                               and kind not in _FAILING):
            left = left | won
            continue
        where = conj(here, Test("src", won, f"src is {shown}", f"src is not {shown}"))
        out.append(Reached(where, "error" if kind in _FAILING else kind, devices))
    if uncaptured and not remaining.is_empty:
        out.append(Reached(conj(here, Test("src", remaining, "src has no route captured",
                                           "src has a route captured")), "unknown", ()))
        remaining = IntSet.empty(0xFFFFFFFF)
    return left | remaining
