"""A node's captured state (rules of both families, ipsets, host context), compiled lazily.

Each rule compiles once, on first visit, into its conditions in the kernel's evaluation order
(the IP header part, then each match in order) and its action; a trace through a dump of 85,000
rules only pays for the chains it enters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import Any

from .construct import slot_constructor
from .domain import IntSet, NameSet
from .extensions.base import find_match, find_target
from .extensions.ct import CtTarget
from .logic import Not, Pred, Test
from .nodes import (
    BUILTIN_CHAINS,
    Address,
    Dump,
    Family,
    Match,
    Protocol,
    RawOptions,
    Rule,
    Table,
    Target,
)
from .render import render_rule, render_rule_spec
from .semantics import CompileContext, Effect

__all__ = [
    "Action",
    "CompiledChain",
    "CompiledRule",
    "Condition",
    "Goto",
    "Jump",
    "Return",
    "RuleRef",
    "Ruleset",
    "destination_test",
]


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of a rule: its predicate and how it reads in the dump.

    The text is rendered when first read, not when the rule compiles: a batch over a big
    node compiles thousands of rules whose text nobody reads (a fifth of a first visit).
    """

    pred: Pred
    #: the text; or the match, or ("src" | "dst" | "proto", rule), it is rendered from
    written: str | Match | tuple[str, Rule]
    module: str  # "ip" for -s/-d/-i/-o/-p/-f, else the match module
    family: Family
    _text: str | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def source(self) -> str:
        written = self.written
        if isinstance(written, str):
            return written
        if self._text is None:  # a cache on a frozen node: set once, through object
            if isinstance(written, Match):
                part = Rule("", matches=(written,))
            else:
                part = _ip_part(*written)
            object.__setattr__(self, "_text", render_rule_spec(part, self.family).strip())
        assert self._text is not None
        return self._text


def _ip_part(name: str, rule: Rule) -> Rule:
    """The rule with only one field of its IP part, to print that field as iptables does."""
    if name == "src":
        return Rule("", src=rule.src, src_invert=rule.src_invert)
    if name == "dst":
        return Rule("", dst=rule.dst, dst_invert=rule.dst_invert)
    return Rule("", protocol=rule.protocol)


@dataclass(frozen=True, slots=True)
class Jump:
    chain: str


@dataclass(frozen=True, slots=True)
class Goto:
    chain: str


@dataclass(frozen=True, slots=True)
class Return:
    pass


