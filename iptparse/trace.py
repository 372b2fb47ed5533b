"""Every way a packet can go: explore the interpreter's forks, merge, summarise.

`trace(ruleset, packet, path)` runs the walk to the end on every branch of every fork (up to a
bound), then merges paths that reach the same verdict through the same rules with the same
probability: their constraints become alternatives of one path. A concrete packet on a ruleset
without stateful matches gives exactly one path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .chainindex import skipper_for
from .collector import without_collection
from .describe import describe_set
from .domain import NameSet, ValueSet
from .events import (
    ChainEnter,
    ChainReturn,
    Event,
    Finished,
    Fork,
    Note,
    PolicyApplied,
    RuleEvaluated,
    RulesSkipped,
    StageEnd,
    StageSkipped,
    StageStart,
    TargetApplied,
)
from .fields import FIELDS
from .fieldunion import Part, merge_fields
from .interp import WALK_ASSUMES, Interpreter, PathState, RuleRef
from .logic import Box, Cond, fork_negations, visit_of
from .nodes import Family
from .packet import Packet
from .ruleset import Ruleset
from .simplify import simplify

__all__ = ["Alternative", "PathResult", "TraceError", "TraceResult", "joined", "simplify",
           "trace", "unconstrained"]


class TraceError(ValueError):
    """A trace request that cannot run (e.g. an IPv6 packet and no ip6tables dump)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """Rules checked and not matched between two recorded events."""

    table: str
    chain: str
    count: int


Step = Event | Skip


_NO_NAME = ("", False)


def _shown(var: str, values: ValueSet) -> ValueSet:
    """A set as an answer shows it: a received packet's input interface is never the empty
    name (the walk starts it so, and a local packet's is another variable), which goes
    without saying: `iif ∉ {docker0, virbr0}`, not `iif ∉ {(none), docker0, virbr0}`."""
    if (var == "iif" and isinstance(values, NameSet) and values.include is None
            and _NO_NAME in values.exclude and len(values.exclude) > 1):
        return NameSet(None, [p for p in values.exclude if p != _NO_NAME])
    return values


@dataclass(frozen=True)
class Alternative:
    """One way of reaching a path's outcome: the conditions taken and the packet they allow."""

    conditions: tuple[Cond, ...]
    box: Box
    state: PathState

    def readable(self, draws: bool = True) -> tuple[str, ...]:
        """The conditions as text; a variable split several times reads as its final set when
        that is short (`dport ∉ {22, 80}`), else as its conditions one after the other."""
        return tuple(part.text for part in self.parts(draws))

    def parts(self, draws: bool = True) -> tuple[Part, ...]:
        """`readable`'s conditions, each that states a variable's whole constraint here with
        the variable and its values (what `merge_fields` joins ways on)."""
        counts: dict[str, int] = {}
        for c in self.conditions:
            counts[c.var] = counts.get(c.var, 0) + 1
        out: list[Part] = []
        seen: set[str] = set()
        for c in self.conditions:
            if not c.var or c.var.startswith("?"):
                if draws or c.var:  # a random draw has no variable
                    out.append(Part(c.text))
            elif counts[c.var] == 1:
                out.append(Part(c.text, c.var, self._name(c.var),
                                _shown(c.var, self.box.get(c.var))))
            elif c.var not in seen:
                seen.add(c.var)
                name = self._name(c.var)
                shown = _shown(c.var, self.box.get(c.var))
                final = f"{name} {describe_set(c.var, shown, self.box.family)}"
                if len(final) <= 80 or counts[c.var] > 3:
                    out.append(Part(final, c.var, name, shown))
                else:
                    out.extend(Part(x.text) for x in self.conditions if x.var == c.var)
        return tuple(out)

    def _name(self, var: str) -> str:
        return self.state.labels.get(var, var.split("@", 1)[0])


