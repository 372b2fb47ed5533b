"""The walk of a packet through netfilter: a pure generator of events.

The packet enters at a hook and meets, in the kernel's priority order, every table that has a
chain there: raw, (conntrack), mangle, nat (first packet of a connection only), filter,
security; `-j` keeps a return point, `-g` does not; RETURN or the end of a user chain resumes
after the last jump; the end of a builtin chain applies its policy; ACCEPT ends the table's
traversal, DROP/REJECT/QUEUE end the walk.

The state of a path is immutable, so a fork (a match the known fields do not decide) yields a
`Fork` event carrying every continuation; the caller picks one by `send(index)` (the REPL's
`choose`) and may resume the others later (`iptparse.trace` explores them all). No I/O here.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as _replace_fields
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from .domain import BitSet, IntSet, NameSet, ValueSet
from .events import (
    ChainEnter,
    ChainReturn,
    ConditionResult,
    Event,
    FieldChange,
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
from .fields import CT_STATES, FieldKind, field_spec
from .logic import And, BitsExpr, Box, Branch, Cond, Moved, Not, Pred, Test, split
from .nodes import Family
from .onlink import LINK_LOCAL_ROUTE, SOURCE_NOT_FORWARDED, on_link, same_interface
from .packet import Packet
from .pathsets import Changed, apply_updates, reads_sets, rule_for_path
from .receive import LOOPBACK_IFACE, RECEIPT_DROP, Receipt, receipt
from .ruleset import CompiledRule, CompiledTable, Goto, Jump, Return, RuleRef, Ruleset
from .semantics import Change, CopyBits, Effect, SetBits, SetFrom

if TYPE_CHECKING:
    from .chainindex import Skipper

_T = TypeVar("_T")

__all__ = ["PATHS", "WALK_ASSUMES", "Frame", "Interpreter", "PathState", "RuleRef", "Snapshot",
           "Stage"]

CONNTRACK = "conntrack"
ROUTING = "routing"
#: ip_route_me_harder after mangle or nat OUTPUT: a local packet whose destination a rule
#: changed is routed again (see `Host.reroute_output`)
REROUTE = "reroute"

NEW = CT_STATES.index("NEW")
INVALID = CT_STATES.index("INVALID")
UNTRACKED = CT_STATES.index("UNTRACKED")
ORIGINAL = 0

HOOK_TABLES: dict[str, tuple[str, ...]] = {
    "PREROUTING": ("raw", CONNTRACK, "mangle", "nat"),
    "INPUT": ("mangle", "filter", "security", "nat"),
    "FORWARD": ("mangle", "filter", "security"),
    "OUTPUT": ("raw", CONNTRACK, "mangle", REROUTE, "nat", REROUTE, "filter", "security"),
    "POSTROUTING": ("mangle", "nat"),
}

PATHS: dict[str, tuple[str, ...]] = {
    "in": ("PREROUTING", ROUTING, "INPUT"),
    "forward": ("PREROUTING", ROUTING, "FORWARD", "POSTROUTING"),
    "out": (ROUTING, "OUTPUT", "POSTROUTING"),
}

MAX_STEPS = 1_000_000

#: `PathState.stopped` of the forwarding drop (`host` has routing's, `receive` IPv6 input's);
#: each reads after "by"
TTL_EXPIRED = "forwarding (the TTL expires: ICMP time exceeded)"

#: Fields with a value by the packet's nature when the user does not give one: netfilter sees
#: reassembled packets once conntrack is loaded (nf_defrag runs before every table), and a packet
#: is bridged only on a bridge (say bridged=1 to ask about br_netfilter traffic). Likewise a
#: packet arrives on Ethernet, without IPsec, and a socket belongs to a process unless the user
#: says otherwise (ether=0, ipsec_in=1, ipsec_out=1, socket_file=0).
DEFAULTS: dict[str, ValueSet] = {
    "fragment": IntSet.single(0, 1),
    "bridged": IntSet.single(0, 1),
    "ether": IntSet.single(1, 1),
    "ipsec_in": IntSet.single(0, 1),
    "ipsec_out": IntSet.single(0, 1),
    "socket_file": IntSet.single(1, 1),
}


#: One way a rule can go: a piece of the branch, whether the rule matched there, its
#: conditions' results and the effect that applies.
Outcome = tuple[Branch, bool, tuple[ConditionResult, ...], Effect | None]

#: What the walk yields: an event and the path's state right after it.
Snapshot = tuple[Event, "PathState"]


@dataclass(frozen=True, slots=True)
class Stage:
    hook: str
    table: str  # a table name, CONNTRACK, ROUTING or REROUTE


@cache
def stages_for(hooks: tuple[str, ...]) -> tuple[Stage, ...]:
    out = []
    for hook in hooks:
        if hook == ROUTING:
            out.append(Stage(ROUTING, ROUTING))
        else:
            out.extend(Stage(hook, t) for t in HOOK_TABLES[hook])
    return tuple(out)


#: what a local packet routed to lo meets when it comes in again (see `_loop_back`)
_LOOPBACK = tuple(s for s in stages_for(("PREROUTING", "INPUT"))
                  if s.table not in ("nat", CONNTRACK))


@dataclass(frozen=True, slots=True)
class Frame:
    """A return point: resume `chain` at 0-based `index`; `trail` is the `where` length."""

    chain: str
    index: int
    rule: int
    trail: int


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One step of the chain path shown by `where`: how we got into `chain`."""

    table: str
    chain: str
    via: str  # "hook", "jump", "goto"
    rule: int | None  # the rule (in the previous chain) that jumped


#: what a local packet's route was chosen on: its destination, source and mark (`host.py`)
RoutingKey = tuple[str, "str | BitsExpr | Moved", "str | BitsExpr | Moved"]


