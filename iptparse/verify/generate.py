"""Random rulesets the kernel accepts, for differential tests against the kernel.

Rules are drawn over a small universe of addresses, ports, marks and interface names so that
they overlap and a packet meets several of them: -s/-d prefixes (some negated), -i/-o names and
wildcards, -p, and matches and targets `vocabulary` writes — each used only when its typed
extension is registered (checked at run time, so the generator grows as extensions land), and
with `modelled_only` only when the compiled rule has semantics (no assumption on a match
without semantics, no UNKNOWN target). User chains hang under one hook each and jump or go to
later chains only, so the graph is acyclic and every target sits in a hook the kernel allows
it in. nat chains end in ACCEPT policies and take DNAT/REDIRECT before routing, SNAT and
MASQUERADE after; filter may REJECT. A rule now and then names a module twice (the kernel
evaluates each match on its own). ipsets of several types are generated with the rules, a
hash:net often with a nomatch hole in one of its members.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..extensions.base import find_match, find_target
from ..host import Host
from ..ipset import parse_ipset
from ..nodes import Family
from ..parser import parse_iptables
from ..ruleset import Ruleset
from ..semantics import Effect
from .compare import unmodelled
from .vocabulary import (
    HOOKS,
    IFACES,
    MATCHES,
    NO_IN,
    NO_OUT,
    SCTP,
    STATEFUL_MATCHES,
    TARGETS,
    TCP,
    UDP,
    ChainPlan,
    RuleCtx,
    Words,
)

__all__ = ["HOOKS", "MATCHES", "STATEFUL_MATCHES", "GeneratedRuleset", "generate_ruleset",
           "unmodelled_rules"]


@dataclass(frozen=True)
class GeneratedRuleset:
    """iptables-restore input and ipset restore input ("" without sets)."""

    family: Family
    rules: str
    ipsets: str
    seed: int


#: Matches only packets of the router's own meet (the out path's rulesets use them)
OUT_MATCHES = frozenset({"owner"})


def _available_matches(family: Family, stateless: bool, exclude: frozenset[str],
                       output_chains: bool) -> list[str]:
    names = []
    for name in MATCHES:
        ext = find_match(name)
        if name in exclude or (name in OUT_MATCHES and not output_chains):
            continue
        if ext is None or family not in ext.families:
            continue
        if (name == "icmp") != (family is Family.INET) and name in ("icmp", "icmp6"):
            continue
        if stateless and name in STATEFUL_MATCHES:
            continue
        names.append(name)
    return names


def _available_targets(family: Family, exclude: frozenset[str]) -> list[str]:
    return [name for name in TARGETS if name not in exclude
            and (ext := find_target(name)) is not None and family in ext.families]


class _Builder:
    """Chains and rules of one ruleset (see the module docstring)."""

    def __init__(self, gen: Words, matches: list[str], targets: list[str], size: int,
                 output_chains: bool = False) -> None:
        self.gen = gen
        self.output_chains = output_chains
        self.rng = gen.rng
        self.matches = matches
        self.targets = targets
        self.size = size
        self.chains: dict[str, list[ChainPlan]] = {}
        self.policies: dict[tuple[str, str], str] = {}

    def plan(self) -> None:
        rng = self.rng
        number = 0
        for table in self.gen.tables:
            chains: list[ChainPlan] = []
            for hook in HOOKS[table]:
                chains.append(ChainPlan(table, hook, hook, True))
                # mostly ACCEPT, so that packets get past the early tables to the rest
                accept = 0.7 if table == "filter" else 0.85
                policy = "ACCEPT" if table == "nat" or rng.random() < accept else "DROP"
                self.policies[table, hook] = policy
                for _ in range(rng.choice((0, 0, 1, 1, 2))
                               if hook != "OUTPUT" or self.output_chains else 0):
                    number += 1
                    chains.append(ChainPlan(table, f"{table[:2]}{hook[:3].lower()}-{number}", hook,
                                         False))
            self.chains[table] = chains

    def protocol(self) -> tuple[str, int | None]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.4:
            return "", None
        icmp = ("icmp", 1) if self.gen.v4 else ("ipv6-icmp", 58)
        name, number = rng.choice((("tcp", TCP), ("tcp", TCP), ("udp", UDP), icmp, icmp,
                                   ("sctp", SCTP)))
        if roll > 0.93:
            return f"! -p {name}", None
        return f"-p {name}", number

    def rule(self, chain: ChainPlan, later: tuple[ChainPlan, ...]) -> str:
        gen, rng = self.gen, self.rng
        words: list[str] = []
        if rng.random() < 0.3:
            words.append(f"{gen.neg()}-s {gen.prefix()}")
        if rng.random() < 0.3:
            words.append(f"{gen.neg()}-d {gen.prefix()}")
        if chain.hook not in NO_IN and rng.random() < 0.3:
            words.append(f"{gen.neg(0.15)}-i {rng.choice(IFACES)}")
        if chain.hook not in NO_OUT and rng.random() < 0.3:
            words.append(f"{gen.neg(0.15)}-o {rng.choice(IFACES)}")
        proto_text, proto = self.protocol()
        if proto_text:
            words.append(proto_text)
        ctx = RuleCtx(chain.table, chain, proto, later)
        names = rng.sample(self.matches, min(len(self.matches), rng.randrange(0, 4)))
        if names and rng.random() < 0.1:
            # a module twice: the kernel evaluates each match on its own (two draws, two
            # recent lists), and so must the model; not past a module that shares an option
            # with it, which getopt would give it to (`-m mark -m connmark -m mark --mark`)
            again = rng.choice(names)
            if not any(_share_options(again, other) for other in names if other != again):
                names.append(again)
        for name in names:
            text = MATCHES[name](gen, ctx)
            if text is not None:
                words.append(text)
        target = self.target(ctx)
        if target:
            words.append(target)
        return " ".join(words)

    def target(self, c: RuleCtx) -> str:
        rng = self.rng
        roll = rng.random()
        if c.later and roll < 0.3:
            callee = rng.choice(c.later)
            return f"-{'g' if rng.random() < 0.25 else 'j'} {callee.name}"
        if roll < 0.45:
            usable = [n for n in self.targets if c.table in TARGETS[n][1]
                      and c.chain.hook in (TARGETS[n][2] or (c.chain.hook,))]
            text = TARGETS[rng.choice(usable)][0](self.gen, c) if usable else None
            if text is not None:
                return text
        if roll < 0.55 and not c.chain.builtin:
            return "-j RETURN"
        if roll < 0.75:
            return "" if c.table == "nat" else rng.choice(("-j ACCEPT", "-j DROP"))
        return "" if rng.random() < 0.5 else "-j ACCEPT"

    def later(self, chain: ChainPlan) -> tuple[ChainPlan, ...]:
        """User chains `chain` may jump to: those of its hook declared after it."""
        same_hook = [c for c in self.chains[chain.table] if c.hook == chain.hook
                     and not c.builtin]
        if chain.builtin:
            return tuple(same_hook)
        return tuple(same_hook[same_hook.index(chain) + 1:])

    def build(self) -> None:
        self.plan()
        all_chains = [c for chains in self.chains.values() for c in chains]
        for _ in range(self.size):
            chain = self.rng.choice(all_chains)
            chain.rules.append(self.rule(chain, self.later(chain)))

    def text(self) -> str:
        out: list[str] = []
        for table, chains in self.chains.items():
            out.append(f"*{table}\n")
            for c in chains:
                policy = self.policies[table, c.name] if c.builtin else "-"
                out.append(f":{c.name} {policy} [0:0]\n")
            for c in chains:
                out.extend(f"-A {c.name} {r}\n".replace("  ", " ") for r in c.rules)
            out.append("COMMIT\n")
        return "".join(out)


def _share_options(one: str, other: str) -> bool:
    first, second = find_match(one), find_match(other)
    return (first is not None and second is not None
            and not first.option_table.keys().isdisjoint(second.option_table))


def unmodelled_rules(text: str, family: Family) -> set[tuple[str, str, int]]:
    """(table, chain, 0-based index) of rules resting on a match without semantics or
    whose target is UNKNOWN."""
    dump = parse_iptables(text, family=family)
    ruleset = Ruleset([dump], host=Host())
    out: set[tuple[str, str, int]] = set()
    for table in dump.tables:
        compiled = ruleset.table(family, table.name)
        assert compiled is not None
        for chain in table.chains:
            found = compiled.chain(chain.name)
            assert found is not None
            for index in range(len(chain.rules)):
                rule = compiled.rule(found, index)
                if any(unmodelled(c.pred) for c in rule.conditions) or (
                        isinstance(rule.action, Effect) and rule.action.verdict == "UNKNOWN"):
                    out.add((table.name, chain.name, index))
    return out


def generate_ruleset(seed: int, family: Family = Family.INET, *, size: int = 30,
                     modelled_only: bool = False, stateless: bool = False,
                     tables: tuple[str, ...] = ("raw", "mangle", "nat", "filter"),
                     exclude: frozenset[str] = frozenset(),
                     output_chains: bool = False) -> GeneratedRuleset:
    """A random ruleset (see the module docstring); the same for the same arguments.

    `size` rules in all; `stateless` leaves out matches whose outcome depends on earlier
    packets (STATEFUL_MATCHES); `exclude` names matches and targets not to use;
    `output_chains` hangs user chains under OUTPUT too and uses OUT_MATCHES (for the out
    path: on the others, R's own answers walk OUTPUT, and the fewer rules they meet there the
    better).
    """
    rng = random.Random(f"generate:{seed}:{family.value}")
    gen = Words(rng, family, stateless=stateless, tables=tables)
    matches = _available_matches(family, stateless, exclude, output_chains)
    if "set" in matches:
        gen.make_sets()
    builder = _Builder(gen, matches, _available_targets(family, exclude), size, output_chains)
    builder.build()
    text = builder.text()
    parse_iptables(text, family=family)  # a generator bug shows here, not in the kernel
    parse_ipset("".join(gen.set_text))  # and in the sets (a member added twice)
    for _ in range(8 if modelled_only else 0):
        bad = unmodelled_rules(text, family)
        if not bad:
            break
        for chains in builder.chains.values():
            for chain in chains:
                for index in range(len(chain.rules)):
                    if (chain.table, chain.name, index) in bad:
                        chain.rules[index] = builder.rule(chain, builder.later(chain))
        text = builder.text()
    if modelled_only:
        bad = unmodelled_rules(text, family)
        for chains in builder.chains.values():
            for chain in chains:
                chain.rules = [r for i, r in enumerate(chain.rules)
                               if (chain.table, chain.name, i) not in bad]
        text = builder.text()
    return GeneratedRuleset(family, text, "".join(gen.set_text), seed)