@dataclass(frozen=True)
class PathResult:
    verdict: str
    probability: Fraction
    hits: tuple[RuleRef, ...]
    policies: tuple[tuple[str, str, str], ...]
    alternatives: tuple[Alternative, ...]
    steps: tuple[Step, ...] = ()
    #: the walk's start (`TraceResult.initial`): a field whose ways join into all it started
    #: with goes from the conditions
    initial: Box | None = field(default=None, compare=False)

    @property
    def state(self) -> PathState:
        return self.alternatives[0].state

    @property
    def conditions(self) -> list[str]:
        """Readable conditions: one string per alternative (empty for a packet that needed no
        assumption); alternatives that differ only by a condition and its negation, or only
        in one field's values, read as one."""
        return self._joined(draws=True)

    def _joined(self, draws: bool) -> list[str]:
        ways = [a.parts(draws) for a in self.alternatives]
        family = self.alternatives[0].box.family
        simplified = simplify(joined(ways, self.initial, family),
                              fork_negations(a.conditions for a in self.alternatives))
        return [" and ".join(c) for c in simplified if c]

    @property
    def conditions_without_draws(self) -> list[str]:
        """The conditions on the packet alone: random draws (statistic) are left to the
        probability, as a summary reads best."""
        return self._joined(draws=False)


def projection(paths: Sequence[PathResult], initial: Box) -> dict[str, str]:
    """What the paths allow, field by field, taken together: for each input field some path
    constrains beyond what the walk started with, the union of its values over every
    alternative (an over-approximation of the paths' conditions, which keep fields tied
    together). A field the walk itself narrowed (`WALK_ASSUMES`: a forwarded packet's TTL
    when the packet does not give it) is no condition of the paths: left out."""
    names: set[str] = set()
    alternatives = [a for p in paths for a in p.alternatives]
    for alt in alternatives:
        names |= {v for v in alt.box.values if "@" not in v and not v.startswith("?")}
    out: dict[str, str] = {}
    for name in sorted(names, key=lambda n: list(FIELDS).index(n) if n in FIELDS else 99):
        values = [alt.box.get(name) for alt in alternatives]
        if isinstance(values[0], NameSet):
            # name patterns with exclusions have no closed union: show plain ones only
            if any(v.include is None or v.exclude for v in values):  # type: ignore[union-attr]
                continue
            union: Any = NameSet([p for v in values for p in v.include])  # type: ignore[union-attr]
        else:
            union = values[0]
            for value in values[1:]:
                union = union | value
        if unconstrained(name, union, initial):
            continue
        out[name] = describe_set(name, _shown(name, union), alternatives[0].box.family)
    return out


def unconstrained(var: str, values: ValueSet, initial: Box | None) -> bool:
    """Whether `values` are all the walk started a variable with: the whole domain, the
    packet's own constraint, or what the walk assumed of it (`WALK_ASSUMES`)."""
    if values.is_all:
        return True
    if initial is None or "@" in var:
        return False
    return values == initial.get(var) or (
        var not in initial.values and values == WALK_ASSUMES.get(var))


def joined(ways: Sequence[tuple[Part, ...]], initial: Box | None, family: Family
           ) -> list[tuple[str, ...]]:
    """`merge_fields` on ways of one answer: a field whose union is what the walk started
    it with goes."""
    return merge_fields(ways, lambda var, values: unconstrained(var, values, initial),
                        lambda var, values: describe_set(var, values, family))


@dataclass(frozen=True)
class TraceResult:
    packet: Packet
    path: str
    family: Family
    paths: tuple[PathResult, ...]
    truncated: bool = False
    message: str = ""
    #: the walk's starting constraints (the packet plus the defaults of the path)
    initial: Box | None = None

    def verdicts(self) -> dict[str, Fraction]:
        out: dict[str, Fraction] = {}
        for p in self.paths:
            out[p.verdict] = out.get(p.verdict, Fraction(0)) + p.probability
        return out


@dataclass
class _Recorder:
    """Steps of one path as a shared-prefix list (forks share what came before)."""

    parent: _Recorder | None = None
    items: list[Step] = field(default_factory=list)
    skipped: tuple[str, str, int] | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, RuleEvaluated | RulesSkipped) and not (
                isinstance(event, RuleEvaluated) and event.matched):
            if isinstance(event, RuleEvaluated):
                table, chain, count = event.rule.table, event.rule.chain, 1
            else:
                table, chain, count = event.table, event.chain, event.count
            if self.skipped and self.skipped[:2] == (table, chain):
                self.skipped = (table, chain, self.skipped[2] + count)
            else:
                self._flush()
                self.skipped = (table, chain, count)
            return
        self._flush()
        if not isinstance(event, Fork | Finished):
            self.items.append(event)

    def _flush(self) -> None:
        if self.skipped is not None:
            self.items.append(Skip(*self.skipped))
            self.skipped = None

    def child(self) -> _Recorder:
        self._flush()
        return _Recorder(self)

    def all(self) -> tuple[Step, ...]:
        self._flush()
        chunks = []
        node: _Recorder | None = self
        while node is not None:
            chunks.append(node.items)
            node = node.parent
        return tuple(step for chunk in reversed(chunks) for step in chunk)