Action = Jump | Goto | Return | Effect | None


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule by its place, as the hits of a path name the rules it matched."""

    table: str
    chain: str
    rule: int


@dataclass(frozen=True, slots=True)
class CompiledRule:
    table: str
    chain: str
    number: int  # 1-based, as iptables -L --line-numbers counts
    rule: Rule
    conditions: tuple[Condition, ...]
    action: Action
    family: Family
    #: the rule's place, made once: every path that matches the rule lists it, and a batch
    #: keeps thousands of such paths (one object per rule, not one per path)
    ref: RuleRef = field(init=False, compare=False, repr=False)
    _text: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", RuleRef(self.table, self.chain, self.number))

    @property
    def text(self) -> str:
        """The rule as iptables-save prints it (rendered when first read, as conditions are)."""
        if self._text is None:
            object.__setattr__(self, "_text", render_rule(self.rule, self.family))
        assert self._text is not None
        return self._text

    @property
    def line(self) -> int | None:
        return self.rule.span.line if self.rule.span else None


#: built without `__init__` (`construct.slot_constructor`): a trace that meets new services
#: compiles their rules as it goes, and these objects were a third of a rule's compiling
_make_condition = slot_constructor(Condition)
_make_compiled = slot_constructor(CompiledRule)
_make_ref = slot_constructor(RuleRef)
_make_context = slot_constructor(CompileContext)


@dataclass
class CompiledChain:
    name: str
    policy: str | None
    table: str
    rules: tuple[Rule, ...]
    compiled: list[CompiledRule | None] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        return self.policy is not None


def destination_test(rule: Rule) -> Test | None:
    """The test of the rule's `-d` when it is not inverted: a conjunct of its conditions
    (`_ip_conditions` makes the same), for indexes that read it before compiling."""
    if rule.dst is None or rule.dst_invert:
        return None
    test = _address_test("dst", rule.dst, False)
    assert isinstance(test, Test)
    return test


def _address_test(name: str, address: Address, invert: bool) -> Pred:
    bits = address.family.bits
    length = address.prefix_length
    if length is not None:
        values = IntSet.prefix(address.address, length, bits)
    else:
        values = IntSet.masked(address.address, address.mask, bits)
    test = Test(name, values)
    return Not(test) if invert else test


@lru_cache(maxsize=1024)
def _protocol_condition(number: int, invert: bool, spelling: str | None,
                        family: Family) -> Condition:
    """`-p`'s condition, one per way of writing it, for all the rules that have it: nothing
    in it is the rule's own (the text is the protocol's, spelling included)."""
    test: Pred = Test("proto", IntSet.single(number, 255))
    written = ("proto", Rule("", protocol=Protocol(number, invert, spelling)))
    return Condition(Not(test) if invert else test, written, "ip", family)


def _ip_conditions(rule: Rule, family: Family) -> list[Condition]:
    """The entry's IP part, in the order ip_packet_match() checks it."""
    out: list[Condition] = []
    if rule.src is not None:
        out.append(_make_condition(_address_test("src", rule.src, rule.src_invert),
                                   ("src", rule), "ip", family, None))
    if rule.dst is not None:
        out.append(_make_condition(_address_test("dst", rule.dst, rule.dst_invert),
                                   ("dst", rule), "ip", family, None))
    for name, iface, flag in (("iif", rule.in_interface, "-i"), ("oif", rule.out_interface, "-o")):
        if iface is not None:
            test: Pred = Test(name, NameSet.of(iface.name))
            out.append(Condition(Not(test) if iface.invert else test,
                                 f"{'! ' if iface.invert else ''}{flag} {iface.name}", "ip",
                                 family))
    if rule.protocol is not None:
        proto = rule.protocol
        out.append(_protocol_condition(proto.number, proto.invert, proto.spelling, family))
    if rule.fragment is not None:
        out.append(Condition(Test("fragment", IntSet.single(1 if rule.fragment else 0, 1)),
                             "-f" if rule.fragment else "! -f", "ip", family))
    return out


def _match_condition(match: Match, ctx: CompileContext, family: Family) -> Condition:
    if not isinstance(match.options, RawOptions):
        ext = find_match(match.module)
        pred = ext.predicate(match.options, ctx) if ext is not None else None
        if pred is not None:
            return _make_condition(pred, match, match.module, family, None)
    source = render_rule_spec(Rule("", matches=(match,)), family).strip()
    pred = ctx.assume(f"match:{match.module}", f"{source} holds", f"{source} does not hold")
    return Condition(pred, source, match.module, family)


STANDARD_VERDICTS = {"ACCEPT": "ACCEPT", "DROP": "DROP", "QUEUE": "QUEUE"}
#: the actions of the standard targets, shared by every rule that has one (immutable)
_VERDICT_EFFECTS = {name: Effect(verdict=verdict) for name, verdict in STANDARD_VERDICTS.items()}
_RETURN = Return()

#: Extensions whose kernel modules enable connection tracking in the network namespace when a
#: rule using them is loaded (their checkentry calls nf_ct_netns_get). CT does unless it is
#: `--notrack`, and NOTRACK (its other name) never does: a nat table beside those alone sees
#: no packet (`asks_for_conntrack`; checked in the kernel lab).
CONNTRACK_MATCHES = frozenset({"state", "conntrack", "connmark", "connbytes", "connlabel",
                               "connlimit", "helper", "cluster"})
CONNTRACK_TARGETS = frozenset({"CONNMARK", "CT", "DNAT", "SNAT", "MASQUERADE", "REDIRECT",
                               "NETMAP", "CONNSECMARK", "SYNPROXY", "CLUSTERIP"})