@dataclass(frozen=True)
class PathState:
    """Everything a path carries; immutable so a fork can hand out every continuation."""

    branch: Branch
    env: Mapping[str, str | BitsExpr | Moved]
    stages: tuple[Stage, ...]
    stage: int = 0
    chain: str | None = None
    index: int = 0
    stack: tuple[Frame, ...] = ()
    trail: tuple[TrailEntry, ...] = ()
    #: jumps and gotos taken so far: a rule in a user chain is evaluated once per entry of
    #: its chain, and each evaluation draws anew or takes a token (`logic.visit_flag`)
    jumps: int = 0
    hits: tuple[RuleRef, ...] = ()
    policies: tuple[tuple[str, str, str], ...] = ()
    fresh: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    verdict: str | None = None
    path: str = "forward"
    #: what ended each table's traversal so far: (table, chain, rule number or 0: the policy)
    decisions: tuple[tuple[str, str, int], ...] = ()
    #: what gave the verdict when no rule or policy did: the stack (routing, an expired TTL),
    #: as "by …" reads it; the tables passed before then decided nothing about the verdict
    stopped: str | None = None
    #: the ipsets as this path sees them once a SET target changed some (None: as captured),
    #: and the sets it no longer knows exactly (`pathsets`)
    sets: Mapping[str, Any] | None = None
    unknown_sets: tuple[Changed, ...] = ()
    #: the out path with a host's routes: what the route was chosen on, and the output
    #: interface of a route chosen again after OUTPUT's mangle or nat changed it, which the
    #: rest of OUTPUT does not see (its hooks keep the first route's interface) and
    #: POSTROUTING does
    routed: RoutingKey | None = None
    next_oif: str | None = None
    #: an out path that left by lo and walks in again (PREROUTING, INPUT)
    looped: bool = False

    @property
    def decision(self) -> tuple[str, str, int] | None:
        """What decided the verdict. DROP/REJECT/QUEUE: the rule or policy that said so. ACCEPT
        (every table let the packet through): the filter table's decision, the one users ask
        about, else the last rule that accepted, else the last policy. None when the stack
        gave the verdict (`stopped`) or no table was passed."""
        if not self.decisions or self.stopped is not None:
            return None
        if self.verdict not in (None, "ACCEPT"):
            return self.decisions[-1]
        for decision in reversed(self.decisions):
            if decision[0] == "filter":
                return decision
        for decision in reversed(self.decisions):
            if decision[2]:
                return decision
        return self.decisions[-1]

    @property
    def box(self) -> Box:
        return self.branch.box

    @property
    def probability(self) -> Fraction:
        return self.branch.weight

    @property
    def conditions(self) -> tuple[Cond, ...]:
        return self.branch.conditions

    def current(self, name: str) -> ValueSet:
        """The set of values a packet field may hold now on this path."""
        return _current(self.env, self.box, name)


def _current(env: Mapping[str, str | BitsExpr | Moved], box: Box, name: str) -> ValueSet:
    spec = field_spec(name)
    target = env.get(spec.name, spec.name)
    if isinstance(target, BitsExpr):
        return _bits_value(target, box)
    if isinstance(target, Moved):
        values = box.get(target.var)
        assert isinstance(values, IntSet)
        return target.of(values)
    return box.get(target)


class _Draft:
    """A path's packet while a target changes it, field after field (one copy of the
    state's maps for all of a target's changes, not one per change)."""

    __slots__ = ("box", "env", "fresh", "labels")

    def __init__(self, env: dict[str, str | BitsExpr | Moved], box: Box,
                 labels: dict[str, str], fresh: int) -> None:
        self.env = env
        self.box = box
        self.labels = labels
        self.fresh = fresh

    def current(self, name: str) -> ValueSet:
        return _current(self.env, self.box, name)

    def apply(self, change: Change, rule: CompiledRule) -> None:
        env, labels = self.env, self.labels
        if isinstance(change, SetBits):
            expr = _bits_expr(env, change.field)
            env[change.field] = expr.xmark(change.value, change.mask)
        elif isinstance(change, CopyBits):
            dst = _known(_bits_expr(env, change.dst).xmark(0, change.clear), self.box)
            src = _known(_bits_expr(env, change.src), self.box)
            expr, clash = _xor_bits(dst, src, change.take)
            if clash:
                # bits that XOR two unknowns: a fresh unknown bit keeps the result sound
                self.fresh += 1
                var = f"{change.dst}@{self.fresh}"
                labels[var] = f"{change.dst} bits mixed by {rule.table}:{rule.chain}:{rule.number}"
                expr = BitsExpr((*expr.sources, (var, clash)), expr.xor & ~clash, expr.width)
            env[change.dst] = expr
        elif isinstance(change, SetFrom) and change.fn is None:
            env[change.field] = env.get(change.sources[0], change.sources[0])
        elif isinstance(change, SetFrom) and change.step is not None and isinstance(
                moved := env.get(change.field, change.field), str | Moved):
            # TTL --ttl-dec, TOS --set-tos with a mask: the input value moved, so a later
            # test narrows it
            if isinstance(moved, str):
                moved = Moved(moved, ())
            env[change.field] = moved.then(change.step)
        else:
            if isinstance(change, SetFrom):
                assert change.fn is not None
                values = change.fn(tuple(self.current(s) for s in change.sources))
            else:
                values = change.values
            self.set(change.field, values, change.text or (
                f"{change.field} after {rule.table}:{rule.chain}:{rule.number}"))

    def set(self, name: str, values: ValueSet, label: str) -> None:
        """The field now holds a fresh variable, somewhere in `values`."""
        self.fresh += 1
        var = f"{name}@{self.fresh}"
        self.box = self.box.with_(var, values)
        self.labels[var] = label
        if field_spec(name).kind is FieldKind.BITS:
            assert isinstance(values, BitSet)
            self.env[name] = BitsExpr.var(var, values.width)
        else:
            self.env[name] = var


def _with_values(state: PathState, values: Mapping[str, ValueSet], why: str) -> PathState:
    """The state with these fields set by the stack, not by a rule (`why` ends each label)."""
    draft = _Draft(dict(state.env), state.box, dict(state.labels), state.fresh)
    for name, value in values.items():
        draft.set(name, value, f"{name} {why}")
    return replace(state, env=draft.env, branch=replace(state.branch, box=draft.box),
                   labels=draft.labels, fresh=draft.fresh)