def choose_family(ruleset: Ruleset, packet: Packet) -> Family:
    if packet.family is not None:
        if packet.family not in ruleset.dumps and ruleset.dumps:
            tool = "ip6tables-save" if packet.family is Family.INET6 else "iptables-save"
            given = " and ".join(f.value for f in ruleset.dumps)
            raise TraceError(f"the packet is {packet.family.value} but the rules given are "
                             f"{given} only: give the node's {tool} output too, or an "
                             f"{given} packet")
        return packet.family
    if len(ruleset.dumps) == 1:
        return next(iter(ruleset.dumps))
    return Family.INET


@without_collection  # the paths' states: many objects, no cycles
def trace(
    ruleset: Ruleset,
    packet: Packet,
    path: str = "forward",
    *,
    assumptions: Mapping[str, bool] | None = None,
    max_paths: int = 10_000,
    steps: bool = True,
    skip: bool = True,
) -> TraceResult:
    """Walk `packet` along `path` ("in", "forward" or "out") and return every outcome.

    `skip=False` checks every rule in turn instead of passing over, in one step, the rules
    the path's exact fields decide false (the result is the same; tests compare the two)."""
    family = choose_family(ruleset, packet)
    interpreter = Interpreter(ruleset, family, assumptions=assumptions,
                              skipper=skipper_for(ruleset, family) if skip else None,
                              events=steps)
    start = interpreter.start(packet, path)
    pending: list[tuple[PathState, _Recorder | None]] = [(start, _Recorder() if steps else None)]
    finished: list[tuple[PathState, _Recorder | None]] = []
    truncated = False
    while pending:
        state, recorder = pending.pop()
        gen = interpreter.walk(state)
        event, _ = next(gen)
        try:
            while True:
                if isinstance(event, Fork):
                    for option in reversed(event.options[1:]):
                        if len(pending) + len(finished) + 1 >= max_paths:
                            truncated = True
                            break
                        pending.append((option, recorder.child() if recorder else None))
                    if recorder is not None:
                        recorder = recorder.child()
                    event, _ = gen.send(0)
                    continue
                if recorder is not None:
                    recorder.add(event)
                event, _ = next(gen)
        except StopIteration as stop:
            finished.append((stop.value, recorder))
        if truncated:
            pending.clear()
    message = (f"stopped at {max_paths} paths: the packet is too open for this bound; give more "
               "fields or raise --max-paths" if truncated else "")
    return TraceResult(packet, path, family, _merge(finished, start.box), truncated, message,
                       start.box)


def _merge(finished: Sequence[tuple[PathState, _Recorder | None]], initial: Box
           ) -> tuple[PathResult, ...]:
    groups: dict[tuple[Any, ...], list[tuple[PathState, _Recorder | None]]] = {}
    for state, recorder in finished:
        # drops by the stack for different reasons stay apart: each path says why
        key = (state.verdict, state.hits, state.policies, state.probability, state.stopped)
        groups.setdefault(key, []).append((state, recorder))
    out = []
    for (verdict, hits, policies, probability, _stopped), members in groups.items():
        alternatives = tuple(Alternative(s.conditions, s.box, s) for s, _ in members)
        recorder = members[0][1]
        out.append(PathResult(verdict or "UNKNOWN", probability, hits, policies, alternatives,
                              recorder.all() if recorder else (), initial))
    out.sort(key=lambda p: (-p.probability, p.verdict, len(p.hits)))
    return tuple(out)


# --- JSON ----------------------------------------------------------------------------------

def _flag_order(item: tuple[str, object]) -> tuple[str, int]:
    """Variables by name, a rule's draws in the order the path made them."""
    drawn = visit_of(item[0])
    return (f"?{drawn[0]}", drawn[1]) if drawn else (item[0], -1)