def asks_for_conntrack(target: Target) -> bool:
    """Whether loading a rule with this target enables connection tracking."""
    if target.name == "CT" and isinstance(target.options, CtTarget):
        return not target.options.notrack
    return target.name in CONNTRACK_TARGETS


def _action(target: Target | None, ctx: CompileContext, chains: Mapping[str, Any]) -> Action:
    if target is None:
        return None
    if target.goto:
        return Goto(target.name)
    if target.name == "RETURN":
        return _RETURN
    if target.name in STANDARD_VERDICTS and target.options is None:
        return _VERDICT_EFFECTS[target.name]
    if target.options is None and target.name in chains:
        return Jump(target.name)
    if target.options is not None and not isinstance(target.options, RawOptions):
        ext = find_target(target.name)
        if ext is not None:
            effect = ext.effect(target.options, ctx)
            if effect is not None:
                assert isinstance(effect, Effect)
                return effect
    return Effect(verdict="UNKNOWN", note=f"target {target.name} is not modelled by iptparse")


class CompiledTable:
    """One table's chains, each compiled rule by rule on first use."""

    def __init__(self, table: Table, family: Family, sets: Mapping[str, Any],
                 host: Any, implied_builtins: bool = True) -> None:
        self.name = table.name
        self.family = family
        self.sets = sets
        self.host = host
        self.chains: dict[str, CompiledChain] = {
            c.name: CompiledChain(c.name, c.policy, table.name, c.rules, [None] * len(c.rules))
            for c in table.chains
        }
        # a dump from an old kernel may lack a builtin chain (nat INPUT before 2.6.36); loaded
        # by iptables-legacy-restore into today's kernel the chain exists, empty, with policy
        # ACCEPT (iptables-nft-restore makes only the base chains the text names)
        for name in BUILTIN_CHAINS.get(table.name, ()) if implied_builtins else ():
            self.chains.setdefault(name, CompiledChain(name, "ACCEPT", table.name, (), []))
        self._hooks: dict[str, frozenset[str]] | None = None

    def hooks(self, chain: str) -> frozenset[str]:
        """The builtin chains (hooks) from which `chain` can be reached by -j/-g: what a
        target like NETMAP needs to know where it runs, as the kernel checks at load time."""
        if self._hooks is None:
            edges: dict[str, set[str]] = {name: set() for name in self.chains}
            for name, compiled in self.chains.items():
                for rule in compiled.rules:
                    target = rule.target
                    if (target is not None and target.options is None
                            and target.name in self.chains and target.name != name):
                        edges[name].add(target.name)
            reach: dict[str, set[str]] = {name: set() for name in self.chains}
            for hook in (n for n, c in self.chains.items() if c.builtin):
                stack, seen = [hook], {hook}
                while stack:
                    current = stack.pop()
                    reach[current].add(hook)
                    for nxt in edges[current] - seen:
                        seen.add(nxt)
                        stack.append(nxt)
            self._hooks = {name: frozenset(hooks) for name, hooks in reach.items()}
        return self._hooks.get(chain, frozenset())

    def chain(self, name: str) -> CompiledChain | None:
        return self.chains.get(name)

    def rule(self, chain: CompiledChain, index: int) -> CompiledRule:
        compiled = chain.compiled[index]
        if compiled is None:
            compiled = self._compile(chain, index)
            chain.compiled[index] = compiled
        return compiled

    def compile_with(self, chain: CompiledChain, index: int, sets: Mapping[str, Any]
                     ) -> CompiledRule:
        """The rule compiled against other ipsets (not kept): the sets a path sees after
        SET --add-set / --del-set changed some. Its action is the first compile's unless it
        looks into a set (SET --map-set): the walk then reports the very same action whether
        or not it compiled the rule again."""
        target = chain.rules[index].target
        maps = target is not None and target.name == "SET" and getattr(
            target.options, "map", None) is not None
        return self._compile(chain, index, sets, None if maps else self.rule(chain, index))

    def _compile(self, chain: CompiledChain, index: int,
                 sets: Mapping[str, Any] | None = None,
                 action_of: CompiledRule | None = None) -> CompiledRule:
        """The rule compiled, its action taken from `action_of` when given."""
        rule = chain.rules[index]
        ctx = _make_context(self.family, self.name, chain.name, index + 1,
                            self.sets if sets is None else sets, self.host,
                            partial(self.hooks, chain.name), 1)
        conditions = _ip_conditions(rule, self.family)
        seen: dict[str, int] = {}
        for match in rule.matches:
            # a module's second match in the rule names its assumptions apart (`occurrence`)
            count = seen[match.module] = seen.get(match.module, 0) + 1
            conditions.append(_match_condition(
                match, ctx if count == 1 else replace(ctx, occurrence=count), self.family))
        action = action_of.action if action_of is not None else _action(rule.target, ctx,
                                                                       self.chains)
        number = index + 1
        return _make_compiled(self.name, chain.name, number, rule, tuple(conditions), action,
                              self.family, _make_ref(self.name, chain.name, number), None)


