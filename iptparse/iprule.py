"""The routing policy database: `ip rule` output, and what each rule asks of a packet.

The kernel does not look a route up in one table: it walks the rules in priority order, and
each rule whose selector the packet meets says what to do (fib_rules_lookup): look in a table
(a route there decides, unless it is a `throw` or the rule suppresses it; no route there goes
on to the next rule), drop the packet (`blackhole`, `unreachable`, `prohibit`), jump ahead
(`goto`), or nothing (`nop`). Without `ip rule` output the rules are the kernel's defaults:
the local table, then main, then default. Firewalls use the rules through marks: a TPROXY or
Istio setup sends marked packets to a table whose `local default dev lo` route delivers them
to the host, wg-quick sends unmarked ones to its tunnel's table.

What a selector reads is the lookup's flow: on a received packet its input interface and no
output interface (`oif` never matches it); on a local packet `iif lo` and the output
interface its socket is bound to, which no capture shows (an assumption here).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .addresses import format_ip
from .domain import BitSet, IntSet, NameSet
from .logic import FALSE, TRUE, And, Assume, Not, Or, Pred, Test
from .nodes import Family

__all__ = ["DEFAULT_RULES", "IpRule", "ReverseFlow", "RuleListError", "parse_ip_rules",
           "rule_lists", "table_name"]

#: the kernel's numbers of the tables `ip` names (/etc/iproute2/rt_tables)
_TABLE_NAMES = {"255": "local", "254": "main", "253": "default"}
_ACTIONS = ("blackhole", "unreachable", "prohibit", "nop")
#: protocols whose ports a rule's `sport`/`dport` read (the flow dissector's port offsets)
_PORTED = IntSet.values([6, 17, 33, 132, 136], 255)
_PROTOCOLS = {"tcp": 6, "udp": 17, "dccp": 33, "sctp": 132, "udplite": 136, "icmp": 1,
              "ipv6-icmp": 58, "icmpv6": 58, "gre": 47, "esp": 50, "ah": 51}
#: destinations whose reverse lookup has no source address (rpfilter_get_saddr)
_UNSOURCED = (IntSet.prefix(0xE0000000, 4, 32) | IntSet.single(0xFFFFFFFF, 0xFFFFFFFF)
              | IntSet.prefix(0, 8, 32))
#: selectors of state no capture shows: the rule's selection is an assumption
_UNSEEN = ("uidrange", "tos", "dsfield", "dscp", "l3mdev", "tun_id", "realms", "flowlabel",
           "suppress_ifgroup")


class RuleListError(ValueError):
    """A line of `ip rule` output iptparse cannot read."""


def table_name(text: str) -> str:
    """A table as `ip` names it: its number for the tables rt_tables does not name."""
    return _TABLE_NAMES.get(text, text)


@dataclass(frozen=True, slots=True)
class ReverseFlow:
    """The flow of a lookup of the route back to a packet's source (IPv4): from its
    destination (0.0.0.0 for a multicast, broadcast or 0/8 one when `zero_special`, as
    rpfilter takes it) to its source, in by `iif`, no output interface; the packet's mark only
    when `mark`; its protocol and swapped ports only when `ports` (fib_validate_source
    dissects them when a rule reads them), else none."""

    iif: str
    mark: bool
    zero_special: bool = False
    ports: bool = False


@dataclass(frozen=True, slots=True)
class IpRule:
    """One rule of `ip rule` (`PRIORITY: [not] from SRC [to DST] [SELECTORS] ACTION`)."""

    priority: int
    text: str  # as `ip rule` printed it, after the priority
    invert: bool = False
    family: Family | None = None  # of its addresses; None: it names none
    src: tuple[int, int] | None = None  # (network, prefix length)
    dst: tuple[int, int] | None = None
    iif: str | None = None
    oif: str | None = None
    detached: bool = False  # its iif or oif is missing: it matches nothing
    fwmark: tuple[int, int] | None = None  # (value, mask)
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    unseen: tuple[str, ...] = ()
    action: str = "lookup"  # lookup, goto, blackhole, unreachable, prohibit, nop
    table: str | None = None
    goto: int | None = None
    suppress_prefixlength: int | None = None

    def selector(self, family: Family, *, local: bool) -> Pred:
        """What a packet meets to be selected; `local`: the lookup of a local process's
        packet (OUTPUT), else of a received one."""
        parts: list[Pred] = [FALSE] if self.detached else []
        for field, prefix, word in (("src", self.src, "from"), ("dst", self.dst, "to")):
            if prefix is not None:
                values = IntSet.prefix(prefix[0], prefix[1], family.bits)
                shown = f"{format_ip(prefix[0], family)}/{prefix[1]}"
                parts.append(Test(field, values, f"{field} ∈ {shown} (`{word} {shown}')",
                                  f"{field} ∉ {shown} (`{word} {shown}')"))
        if self.iif is not None:
            if local:
                parts.append(TRUE if self.iif == "lo" else FALSE)
            else:
                parts.append(Test("iif", NameSet.single(self.iif)))
        if self.oif is not None:
            parts.append(Assume(f"bound:{self.oif}", "socket-device",
                                f"the sending socket is bound to {self.oif}",
                                f"the sending socket is not bound to {self.oif}")
                         if local else FALSE)
        if self.fwmark is not None:
            # fib_rule_match: (rule mark ^ packet mark) & mask, so the rule's bits outside
            # its mask are ignored (unlike -m mark's)
            value, mask = self.fwmark[0] & self.fwmark[1], self.fwmark[1]
            shown = f"mark = {value:#x}" if mask == 0xFFFFFFFF else (
                f"mark & {mask:#x} = {value:#x}")
            parts.append(Test("mark", BitSet.cube(value, mask, 32), shown))
        if self.ipproto is not None:
            parts.append(Test("proto", IntSet.single(self.ipproto, 255)))
        for field, ports in (("sport", self.sport), ("dport", self.dport)):
            if ports is not None:
                parts.append(_ported(field, ports))
        if self.unseen:
            unseen = " ".join(self.unseen)
            parts.append(Assume(f"rule:{self.priority}", "ip-rule",
                                f"the packet meets `{unseen}' (rule {self.priority})",
                                f"the packet does not meet `{unseen}' (rule {self.priority})"))
        return self._combined(parts)

    def reverse_selector(self, flow: ReverseFlow, unseen: Pred) -> Pred:
        """Whether an IPv4 lookup of the route back to the packet's source meets this rule:
        its flow runs from the packet's destination to its source, in by `flow.iif`, with
        no output interface (`ReverseFlow` says the rest). `unseen`: the assumption for the
        selectors no capture shows."""
        parts: list[Pred] = [FALSE] if self.detached else []
        if self.src is not None:  # the flow's source: the packet's destination
            values = IntSet.prefix(self.src[0], self.src[1], 32)
            if flow.zero_special:
                values = (values - _UNSOURCED) | (_UNSOURCED if 0 in values
                                                  else IntSet.empty(0xFFFFFFFF))
            parts.append(Test("dst", values))
        if self.dst is not None:
            parts.append(Test("src", IntSet.prefix(self.dst[0], self.dst[1], 32)))
        if self.iif is not None:
            parts.append(TRUE if self.iif == flow.iif else FALSE)
        if self.oif is not None:
            parts.append(FALSE)
        if self.ipproto is not None:
            parts.append(Test("proto", IntSet.single(self.ipproto, 255)) if flow.ports
                         else FALSE)
        # the flow's ports are the packet's swapped (its sport is the packet's dport)
        for field, ports in (("dport", self.sport), ("sport", self.dport)):
            if ports is None:
                continue
            parts.append(_ported(field, ports) if flow.ports else TRUE if ports[0] == 0
                         else FALSE)
        if self.fwmark is not None:
            value, mask = self.fwmark[0] & self.fwmark[1], self.fwmark[1]
            if flow.mark:
                parts.append(Test("mark", BitSet.cube(value, mask, 32)))
            else:
                parts.append(TRUE if value == 0 else FALSE)
        if self.unseen:
            parts.append(unseen)
        return self._combined(parts)

    def _combined(self, parts: list[Pred]) -> Pred:
        if FALSE in parts:
            return TRUE if self.invert else FALSE
        kept = tuple(p for p in parts if p is not TRUE)
        selected: Pred = kept[0] if len(kept) == 1 else And(kept) if kept else TRUE
        if self.invert:
            return FALSE if selected is TRUE else Not(selected)
        return selected

    @property
    def label(self) -> str:
        return f"rule {self.priority}: {self.text}"


def _ported(field: str, ports: tuple[int, int]) -> Pred:
    """A rule's port range on the flow's `field`: the packet's port where its protocol has
    ports, else 0 (the flow dissector's)."""
    ported = And((Test("proto", _PORTED), Test(field, IntSet.range(ports[0], ports[1], 0xFFFF))))
    return ported if ports[0] != 0 else Or((ported, Not(Test("proto", _PORTED))))


#: the rules of a host that has none of its own (IPv6 has no `default` table rule)
DEFAULT_RULES = {
    Family.INET: (IpRule(0, "from all lookup local", table="local"),
                  IpRule(32766, "from all lookup main", table="main"),
                  IpRule(32767, "from all lookup default", table="default")),
    Family.INET6: (IpRule(0, "from all lookup local", table="local"),
                   IpRule(32766, "from all lookup main", table="main")),
}

_LINE = re.compile(r"^\s*(\d+):\s+(.*?)\s*$")


def is_rule_line(line: str) -> bool:
    """A line of `ip rule` output (`PRIORITY:` first), not of `ip route`'s."""
    return _LINE.match(line) is not None


def parse_ip_rules(lines: list[tuple[int, str]]) -> list[IpRule]:
    """Rules from numbered lines of `ip rule` / `ip -6 rule` output."""
    out = []
    for number, line in lines:
        try:
            out.append(_rule(line))
        except (ValueError, IndexError, KeyError):
            raise RuleListError(f"line {number}: cannot read a routing rule in "
                                f"`{line.strip()}' (give `ip rule` output)") from None
    return out


def rule_lists(rules: list[IpRule]) -> dict[Family, tuple[IpRule, ...]]:
    """Each family's rules. A file may hold `ip rule` and `ip -6 rule` output one after the
    other: priorities only grow within one, so a smaller one starts the next list. A list
    is of its addresses' family, else IPv4 if it has the kernel's rule for table default
    (IPv6 has none); one still unknown takes the family the other list leaves, and of two
    unknown the first is IPv4 (`ip rule` then `ip -6 rule`). One list alone without
    addresses is both families'."""
    lists: list[list[IpRule]] = []
    for rule in rules:
        if not lists or rule.priority < lists[-1][-1].priority:
            lists.append([])
        lists[-1].append(rule)
    if len(lists) > 2:
        raise RuleListError(f"{len(lists)} rule lists (priorities start again {len(lists) - 1} "
                            "times): give one `ip rule` and at most one `ip -6 rule` output")
    known: list[Family | None] = []
    for listed in lists:
        families = {r.family for r in listed if r.family is not None}
        if len(families) > 1:
            raise RuleListError("one rule list has IPv4 and IPv6 addresses: give `ip rule` "
                                "and `ip -6 rule` output one after the other")
        if not families and len(lists) == 2 and DEFAULT_RULES[Family.INET][-1] in listed:
            families.add(Family.INET)  # the kernel gives only IPv4 a rule for table default
        known.append(families.pop() if families else None)
    if len(lists) == 1:
        only = tuple(lists[0])
        return {known[0]: only} if known[0] is not None else {
            Family.INET: only, Family.INET6: only}
    first, second = known
    if first is None:
        first = Family.INET6 if second is Family.INET else Family.INET
    if second is None or second is first:
        second = Family.INET6 if first is Family.INET else Family.INET
    if first is second:
        raise RuleListError("both rule lists are of one family")
    return {first: tuple(lists[0]), second: tuple(lists[1])}


def _rule(line: str) -> IpRule:
    m = _LINE.match(line)
    if m is None:
        raise ValueError(line)
    priority, text = int(m.group(1)), m.group(2)
    words = text.split()
    fields: dict[str, object] = {"priority": priority, "text": text}
    families: set[Family] = set()
    unseen: list[str] = []
    i = 0
    if words[0] == "not":
        fields["invert"] = True
        i = 1
    while i < len(words):
        key = words[i]
        if i + 1 == len(words) and key not in (*_ACTIONS, "l3mdev"):
            raise ValueError(f"{key} without its value")
        value = words[i + 1] if i + 1 < len(words) else ""
        step = 2
        if key in ("from", "to"):
            if value != "all":
                family, network, length = _prefix(value)
                families.add(family)
                fields["src" if key == "from" else "dst"] = (network, length)
        elif key in ("iif", "oif"):
            fields[key] = value
            if words[i + 2: i + 3] == ["[detached]"]:
                fields["detached"] = True
                step = 3
        elif key == "fwmark":
            mark, _, mask = value.partition("/")
            fields["fwmark"] = (int(mark, 0), int(mask, 0) if mask else 0xFFFFFFFF)
        elif key == "ipproto":
            fields["ipproto"] = _PROTOCOLS[value] if value in _PROTOCOLS else int(value, 0)
        elif key in ("sport", "dport"):
            lo, _, hi = value.partition("-")
            fields[key] = (int(lo), int(hi or lo))
        elif key in ("lookup", "table"):
            fields["table"] = table_name(value)
        elif key == "goto":
            fields["action"], fields["goto"] = "goto", int(value)
            if words[i + 2: i + 3] == ["[unresolved]"]:  # no rule has that priority (yet)
                step = 3
        elif key == "suppress_prefixlength":
            fields["suppress_prefixlength"] = int(value)
        elif key in _ACTIONS:
            fields["action"] = key
            step = 1
        elif key in ("proto", "pref", "priority", "preference"):
            pass  # who made the rule, or its priority again: nothing a packet meets
        elif key in _UNSEEN:
            if key == "l3mdev":
                step = 1
                unseen.append(key)
            else:
                unseen.append(f"{key} {value}")
        else:
            raise ValueError(key)
        i += step
    if fields.get("action", "lookup") == "lookup" and "table" not in fields:
        raise ValueError("no action")
    if len(families) > 1:
        raise ValueError("two families")
    fields["family"] = families.pop() if families else None
    fields["unseen"] = tuple(unseen)
    return IpRule(**fields)  # type: ignore[arg-type]


def _prefix(text: str) -> tuple[Family, int, int]:
    network = ipaddress.ip_network(text, strict=False)
    family = Family.INET if network.version == 4 else Family.INET6
    return family, int(network.network_address), network.prefixlen