def _flag_name(var: str, box: Box) -> str:
    """An assumption's or a draw's name as users pin it (`statistic@nat:SVC:1`); a rule the
    path evaluated more than once has a draw (or a limit's check…) per visit: `… (2 of 2)`
    is the second."""
    drawn = visit_of(var)
    if drawn is None:
        return var[1:]
    key, visit = drawn
    visits = sorted(d[1] for d in map(visit_of, box.values) if d is not None and d[0] == key)
    return key if len(visits) == 1 else f"{key} ({visits.index(visit) + 1} of {len(visits)})"


def _constraint(box: Box, labels: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for var, values in sorted(box.items(), key=_flag_order):
        if var.startswith("?"):
            out[_flag_name(var, box)] = "holds" if 1 in values else "does not hold"
            continue
        name = var.split("@", 1)[0]
        if "@" in var and var not in labels:
            continue
        out[labels.get(var, var)] = describe_set(name, values, box.family)
    return out


def _final_packet(state: PathState, packet: Packet) -> dict[str, str]:
    """Fields the user gave or the rules changed, with their value at the end of the path."""
    names = set(packet.fields) | {k for k in state.env if not k.startswith("ct")}
    names |= {k.split("@")[0] for k in state.labels}
    out = {}
    for name in FIELDS:
        if name in names:
            out[name] = describe_set(name, state.current(name), state.box.family)
    return out


def step_json(step: Step) -> dict[str, Any]:
    match step:
        case Skip(table, chain, count):
            return {"event": "skip", "table": table, "chain": chain, "count": count}
        case StageStart(hook, table):
            return {"event": "stage", "hook": hook, "table": table}
        case StageSkipped(hook, table, reason):
            return {"event": "stage-skipped", "hook": hook, "table": table, "reason": reason}
        case StageEnd(hook, table, verdict):
            return {"event": "stage-end", "hook": hook, "table": table, "verdict": verdict}
        case ChainEnter(table, chain, via, from_chain, from_rule, depth):
            return {"event": "enter", "table": table, "chain": chain, "via": via,
                    "from_chain": from_chain, "from_rule": from_rule, "depth": depth}
        case RuleEvaluated(rule, matched, results):
            return {"event": "rule", "table": rule.table, "chain": rule.chain,
                    "rule": rule.number, "line": rule.line, "text": rule.text,
                    "matched": matched,
                    "conditions": [{"text": r.condition.source, "holds": r.holds}
                                   for r in results]}
        case TargetApplied(rule, changes, verdict, note):
            return {"event": "target", "table": rule.table, "chain": rule.chain,
                    "rule": rule.number, "verdict": verdict, "note": note,
                    "changes": [{"field": f, "before": b, "after": a} for f, b, a in changes]}
        case ChainReturn(table, from_chain, to_chain, to_rule, explicit):
            return {"event": "return", "table": table, "from_chain": from_chain,
                    "to_chain": to_chain, "to_rule": to_rule, "explicit": explicit}
        case PolicyApplied(table, chain, policy):
            return {"event": "policy", "table": table, "chain": chain, "policy": policy}
        case Note(text):
            return {"event": "note", "text": text}
    return {"event": type(step).__name__}


@without_collection
def trace_json(result: TraceResult) -> dict[str, Any]:
    """The stable JSON shape documented in the README."""
    paths = []
    for p in result.paths:
        state = p.state
        paths.append({
            "verdict": p.verdict,
            "probability": float(p.probability),
            "conditions": p.conditions,
            "constraint": [_constraint(a.box, a.state.labels) for a in p.alternatives],
            "hits": [{"table": h.table, "chain": h.chain, "rule": h.rule} for h in p.hits],
            "policies": [{"table": t, "chain": c, "policy": pol} for t, c, pol in p.policies],
            "stopped": state.stopped,
            "steps": [step_json(s) for s in p.steps],
            "packet": _final_packet(state, result.packet),
        })
    out: dict[str, Any] = {"packet": result.packet.to_json(), "path": result.path,
                           "family": result.family.value, "paths": paths}
    if result.truncated:
        out["truncated"] = result.message
    return out
