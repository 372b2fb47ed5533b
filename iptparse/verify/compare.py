"""One packet: the kernel's counters against iptparse's paths.

The interpreter's paths are explored as `iptparse.trace` explores them (every fork's options,
option 0 first), but guided by what the kernel reported: a path whose count for some rule or
policy already exceeds the kernel's can never end equal to it, so it is dropped where it
exceeds. That keeps a packet that meets many unmodelled matches (one fork each) linear instead
of exponential, without missing any path that could match. A path is *consistent* when its
rule hits and policies equal the kernel's counters as multisets (a chain entered twice counts
its rules twice) and it accepts exactly when the kernel delivered or forwarded the packet; a
path that ends UNKNOWN (a target iptparse does not model) only needs to be a prefix.

The packet's outcome is `agree` when a consistent path is fully modelled (it may rest on
modelled assumptions such as `limit` or a statistic draw: those are reported), `not-modelled`
when the only consistent paths rest on a match without semantics or end UNKNOWN, and `disagree`
when no path is consistent. For a disagreement the default path (option 0 at every fork, what
`iptparse trace` shows first) is compared rule by rule to find where it parts from the kernel.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..describe import describe_value
from ..events import Fork, PolicyApplied, RuleEvaluated
from ..interp import PATHS, Interpreter, PathState
from ..logic import And, Assume, Not, Or, Pred
from ..packet import Packet
from ..ruleset import CompiledRule, Ruleset
from ..sandbox.frames import KernelPacket
from ..sandbox.lab import KernelResult
from ..semantics import Effect

__all__ = [
    "AGREE",
    "DISAGREE",
    "NOT_MODELLED",
    "Comparison",
    "Divergence",
    "Evaluation",
    "Observation",
    "compare",
    "explore",
    "unmodelled",
]

AGREE, NOT_MODELLED, DISAGREE = "agree", "not-modelled", "disagree"
RuleKey = tuple[str, str, int]
PolicyKey = tuple[str, str]

#: Walks explored per packet before giving up (each fork costs one walk).
MAX_WALKS = 4096


@dataclass(frozen=True, slots=True)
class Observation:
    """What the kernel did: rule and policy counters that moved, and whether the packet was
    delivered locally or sent on."""

    hits: Mapping[RuleKey, int]
    policies: Mapping[PolicyKey, int]
    accepted: bool

    @classmethod
    def of(cls, result: KernelResult) -> Observation:
        # local delivery is seen whatever the protocol and whichever path the lab sent the
        # packet on (NAT may make a forwarded packet local)
        return cls(dict(result.hits), dict(result.policies), result.local or bool(result.egress))


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One rule checked on a path: its outcome, and whether every condition checked was
    decided by iptparse's semantics (no match without semantics on the way)."""

    rule: CompiledRule
    matched: bool
    decided: bool
    #: (module, source, holds, decided); holds None: undecided, the rule failed either way
    conditions: tuple[tuple[str, str, bool | None, bool], ...]