def either_way(results: list[tuple[ConditionResult, ...]]) -> tuple[ConditionResult, ...]:
    """One rule's condition results over pieces of a branch that all failed: the conditions
    every piece agreed on, then the first on which they parted (`holds` None: undecided,
    and the rule fails whichever way it goes)."""
    out: list[ConditionResult] = []
    for i, first in enumerate(results[0]):
        if all(len(r) > i and r[i].holds == first.holds for r in results[1:]):
            out.append(first)
            continue
        out.append(ConditionResult(first.condition, None))
        break
    return tuple(out)


def replace(obj: _T, **changes: Any) -> _T:
    """`dataclasses.replace`, fast for PathState: a walk makes one per step, and the generic
    version (fields read one by one, `__init__` re-run) was a third of a concrete trace.
    PathState has no `__post_init__` or init-only fields, so copying its dict is the same."""
    if type(obj) is PathState:
        new = object.__new__(PathState)
        new.__dict__.update(obj.__dict__)
        new.__dict__.update(changes)
        return new  # type: ignore[return-value]
    return _replace_fields(obj, **changes)  # type: ignore[type-var]


def _bits_value(expr: BitsExpr, box: Box) -> BitSet:
    """The current values of a bit field: exact per bit where every source is a cube."""
    value = expr.xor
    mask = expr.const_mask
    for var, smask in expr.sources:
        known = box.get(var)
        assert isinstance(known, BitSet)
        kv, km = known.known()
        value ^= kv & smask
        mask |= km & smask
    return BitSet.cube(value, mask, expr.width)


#: tests and values the walk makes at every packet, made once
_IS_NEW = Test("ctstate", IntSet.single(NEW, len(CT_STATES) - 1), "ctstate = NEW",
               "ctstate ≠ NEW")
_TTL_EXPIRES = Test("ttl", IntSet.range(0, 1, 255), "ttl ≤ 1", "ttl > 1")
#: passed between a bridge's ports: br_netfilter data and an output port (a packet that came
#: in by a port and is routed has no output port, and is forwarded as any other)
_NO_PORT = NameSet.single("")
_BRIDGED_IN = Test("bridged", IntSet.single(1, 1), "the packet is bridged",
                   "the packet is not bridged")
_BRIDGED = And((_BRIDGED_IN, Not(Test("physout", NameSet.single(""),
                                      "the packet leaves by no bridge port",
                                      "the packet leaves by a bridge port"))))
_NOT_BRIDGED = IntSet.single(0, 1)
#: `PathState.stopped` of a bridged packet no table sees
_BRIDGE_ONLY = ("the bridge (br_netfilter does not call the tables for bridged packets: "
                "sysctl bridge-nf-call-{} = 0)")
_FORWARDABLE_TTL = IntSet.range(2, 255, 255)
#: what the walk takes of a field the packet leaves unsaid, where no rule but the walk's own
#: assumption narrowed it (a forwarded packet's TTL): not a condition on the packet
WALK_ASSUMES: dict[str, ValueSet] = {"ttl": _FORWARDABLE_TTL}
_ORIGINAL = IntSet.single(ORIGINAL, 1)
_FLAG = {True: IntSet.single(1, 1), False: IntSet.single(0, 1)}
_NO_CONNECTION = IntSet.single(INVALID, len(CT_STATES) - 1)
_NO_SOCKET = IntSet.single(0, 1)
_SOME_INTERFACE = NameSet.all().without([("", False)])
_NO_INTERFACE = NameSet.single("")