class Ruleset:
    """Everything captured from one node: rule dumps per family, ipsets, host context.

    Dumps of one family are read as one, in the order given (a capture per table,
    `iptables-save -t nat`): a table given again replaces the earlier one, as when the files
    go through iptables-restore one after the other.

    A builtin chain a table leaves out (dumps of kernels before 2.6.36 have no nat INPUT)
    exists, empty, with policy ACCEPT, as iptables-legacy-restore makes it; with
    `implied_builtins=False` it does not, as iptables-nft-restore loads such a table (the
    verdicts are the same; the policies a packet meets, and their counters, are not)."""

    def __init__(self, dumps: Iterable[Dump] = (), *, sets: Mapping[str, Any] | None = None,
                 host: Any = None, implied_builtins: bool = True) -> None:
        self.dumps: dict[Family, Dump] = {}
        for dump in dumps:
            earlier = self.dumps.get(dump.family)
            self.dumps[dump.family] = dump if earlier is None else replace(
                dump, items=earlier.items + dump.items)
        self.sets: Mapping[str, Any] = sets or {}
        self.host = host
        self.implied_builtins = implied_builtins
        self._tables: dict[tuple[Family, str], CompiledTable | None] = {}
        self._conntrack: dict[Family, bool] = {}
        #: what the layers above keep per ruleset (the concrete memo), by their own key: held
        #: here, it lives and dies with the ruleset. A module's weak-keyed map cannot hold a
        #: value that refers back to its ruleset: the value would keep its key alive for ever.
        self.caches: dict[str, Any] = {}

    @property
    def families(self) -> tuple[Family, ...]:
        return tuple(self.dumps)

    def conntrack_active(self, family: Family) -> bool:
        """Whether the kernel tracks connections for this family: only when some rule needs
        it (a state, conntrack, connmark… match, or a CONNMARK, NAT or CT target but
        `--notrack` asks for it at load time). Without it nothing is tracked and the nat
        tables never see a packet."""
        if family not in self._conntrack:
            dump = self.dumps.get(family)
            # the tables in force: a table given again replaced the earlier (and its needs)
            tables = {t.name: t for t in dump.tables}.values() if dump is not None else ()
            self._conntrack[family] = any(
                m.module in CONNTRACK_MATCHES for t in tables for c in t.chains
                for r in c.rules for m in r.matches) or any(
                r.target is not None and asks_for_conntrack(r.target)
                for t in tables for c in t.chains for r in c.rules)
        return self._conntrack[family]

    def table(self, family: Family, name: str) -> CompiledTable | None:
        key = (family, name)
        if key not in self._tables:
            dump = self.dumps.get(family)
            found = None
            if dump is not None:
                # the last *table block wins, as with iptables-restore
                for table in dump.tables:
                    if table.name == name:
                        found = table
            self._tables[key] = (
                CompiledTable(found, family, self.sets, self.host, self.implied_builtins)
                if found else None
            )
        return self._tables[key]