@dataclass(frozen=True)
class ModelPath:
    """A walk to its end, or to the rule where it counted more than the kernel (`dead`)."""

    state: PathState
    evaluations: tuple[Evaluation, ...]
    dead: RuleKey | PolicyKey | None = None

    @property
    def hits(self) -> Counter[RuleKey]:
        return Counter((h.table, h.chain, h.rule) for h in self.state.hits)

    @property
    def policies(self) -> Counter[PolicyKey]:
        return Counter((t, c) for t, c, _ in self.state.policies)

    @property
    def verdict(self) -> str:
        return self.state.verdict or "UNKNOWN"

    @property
    def unmodelled(self) -> tuple[str, ...]:
        """Assumptions this path took on matches iptparse has no semantics for."""
        return tuple(c.text for c in self.state.conditions if c.var.startswith("?match:"))

    @property
    def assumptions(self) -> tuple[str, ...]:
        """Every condition this path rests on (assumptions, random draws, unknown fields)."""
        return tuple(c.text for c in self.state.conditions)


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where the default path parts from the kernel: a rule (or policy) and both counts."""

    where: str  # "filter:FORWARD:3" or "policy filter:FORWARD" or "delivery"
    text: str  # the rule as iptables-save prints it, or what differs
    kernel: int
    model: int
    conditions: tuple[tuple[str, bool | None], ...] = ()  # the trace's evaluation of the rule


@dataclass(frozen=True)
class Comparison:
    """The verdict on one packet (see the module docstring for the outcomes)."""

    packet: KernelPacket
    model: Packet
    path: str
    outcome: str
    kernel: Observation
    chosen: ModelPath | None
    consistent: int
    default: ModelPath | None
    divergences: tuple[Divergence, ...] = ()
    reason: str = ""
    explored: int = 0
    egress: tuple[str, ...] = field(default=())


# --- exploring ------------------------------------------------------------------------------

def unmodelled(pred: Pred) -> bool:
    """Whether a condition rests on a match without semantics (the interpreter's stand-in
    assumption, kind `match:MODULE`)."""
    if isinstance(pred, Assume):
        return pred.kind.startswith("match:")
    if isinstance(pred, And | Or):
        return any(unmodelled(p) for p in pred.parts)
    if isinstance(pred, Not):
        return unmodelled(pred.part)
    return False


def _evaluation(event: RuleEvaluated) -> Evaluation:
    results = tuple((r.condition.module, r.condition.source, r.holds,
                     not unmodelled(r.condition.pred)) for r in event.results)
    return Evaluation(event.rule, event.matched, all(r[3] for r in results), results)


def _counted(event: object) -> tuple[RuleKey | None, PolicyKey | None]:
    """The rule counter or policy counter an event moves in the kernel, if any."""
    if isinstance(event, RuleEvaluated) and event.matched:
        return (event.rule.table, event.rule.chain, event.rule.number), None
    if isinstance(event, PolicyApplied):
        return None, (event.table, event.chain)
    return None, None


def explore(interpreter: Interpreter, start: PathState,
            kernel: Observation | None = None, *, max_walks: int = MAX_WALKS
            ) -> tuple[list[ModelPath], bool]:
    """Every path from `start` (those that cannot match `kernel` cut where they exceed it),
    default path first; and whether the bound on walks was reached."""
    Pending = tuple[PathState, tuple[Evaluation, ...], Counter[RuleKey], Counter[PolicyKey]]
    pending: list[Pending] = [(start, (), Counter(), Counter())]
    done: list[ModelPath] = []
    walks = 0
    while pending:
        if walks >= max_walks:
            return done, True
        walks += 1
        state, prefix, rule_counts, policy_counts = pending.pop()
        evaluations = list(prefix)
        rule_counts, policy_counts = Counter(rule_counts), Counter(policy_counts)
        gen = interpreter.walk(state)
        event, current = next(gen)
        dead: RuleKey | PolicyKey | None = None
        try:
            while True:
                if isinstance(event, Fork):
                    for option in reversed(event.options[1:]):
                        pending.append((option, tuple(evaluations), Counter(rule_counts),
                                        Counter(policy_counts)))
                    event, current = gen.send(0)
                    continue
                if isinstance(event, RuleEvaluated):
                    evaluations.append(_evaluation(event))
                rule, policy = _counted(event)
                if rule is not None:
                    rule_counts[rule] += 1
                    if kernel is not None and rule_counts[rule] > kernel.hits.get(rule, 0):
                        dead = rule
                        break
                if policy is not None:
                    policy_counts[policy] += 1
                    if kernel is not None and (policy_counts[policy]
                                               > kernel.policies.get(policy, 0)):
                        dead = policy
                        break
                event, current = next(gen)
        except StopIteration as stop:
            current = stop.value
        else:
            gen.close()
        done.append(ModelPath(current, tuple(evaluations), dead))
    return done, False


def _consistent(path: ModelPath, kernel: Observation) -> bool:
    if path.dead is not None:
        return False
    hits = path.hits
    policies = path.policies
    if path.verdict == "UNKNOWN":
        return (all(kernel.hits.get(k, 0) >= n for k, n in hits.items())
                and all(kernel.policies.get(k, 0) >= n for k, n in policies.items()))
    return (hits == Counter(kernel.hits) and policies == Counter(kernel.policies)
            and (path.verdict == "ACCEPT") == kernel.accepted)


def _rank(path: ModelPath) -> tuple[int, int, int]:
    """Fully modelled paths first, then those with fewer assumptions."""
    return (path.verdict == "UNKNOWN", len(path.unmodelled), len(path.assumptions))


# --- comparing ------------------------------------------------------------------------------

def compare(ruleset: Ruleset, packet: KernelPacket, model: Packet, path: str,
            result: KernelResult, *, max_walks: int = MAX_WALKS) -> Comparison:
    """Judge one packet (see the module docstring)."""
    kernel = Observation.of(result)
    interpreter = Interpreter(ruleset, packet.family)
    start = interpreter.start(model, path)
    paths, truncated = explore(interpreter, start, kernel, max_walks=max_walks)
    default = paths[0] if paths else None
    if default is not None and default.dead is not None:
        # the guided walk stopped where it exceeded the kernel: show the whole default path
        default = explore(interpreter, start, None, max_walks=1)[0][0]
    consistent = sorted((p for p in paths if _consistent(p, kernel)), key=_rank)
    common = {"packet": packet, "model": model, "path": path, "kernel": kernel,
              "default": default, "explored": len(paths), "consistent": len(consistent)}
    if not consistent:
        if _answer_walked_output(ruleset, packet, path, result):
            return Comparison(outcome=NOT_MODELLED, chosen=None, reason=(
                "R answered the packet (an ICMP error or a reset, after NAT made the source "
                "one of R's own addresses): the reply's walk through OUTPUT moved counters "
                "too, and iptparse traces the packet alone"),
                **common)  # type: ignore[arg-type]
        if truncated:
            return Comparison(outcome=NOT_MODELLED, chosen=None, reason=(
                f"more than {max_walks} paths to explore; none matched the kernel so far"),
                **common)  # type: ignore[arg-type]
        assert default is not None
        return Comparison(outcome=DISAGREE, chosen=None,
                          divergences=divergences(default, kernel, ruleset, packet),
                          reason="no path of iptparse gives the kernel's counters",
                          **common)  # type: ignore[arg-type]
    chosen = consistent[0]
    if chosen.verdict == "UNKNOWN":
        reason = f"ends UNKNOWN: {_decision_text(chosen)}"
        return Comparison(outcome=NOT_MODELLED, chosen=chosen, reason=reason,
                          **common)  # type: ignore[arg-type]
    if chosen.unmodelled:
        reason = "rests on matches without semantics: " + "; ".join(chosen.unmodelled)
        return Comparison(outcome=NOT_MODELLED, chosen=chosen, reason=reason,
                          **common)  # type: ignore[arg-type]
    egress = _egress_mismatches(chosen, result)
    if egress:
        return Comparison(outcome=DISAGREE, chosen=chosen, egress=egress, reason=(
            "counters agree but the packet left R with other headers than iptparse's"),
            divergences=tuple(Divergence("egress", text, 1, 1) for text in egress),
            **common)  # type: ignore[arg-type]
    return Comparison(outcome=AGREE, chosen=chosen, **common)  # type: ignore[arg-type]


def _answer_walked_output(ruleset: Ruleset, packet: KernelPacket, path: str,
                          result: KernelResult) -> bool:
    """Whether R sent a packet of its own and a counter moved that only OUTPUT reaches: the
    counters are then not the packet's alone. (R answers many packets it cannot route the
    answer for; those move nothing and are judged as any other.)"""
    if not result.answered:
        return False
    hooks = set(PATHS[path])
    for table, chain in (*result.policies, *((t, c) for t, c, _ in result.hits)):
        if chain == "OUTPUT":
            return True
        compiled = ruleset.table(packet.family, table)
        reach = compiled.hooks(chain) if compiled is not None else frozenset()
        if "OUTPUT" in reach and not reach & hooks:
            return True
    return False


def _decision_text(path: ModelPath) -> str:
    decision = path.state.decision
    if path.state.stopped is not None:
        return f"by {path.state.stopped}"
    if decision is None:
        return "no rule decided"
    table, chain, number = decision
    for ev in reversed(path.evaluations):
        if (ev.rule.table, ev.rule.chain, ev.rule.number) == decision:
            return f"{table}:{chain}:{number} {ev.rule.text}"
    return f"{table}:{chain}:{number}"


def _egress_mismatches(path: ModelPath, result: KernelResult) -> tuple[str, ...]:
    """Headers of the forwarded frame that iptparse knows exactly and the kernel changed
    otherwise: addresses and ports (NAT), the TTL or hop limit (forwarding, TTL/HL) and the
    TOS or traffic class byte (TOS, DSCP, ECN)."""
    if len(result.egress) != 1 or path.state.path not in ("forward", "out"):
        return ()
    decoded = result.egress[0].decoded
    if decoded is None:
        return ()
    family = path.state.box.family
    out = []
    for name, seen in (("src", decoded.src), ("dst", decoded.dst), ("sport", decoded.sport),
                       ("dport", decoded.dport), ("ttl", decoded.ttl), ("tos", decoded.tos)):
        if seen is None:
            continue
        expected = path.state.current(name).single_value()
        if expected is None:
            continue
        actual: int | str = int(ipaddress.ip_address(seen)) if name in ("src", "dst") else seen
        if expected != actual:
            out.append(f"{name}: kernel sent {describe_value(name, actual, family)}, "
                       f"iptparse says {describe_value(name, expected, family)}")
    return tuple(out)


def divergences(path: ModelPath, kernel: Observation, ruleset: Ruleset,
                packet: KernelPacket) -> tuple[Divergence, ...]:
    """Where `path` parts from the kernel: the first rule (in the path's order) whose count
    differs, else rules the path never reached, else the policies or the delivery."""
    out: list[Divergence] = []
    hits = path.hits
    for ev in path.evaluations:
        key = (ev.rule.table, ev.rule.chain, ev.rule.number)
        if hits.get(key, 0) != kernel.hits.get(key, 0):
            out.append(Divergence(":".join(map(str, key)), ev.rule.text,
                                  kernel.hits.get(key, 0), hits.get(key, 0),
                                  tuple((c[1], c[2]) for c in ev.conditions)))
            return tuple(out)
    for key, count in sorted(kernel.hits.items()):
        if hits.get(key, 0) != count:
            out.append(Divergence(":".join(map(str, key)), _rule_text(ruleset, packet, key),
                                  count, hits.get(key, 0)))
    if out:
        return tuple(out)
    policies = path.policies
    for place in sorted(set(policies) | set(kernel.policies)):
        if policies.get(place, 0) != kernel.policies.get(place, 0):
            out.append(Divergence(f"policy {place[0]}:{place[1]}", "",
                                  kernel.policies.get(place, 0), policies.get(place, 0)))
    if out:
        return tuple(out)
    return (Divergence("delivery", f"iptparse's verdict is {path.verdict}",
                       int(kernel.accepted), int(path.verdict == "ACCEPT")),)


def _rule_text(ruleset: Ruleset, packet: KernelPacket, key: RuleKey) -> str:
    table = ruleset.table(packet.family, key[0])
    chain = table.chain(key[1]) if table else None
    if table is None or chain is None or not 0 < key[2] <= len(chain.rules):
        return ""
    return table.rule(chain, key[2] - 1).text


def effect_module(rule: CompiledRule) -> str | None:
    """The target extension a hit rule applied with known semantics, if any."""
    target = rule.rule.target
    if target is None or target.options is None or not isinstance(rule.action, Effect):
        return None
    return None if rule.action.verdict == "UNKNOWN" else target.name