class Interpreter:
    """Walks packets through one family of a ruleset along one path kind."""

    def __init__(self, ruleset: Ruleset, family: Family, *,
                 assumptions: Mapping[str, bool] | None = None,
                 skipper: Skipper | None = None, events: bool = True) -> None:
        self.ruleset = ruleset
        self.family = family
        self.assumptions = dict(assumptions or {})
        #: when given, rules the path's exact fields decide false are passed over in one
        #: RulesSkipped event instead of one RuleEvaluated each (traces; not the stepper)
        self.skipper = skipper
        #: False: the walk reports only its forks, its notes and its end, not each stage,
        #: chain and rule (a trace without steps reads nothing else, and making and passing
        #: on those events was a tenth of its time)
        self.events = events

    # --- starting ------------------------------------------------------------------------

    def start(self, packet: Packet, path: str) -> PathState:
        if path not in PATHS:
            raise ValueError(f"unknown path {path!r} (in, forward or out)")
        values: dict[str, ValueSet] = {}
        for name, value in packet.fields.items():
            values[name] = value
        for key, holds in self.assumptions.items():
            values[f"?{key}"] = _FLAG[holds]
        env: dict[str, str | BitsExpr] = {}
        labels: dict[str, str] = {}
        # Before conntrack has run, state matches see no connection: INVALID.
        values["ctstate@raw"] = _NO_CONNECTION
        env["ctstate"] = "ctstate@raw"
        for name, value in DEFAULTS.items():
            if name not in values:
                values[name] = value
        if path != "out" and "socket" not in values:
            # from the wire: no local socket (say socket=1 for INPUT's early demux)
            values["socket"] = _NO_SOCKET
        if path != "out" and "iif" not in values:
            # a received packet came in on some interface: never the empty name
            values["iif"] = _SOME_INTERFACE
        none = _NO_INTERFACE
        if path == "out":
            values["iif@none"] = none
            env["iif"] = "iif@none"
        else:
            values["oif@none"] = none
            env["oif"] = "oif@none"
        box = Box(values, self.family)
        return PathState(Branch(box), env, stages_for(PATHS[path]), labels=labels, path=path)

    # --- walking -------------------------------------------------------------------------

    def walk(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        steps = 0
        while state.verdict is None:
            steps += 1
            if steps > MAX_STEPS:
                state = replace(state, verdict="UNKNOWN")
                yield Note(f"stopped after {MAX_STEPS} steps (a loop?)"), state
                break
            if state.stage >= len(state.stages):
                if state.path == "out" and not state.looped and (
                        state.current("oif").single_value() == "lo"):
                    state = yield from self._loop_back(state)
                    continue
                state = replace(state, verdict="ACCEPT")
                break
            stage = state.stages[state.stage]
            if state.chain is None:
                state = yield from self._begin_stage(state, stage)
                continue
            state = yield from self._step(state, stage)
        yield Finished(state.verdict or "UNKNOWN", state), state
        return state

    def _loop_back(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        """A local packet routed to the host itself leaves by lo and comes in again: raw,
        mangle and filter (and security) of PREROUTING and INPUT see it with iif lo, no
        source MAC (lo's is zero) and no socket (loopback orphans it). nat is not consulted
        (the connection's addresses were bound on the way out), conntrack keeps the entry the
        packet already has, and routing is not asked again: the output route that sent it to
        lo delivers it. Checked in the kernel lab (verify --path out)."""
        state = _with_values(state, {"iif": NameSet.single("lo"), "oif": _NO_INTERFACE,
                                     "src_mac": field_spec("src_mac").single(0, self.family),
                                     "socket": _NO_SOCKET}, "in again over lo")
        state = replace(state, stages=state.stages + _LOOPBACK, looped=True, chain=None,
                        index=0, stack=(), trail=())
        yield Note("in again over lo: PREROUTING and INPUT (without nat: the connection's "
                   "addresses were bound on the way out; delivered by the route that sent it "
                   "to lo)"), state
        return state

    def _next_stage(self, state: PathState) -> PathState:
        stage = state.stage + 1
        if state.next_oif is not None and (stage >= len(state.stages)
                                           or state.stages[stage].hook != "OUTPUT"):
            env = dict(state.env)
            env["oif"] = state.next_oif  # past OUTPUT: the route chosen again
            return replace(state, stage=stage, chain=None, index=0, stack=(), trail=(), env=env,
                           next_oif=None)
        return replace(state, stage=stage, chain=None, index=0, stack=(), trail=())

    def _fork(self, state: PathState, rule: CompiledRule | None,
              options: list[tuple[PathState, str]]) -> Generator[Snapshot, int | None, PathState]:
        if len(options) == 1:
            return options[0][0]
        choice = yield (Fork(rule, tuple(o for o, _ in options), tuple(t for _, t in options)),
                        state)
        return options[choice or 0][0]

    def _split_state(self, state: PathState, pred: Pred
                     ) -> tuple[list[PathState], list[PathState]]:
        branch = state.branch
        holds, fails = split(pred, branch, state.env)
        return ([state if b is branch else replace(state, branch=b) for b in holds],
                [state if b is branch else replace(state, branch=b) for b in fails])

    def _begin_stage(self, state: PathState, stage: Stage
                     ) -> Generator[Snapshot, int | None, PathState]:
        if state.stage == 0 and state.path != "out":
            host = self.ruleset.host
            if host is not None and host.sysctls is not None:
                state = yield from self._bridge_calls(state)
                if state.verdict is not None:
                    return state
            checks = receipt(self.family)
            if checks is not None:
                state = yield from self._receive(state, checks)
                if state.verdict is not None:
                    return state
        if stage.table == CONNTRACK:
            return (yield from self._conntrack(state))
        if stage.table == ROUTING:
            return (yield from self._routing(state))
        if stage.table == REROUTE:
            host = self.ruleset.host
            previous = state.stages[state.stage - 1].table
            if host is None or host.rerouted_by(state, previous, self.family) is None:
                return self._next_stage(state)
            rerouted: PathState = yield from host.reroute_output(self, state)
            return rerouted
        table = self.ruleset.table(self.family, stage.table)
        hook = table.chain(stage.hook) if table is not None else None
        if table is None or hook is None:
            return self._next_stage(state)
        if stage.table == "nat" and not self.ruleset.conntrack_active(self.family):
            yield StageSkipped(stage.hook, stage.table, "conntrack is not active, so nat "
                               "is never consulted"), state
            return self._next_stage(state)
        if stage.table == "nat":
            holds, fails = self._split_state(state, _IS_NEW)
            if not holds:
                yield StageSkipped(stage.hook, stage.table,
                                   "nat chains see only the first packet of a connection"), state
                return self._next_stage(state)
            if fails:
                # fork options are states a new walk can resume from: skipping nat means
                # starting at the next stage
                options = [(s, "ctstate = NEW: nat is consulted") for s in holds]
                options += [(self._next_stage(s), "ctstate ≠ NEW: nat is not consulted")
                            for s in fails]
                state = yield from self._fork(state, None, options)
                if state.stage != options[0][0].stage:
                    return state
        if not hook.rules and hook.policy == "ACCEPT" and not self.events:
            # a chain with only its policy ACCEPT (mangle's, often): the state its walk would
            # leave, in one step; with events, the walk goes through it as through any other
            return self._next_stage(_with_policy(state, table.name, hook.name, "ACCEPT"))
        state = replace(state, chain=stage.hook, index=0, stack=(),
                        trail=(TrailEntry(stage.table, stage.hook, "hook", None),))
        if self.events:
            yield StageStart(stage.hook, stage.table), state
            yield ChainEnter(stage.table, stage.hook, "hook"), state
        return state

    def _receive(self, state: PathState, checks: Receipt
                 ) -> Generator[Snapshot, int | None, PathState]:
        """The drops of the stack on receipt (`receive`), split in the order the concrete
        evaluator decides them: the addresses dropped anywhere, then, for packets that may
        carry one dropped off loopback alone, the interface. The packets that pass stay one
        piece per kind of interface, and most paths do not split at all."""
        dropped, kept = self._split_state(state, checks.anywhere())
        passing: list[PathState] = []
        for piece in kept:
            if not checks.depends_on_interface(piece.current("src"), piece.current("dst")):
                passing.append(piece)
                continue
            on, off = self._split_state(piece, LOOPBACK_IFACE)
            passing += on
            for away in off:
                drop, keep = self._split_state(away, checks.off_loopback())
                dropped += drop
                passing += keep
        options = [(s, _option_label(s, state, "dropped on receipt")) for s in dropped]
        options += [(s, _option_label(s, state, "passes receipt")) for s in passing]
        chosen = yield from self._fork(state, None, options)
        if any(chosen is s for s in dropped):
            state = replace(chosen, verdict="DROP", stopped=RECEIPT_DROP)
            yield Note(f"dropped by {RECEIPT_DROP}: no hook sees the packet"), state
            return state
        return chosen

    # --- one rule ------------------------------------------------------------------------

    def _step(self, state: PathState, stage: Stage) -> Generator[Snapshot, int | None, PathState]:
        table = self.ruleset.table(self.family, stage.table)
        assert table is not None and state.chain is not None
        chain = table.chain(state.chain)
        assert chain is not None
        if state.index >= len(chain.rules):
            return (yield from self._leave_chain(state, stage, table, explicit=False))
        decided: bool | None = None
        own_sets = state.sets is not None or bool(state.unknown_sets)
        if self.skipper is not None and not own_sets:
            # (the skipper's indexes answer for the captured sets, not the path's)
            after, decided = self.skipper.next_decided(table, chain, state.index, state)
            if after > state.index:
                first = state.index + 1
                state = replace(state, index=after)
                if self.events:
                    yield RulesSkipped(table.name, chain.name, first, after), state
                if after >= len(chain.rules):
                    return (yield from self._leave_chain(state, stage, table, explicit=False))
        rule = table.rule(chain, state.index)
        if own_sets and reads_sets(rule):
            rule = rule_for_path(table, chain, state.index, state.sets, state.unknown_sets,
                                 state.env)
        # Every choice this rule makes is split here, before any effect, so each fork option is
        # a state a new walk can resume from: its box decides the rule the same way again.
        effect = rule.action if isinstance(rule.action, Effect) else None
        if decided and (effect is None or effect.when is None):
            # a rule the exact values decide (the skipper just did) holds on the whole
            # branch: splitting would give the branch back, condition by condition
            branch, matched, chosen_effect = state.branch, True, effect
            results = self._all_held(rule)
        else:
            outcomes = self._outcomes(rule, state, effect, bool(decided))
            if len(outcomes) == 1:
                branch, matched, results, chosen_effect = outcomes[0]
            elif not any(matched for _, matched, _, _ in outcomes):
                # The rule fails on every piece, and the pieces make up the branch again
                # (each split is a partition, a draw's weights add up): the walk goes on
                # whole, as the kernel does whatever the undecided condition is. A fork here
                # would give paths that differ only by a condition nothing downstream read.
                branch, matched, chosen_effect = state.branch, False, None
                results = either_way([r for _, _, r, _ in outcomes])
            else:
                shells = []
                for o in outcomes:
                    label = "; ".join(c.text for c in o[0].conditions[len(state.conditions):])
                    shells.append((replace(state, branch=o[0]), label or (
                        "matches" if o[1] else "does not match")))
                chosen = yield from self._fork(state, rule, shells)
                index = next(i for i, (s, _) in enumerate(shells) if s is chosen)
                branch, matched, results, chosen_effect = outcomes[index]
        if branch is not state.branch:
            state = replace(state, branch=branch)
        if self.events:
            yield RuleEvaluated(rule, matched, results), state
        if not matched:
            return replace(state, index=state.index + 1)
        hits = (*state.hits, rule.ref)
        if effect is not None:
            if chosen_effect is None:  # a condition of the target failed, no `otherwise`
                return replace(state, index=state.index + 1, hits=hits)
            return (yield from self._apply(replace(state, hits=hits), stage, rule,
                                           chosen_effect))
        return (yield from self._act(state, hits, stage, table, rule))

    def _all_held(self, rule: CompiledRule) -> tuple[ConditionResult, ...]:
        """The results of a rule whose conditions all held (none when no event reads them)."""
        return tuple([ConditionResult(c, True) for c in rule.conditions]) if self.events else ()

    def _outcomes(self, rule: CompiledRule, state: PathState, effect: Effect | None,
                  decided: bool) -> list[Outcome]:
        """Every way the rule can go on the path: the pieces of its branch, whether the rule
        matched there, its conditions' results, and the effect that applies (a target's own
        condition splits a matching piece further)."""
        evaluated = ([(state.branch, True, self._all_held(rule))] if decided
                     else self._evaluate(rule, state))
        outcomes: list[Outcome] = []
        for branch, matched, results in evaluated:
            if matched and effect is not None and effect.when is not None:
                outcomes += [(b, True, results, e) for b, e in _resolve(effect, branch,
                                                                        state.env)]
            else:
                outcomes.append((branch, matched, results, effect))
        return outcomes

    def _evaluate(self, rule: CompiledRule, state: PathState
                  ) -> list[tuple[Branch, bool, tuple[ConditionResult, ...]]]:
        """Check conditions in order, stopping at the first that fails (as the kernel does)."""
        pending: list[tuple[Branch, tuple[ConditionResult, ...]]] = [(state.branch, ())]
        done: list[tuple[Branch, bool, tuple[ConditionResult, ...]]] = []
        for condition in rule.conditions:
            nxt = []
            for branch, results in pending:
                holds, fails = split(condition.pred, branch, state.env, state.jumps)
                for b in holds:
                    nxt.append((b, (*results, ConditionResult(condition, True))))
                for b in fails:
                    done.append((b, False, (*results, ConditionResult(condition, False))))
            pending = nxt
            if not pending:
                break
        for branch, results in pending:
            done.append((branch, True, results))
        # matching paths first: the default walk follows the rule
        done.sort(key=lambda item: not item[1])
        return done

    def _act(self, state: PathState, hits: tuple[RuleRef, ...], stage: Stage,
             table: CompiledTable, rule: CompiledRule
             ) -> Generator[Snapshot, int | None, PathState]:
        """The matched rule's action; `hits` (the rule among them) go into the state the
        action makes, not into one of their own (a trace makes ~100 states)."""
        action = rule.action
        if action is None:
            return replace(state, index=state.index + 1, hits=hits)
        if isinstance(action, Jump | Goto):
            goto = isinstance(action, Goto)
            stack = state.stack
            if not goto:
                stack = (*stack, Frame(rule.chain, state.index + 1, rule.number,
                                       len(state.trail)))
            trail = (*state.trail, TrailEntry(table.name, action.chain,
                                             "goto" if goto else "jump", rule.number))
            state = replace(state, chain=action.chain, index=0, stack=stack, trail=trail,
                            jumps=state.jumps + 1, hits=hits)
            if self.events:
                yield ChainEnter(table.name, action.chain, "goto" if goto else "jump",
                                 rule.chain, rule.number, len(stack)), state
            return state
        state = replace(state, hits=hits)
        if isinstance(action, Return):
            return (yield from self._leave_chain(state, stage, table, explicit=True))
        return (yield from self._apply(state, stage, rule, action))

    def _apply(self, state: PathState, stage: Stage, rule: CompiledRule, effect: Effect
               ) -> Generator[Snapshot, int | None, PathState]:
        if effect.changes:
            state, changes = self._changed(state, rule, effect.changes)
        else:
            changes = ()
        if effect.updates:
            before = self.ruleset.sets if state.sets is None else state.sets
            sets, unknown = apply_updates(effect.updates, before, state.unknown_sets,
                                          state.current, state.env,
                                          f"{rule.table}:{rule.chain}:{rule.number}")
            if sets is not before or unknown != state.unknown_sets:
                state = replace(state, sets=sets, unknown_sets=unknown)
        if self.events:
            yield TargetApplied(rule, changes, effect.verdict, effect.note), state
        verdict = effect.verdict
        if verdict is None:
            return replace(state, index=state.index + 1)
        state = replace(state, decisions=(*state.decisions, (rule.table, rule.chain, rule.number)))
        if verdict == "ACCEPT":
            if self.events:
                yield StageEnd(stage.hook, stage.table, "ACCEPT"), state
            return self._next_stage(state)
        return replace(state, verdict=verdict)

    def _changed(self, state: PathState, rule: CompiledRule, changes: tuple[Change, ...]
                 ) -> tuple[PathState, tuple[FieldChange, ...]]:
        """The state after a target's changes, made in order (a change reads the fields as
        the ones before it left them), and each field's values before and after (for the
        event; not computed when the walk makes no events)."""
        draft = _Draft(dict(state.env), state.box, dict(state.labels), state.fresh)
        out = []
        for change in changes:
            name = _field_of(change)
            before = draft.current(name) if self.events else None
            draft.apply(change, rule)
            if before is not None:
                out.append(FieldChange(name, before, draft.current(name), self.family))
        branch = state.branch
        state = replace(state, env=draft.env, branch=Branch(draft.box, branch.weight,
                                                            branch.conditions),
                        fresh=draft.fresh, labels=draft.labels)
        return state, tuple(out)

    def _leave_chain(self, state: PathState, stage: Stage, table: CompiledTable,
                     explicit: bool) -> Generator[Snapshot, int | None, PathState]:
        assert state.chain is not None
        if state.stack:
            frame = state.stack[-1]
            from_chain = state.chain
            state = replace(state, chain=frame.chain, index=frame.index, stack=state.stack[:-1],
                            trail=state.trail[: frame.trail])
            if self.events:
                yield (ChainReturn(table.name, from_chain, frame.chain, frame.rule, explicit),
                       state)
            return state
        builtin = table.chain(stage.hook)
        assert builtin is not None and builtin.policy is not None
        policy = builtin.policy
        state = _with_policy(state, table.name, stage.hook, policy)
        if self.events:
            yield PolicyApplied(table.name, stage.hook, policy), state
            if policy == "ACCEPT":
                yield StageEnd(stage.hook, stage.table, "ACCEPT"), state
        if policy == "ACCEPT":
            return self._next_stage(state)
        return replace(state, verdict=policy)

    # --- conntrack and routing -----------------------------------------------------------

    def _conntrack(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        if not self.ruleset.conntrack_active(self.family):
            yield Note("conntrack: not active (no rule needs it): nothing is tracked and the "
                       "nat tables see no packet"), state
            return self._next_stage(state)
        env = dict(state.env)
        if env.get("ctstate") != "ctstate" and state.current("ctstate") == IntSet.single(
                UNTRACKED, len(CT_STATES) - 1):
            yield Note("conntrack: the packet is untracked (NOTRACK / CT --notrack)"), state
            return self._next_stage(state)
        if env.get("ctstate") != "ctstate":
            # the lookup decides now (raw saw no connection, or a CT template's NEW)
            env["ctstate"] = "ctstate"
            state = replace(state, env=env)
        holds, fails = self._split_state(state, _IS_NEW)
        options = [(self._next_stage(self._bind_new_connection(s)), "ctstate = NEW")
                   for s in holds]
        options += [(self._next_stage(s), "ctstate ≠ NEW") for s in fails]
        return (yield from self._fork(state, None, options))

    def _bind_new_connection(self, state: PathState) -> PathState:
        """A new connection's entry describes this very packet: original tuple = its fields,
        reply tuple = the reverse, mark and status zero, direction ORIGINAL."""
        env = dict(state.env)
        box = state.box

        def alias(ct_field: str, packet_field: str) -> None:
            target = env.get(packet_field, packet_field)
            assert isinstance(target, str)
            env[ct_field] = target

        for ct_field, packet_field in (
            ("ctorigsrc", "src"), ("ctorigdst", "dst"), ("ctreplsrc", "dst"),
            ("ctrepldst", "src"), ("ctorigsrcport", "sport"), ("ctorigdstport", "dport"),
            ("ctreplsrcport", "dport"), ("ctrepldstport", "sport"),
        ):
            alias(ct_field, packet_field)
        env["ctmark"] = BitsExpr((), 0, 32)
        env["ctstatus"] = BitsExpr((), 0, 8)
        box = box.with_("ctdir@new", _ORIGINAL)
        env["ctdir"] = "ctdir@new"
        branch = state.branch
        return replace(state, env=env, branch=Branch(box, branch.weight, branch.conditions))

    def _routing(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        host = self.ruleset.host
        if state.path == "out":
            if host is None:  # the output interface as given (or open), as it always was
                return self._next_stage(state)
            sent: PathState = yield from host.route_output(self, state)
            return sent
        rerouted = False  # a bridged packet DNAT sent elsewhere
        if state.path == "forward":
            bridged, routed_pieces = self._split_state(state, _BRIDGED)
            if bridged:
                options = [(s, "the bridge passes it on") for s in bridged]
                options += [(s, "the packet is routed") for s in routed_pieces]
                state = yield from self._fork(state, None, options)
                if any(state is s for s in bridged):
                    if host is None or state.env.get("dst", "dst") == "dst":
                        return (yield from self._bridge(state))
                    rerouted = True
        env = dict(state.env)
        if host is None:
            if state.path == "forward":
                env["oif"] = "oif"
                yield Note("routing: no routes given; forwarded as asked (oif as given)"), state
            else:
                yield Note("routing: no addresses given; delivered locally as asked"), state
            routed = self._next_stage(replace(state, env=env))
        else:
            routed = yield from host.route(self, state)
        if rerouted and routed.verdict is None:
            # br_netfilter routes a bridged packet whose destination DNAT changed: one for
            # the same bridge is still bridged, any other leaves the bridge's ports behind
            if routed.path == "forward" and routed.current("oif").single_value() == (
                    routed.current("iif").single_value()):
                yield Note("routing: DNAT's destination is on the same bridge: bridged"), routed
                return routed
            # it came in by a bridge port and is routed: it leaves by no port
            routed = _with_values(routed, {"physout": _NO_PORT}, "routed, not bridged")
        link = on_link(self.family)
        if link is not None and routed.path == "forward" and routed.verdict is None:
            routed = yield from self._stay_on_link(state, routed, link.destination(),
                                                   LINK_LOCAL_ROUTE)
        if routed.path == "forward" and routed.verdict is None:
            routed = yield from self._forward_ttl(state, routed)
        if link is not None and routed.path == "forward" and routed.verdict is None:
            routed = yield from self._stay_on_link(state, routed, link.source(),
                                                   SOURCE_NOT_FORWARDED)
        return routed

    def _bridge_calls(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        """Where the host's sysctls say br_netfilter does not call this family's tables
        (bridge-nf-call-iptables or -ip6tables 0): a packet the bridge passes between its
        ports meets no table, and one for the bridge itself comes up the stack as the
        bridge's own, without its port (physdev sees none). A bridge whose own switch is on
        (`nf_call_iptables 1` in `ip -d address`) has the tables called all the same: its
        packets name it as `-i`. Checked in a kernel bridge."""
        host = self.ruleset.host
        tool = "ip6tables" if self.family is Family.INET6 else "iptables"
        assert host is not None and host.sysctls is not None
        if host.sysctls.bridge_calls(tool):
            return state
        options: list[tuple[PathState, str]] = []
        pieces = [state]
        calling = host.bridges_calling(tool)
        if calling:
            switch = f"nf_call_{tool}"
            names = sorted(calling)
            which = (f"= {names[0]} (its own {switch} is on)" if len(names) == 1 else
                     f"∈ {{{', '.join(names)}}} (their own {switch} is on)")
            on_own, pieces = self._split_state(state, Test(
                "iif", NameSet.exactly(*names), f"iif {which}",
                f"iif ≠ {names[0]}" if len(names) == 1 else f"iif ∉ {{{', '.join(names)}}}"))
            options += [(s, f"the bridge's own {switch} calls the tables") for s in on_own]
        passed, rest = [], []
        for piece in pieces:
            by_port, others = self._split_state(piece, _BRIDGED)
            passed += by_port
            rest += others
        options += [(replace(s, verdict="ACCEPT", stopped=_BRIDGE_ONLY.format(tool)),
                     "the bridge passes it on, past every table") for s in passed]
        for piece in rest:
            ported, plain = self._split_state(piece, _BRIDGED_IN)
            options += [(s, "not bridged") for s in plain]
            options += [(_with_values(s, {"bridged": _NOT_BRIDGED, "physin": _NO_PORT},
                                      "on the bridge, without br_netfilter"),
                         "for the bridge itself") for s in ported]
        if len(options) == 1 and options[0][0] is state:
            return state
        state = yield from self._fork(state, None, options)
        if state.verdict is not None:
            yield Note(f"the bridge passes it on without the tables: {state.stopped}"), state
        return state

    def _bridge(self, state: PathState) -> Generator[Snapshot, int | None, PathState]:
        """A packet a bridge passes between its ports (br_netfilter calls the tables for it)
        is not routed: its output interface is the bridge as given, and neither the routes,
        the TTL (no decrement, no expiry) nor IPv6 forwarding's checks apply (checked in a
        kernel bridge). One that came in by a port for the bridge's own address is routed,
        and so is one DNAT sent to a destination routed elsewhere (with a host's routes)."""
        env = dict(state.env)
        env["oif"] = "oif"
        dnat = "" if state.env.get("dst", "dst") == "dst" else (
            " (DNAT changed dst: without routes, taken to stay on this bridge)")
        yield Note("routing: bridged (br_netfilter): the bridge passes it on; no route, no "
                   f"TTL change{dnat}"), state
        return self._next_stage(replace(state, env=env))

    def _stay_on_link(self, before: PathState, routed: PathState, addresses: Test,
                      stopped: str) -> Generator[Snapshot, int | None, PathState]:
        """A forwarded packet with `addresses` leaves only by its input interface (`onlink`):
        the pieces of the path that carry them and go out another interface are dropped.
        As in `_forward_ttl`, fork options resume before routing, which decides the same way
        again, so that everything after routing is done once on every path."""
        suspect, clear = self._split_state(routed, addresses)
        if not suspect:
            return routed
        pieces = [(s, False) for s in clear]
        for piece in suspect:
            back, away = self._split_state(
                piece, same_interface(piece.current("iif"), piece.current("oif")))
            pieces += [(s, False) for s in back] + [(s, True) for s in away]
        options = [(replace(before, branch=s.branch),
                    _option_label(s, routed, "dropped" if dropped else "forwarded"))
                   for s, dropped in pieces]
        chosen = yield from self._fork(routed, None, options)
        piece, dropped = pieces[next(i for i, (o, _) in enumerate(options) if o is chosen)]
        routed = replace(routed, branch=piece.branch)
        if not dropped:
            return routed
        routed = replace(routed, verdict="DROP", stopped=stopped)
        yield Note(f"dropped by {stopped}"), routed
        return routed

    def _forward_ttl(self, before: PathState, routed: PathState
                     ) -> Generator[Snapshot, int | None, PathState]:
        """ip_forward / ip6_forward: a TTL (hop limit) of 1 or less expires here, before
        FORWARD; otherwise it is decremented, and FORWARD and POSTROUTING see one less.
        A packet that says nothing of its TTL (and no rule asked) is taken to have one a
        router forwards, as DEFAULTS take it whole: no path for that corner case."""
        target = routed.env.get("ttl", "ttl")
        if isinstance(target, str) and target not in routed.box.values:
            box = routed.box.with_(target, _FORWARDABLE_TTL)
            branch = routed.branch
            routed = replace(routed, branch=Branch(box, branch.weight, branch.conditions))
        holds, fails = self._split_state(routed, _TTL_EXPIRES)
        if holds and fails:
            # fork options resume before routing (which decides the same way again), so that
            # the decrement below is applied once on every path
            options = [(replace(before, branch=s.branch), "ttl ≤ 1: expires") for s in holds]
            options += [(replace(before, branch=s.branch), "ttl > 1: forwarded")
                        for s in fails]
            chosen = yield from self._fork(routed, None, options)
            index = next(i for i, (o, _) in enumerate(options) if o is chosen)
            routed = replace(routed, branch=chosen.branch)
            holds = holds if index < len(holds) else []
        if holds:
            yield Note("forwarding: the TTL expires (ICMP time exceeded): dropped"), routed
            return replace(routed, verdict="DROP", stopped=TTL_EXPIRED)
        env = dict(routed.env)
        target = env.get("ttl", "ttl")
        if isinstance(target, str):
            target = Moved(target, ())
        assert isinstance(target, Moved)
        env["ttl"] = target.then(-1)
        return replace(routed, env=env)


def _option_label(piece: PathState, forked: PathState, outcome: str) -> str:
    """A fork option as the user picks it: the conditions the piece took since the fork,
    then what happens to it."""
    taken = "; ".join(c.text for c in piece.conditions[len(forked.conditions):])
    return f"{taken}: {outcome}" if taken else outcome


def _with_policy(state: PathState, table: str, hook: str, policy: str) -> PathState:
    """A builtin chain ended on its policy: the chain counter it moves, and what decided."""
    return replace(state, policies=(*state.policies, (table, hook, policy)),
                   decisions=(*state.decisions, (table, hook, 0)))


def _resolve(effect: Effect, branch: Branch, env: Mapping[str, str | BitsExpr | Moved]
             ) -> list[tuple[Branch, Effect | None]]:
    """The effect each piece of `branch` gets: `when` holds → `effect`, else `otherwise`
    (itself perhaps conditional), else none (the rule only counts the packet)."""
    if effect.when is None:
        return [(branch, effect)]
    holds, fails = split(effect.when, branch, env)
    out: list[tuple[Branch, Effect | None]] = [(b, effect) for b in holds]
    for b in fails:
        out += _resolve(effect.otherwise, b, env) if effect.otherwise else [(b, None)]
    return out


def _field_of(change: Change) -> str:
    return change.dst if isinstance(change, CopyBits) else change.field


def _bits_expr(env: Mapping[str, str | BitsExpr | Moved], name: str) -> BitsExpr:
    target = env.get(name, name)
    if isinstance(target, BitsExpr):
        return target
    assert isinstance(target, str)  # bit fields are never Moved
    return BitsExpr.var(target, field_spec(name).width)


def _known(expr: BitsExpr, box: Box) -> BitsExpr:
    """`expr` with the bits of exactly known variables folded into its constant, so copying
    them (CONNMARK) cannot clash with other bits."""
    sources = []
    xor = expr.xor
    for var, mask in expr.sources:
        value = box.get(var).single_value()
        if isinstance(value, int):
            xor ^= value & mask
        else:
            sources.append((var, mask))
    return BitsExpr(tuple(sources), xor, expr.width)


def _xor_bits(base: BitsExpr, other: BitsExpr, take: int) -> tuple[BitsExpr, int]:
    """`base ^ (other & take)` bit by bit, and the mask of bits where two variables meet
    (the caller gives those a fresh variable)."""
    width = base.width
    sources: dict[str, int] = {}
    xor = base.xor
    clash = 0
    for i in range(width):
        bit = 1 << i
        base_var = next((v for v, m in base.sources if m & bit), None)
        other_var = next((v for v, m in other.sources if m & bit), None) if take & bit else None
        if take & bit:
            xor ^= other.xor & bit
        if base_var is not None and other_var is not None:
            if base_var != other_var:  # a bit XORed with itself is 0: no clash
                clash |= bit
        elif base_var is not None:
            sources[base_var] = sources.get(base_var, 0) | bit
        elif other_var is not None:
            sources[other_var] = sources.get(other_var, 0) | bit
    return BitsExpr(tuple(sorted(sources.items())), xor, width), clash
