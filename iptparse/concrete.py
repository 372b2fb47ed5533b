"""The fast evaluation of concrete packets: outcomes without the interpreter's states.

A packet whose fields are all exact needs no sets: each condition is decided on plain values
(`chainindex.decide`, the walk answering its questions), big chains are entered through their
indexes, effects are applied to the values directly. The walk follows `interp.Interpreter` step
for step (stages, conntrack, routing, chain traversal, targets) and reads the predicates and
effects the extensions give, so it follows their semantics as they change. Every question it
asks of the packet goes through a `Reader`, which lets `concrete_memo` remember outcomes by
their answers. Batch evaluation uses it; tests hold it equal to `trace` on corpora and
generated rulesets.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

from .chainindex import IndexPart, decide, decide_rule, skipper_for
from .collector import without_collection
from .domain import IntSet, NameSet, ValueSet
from .fields import CT_STATES, field_spec
from .interp import (
    CONNTRACK,
    DEFAULTS,
    MAX_STEPS,
    PATHS,
    ROUTING,
    TTL_EXPIRED,
    PathState,
    RuleRef,
    Stage,
    stages_for,
)
from .logic import (
    And,
    Assume,
    Chance,
    Cond,
    Custom,
    Not,
    Or,
    Pred,
    visit_flag,
    visit_texts,
)
from .nodes import Family
from .onlink import LINK_LOCAL_ROUTE, SOURCE_NOT_FORWARDED, on_link
from .packet import Packet
from .receive import RECEIPT_DROP, receipt
from .ruleset import CompiledChain, CompiledRule, CompiledTable, Goto, Jump, Return, Ruleset
from .semantics import Change, CopyBits, Effect, SetBits, SetValue

__all__ = ["ConcretePath", "Evaluator", "Reader", "Undecided", "evaluate"]

NEW = CT_STATES.index("NEW")
INVALID = CT_STATES.index("INVALID")
UNTRACKED = CT_STATES.index("UNTRACKED")
_STATES = len(CT_STATES) - 1
_IS_NEW = IntSet.single(NEW, _STATES)
_IS_UNTRACKED = IntSet.single(UNTRACKED, _STATES)
_EXPIRES = IntSet.range(0, 1, 255)
_LO = NameSet.single("lo")
_BRIDGED = IntSet.single(1, 1)
_NO_PORT = NameSet.single("")

#: Where a field's current value comes from, besides an input field's name: a constant of
#: the path (set by a rule, or by the walk itself), or a value computed from input values.
#: A bit field changed by MARK-like rules is `(input & keep) ^ xor`: (name, keep, xor).
FIXED = ""
DERIVED = "\0"
Origin = str | tuple[str, int, int]


class Reader:
    """How the walk reads the packet: every question whose answer depends on the packet's
    values goes through here (the memo's reader records them to answer later packets)."""

    def __init__(self, inputs: Mapping[str, int | str]) -> None:
        self.inputs = inputs

    def test(self, name: str, values: Hashable) -> bool | None:
        """Whether input field `name` is in `values`; None when the packet does not say."""
        value = self.inputs.get(name)
        return None if value is None else value in values  # type: ignore[operator]

    def test_bits(self, name: str, keep: int, xor: int, values: Hashable) -> bool | None:
        """Whether `(input & keep) ^ xor` is in `values` (a mark some rules changed)."""
        value = self.inputs.get(name)
        if value is None:
            return None
        assert isinstance(value, int)
        return ((value & keep) ^ xor) in values  # type: ignore[operator]

    def candidates(self, index: IndexPart, name: str) -> tuple[int, ...] | None:
        value = self.inputs.get(name)
        return None if value is None else index.candidates(value)

    def call(self, pred: Custom, args: tuple[tuple[bool, int | str | None], ...]
             ) -> bool | None:
        """A Custom predicate on (is an input field name, name or constant) arguments."""
        values = []
        for is_input, value in args:
            if is_input:
                assert isinstance(value, str)
                value = self.inputs.get(value)
            if value is None:
                return None
            values.append(value)
        return bool(pred.fn(tuple(values)))

    def spoil(self) -> None:
        """A value computed from input values was read: the answers do not capture it."""

# --- the evaluator -------------------------------------------------------------------------
# A walk on exact values, as `interp.Interpreter` walks boxes: the same stages, the same
# chain traversal, the same effects; draws and assumptions split the walk in two exactly where
# the interpreter forks (same weights, same condition texts). Whatever the interpreter would
# split on a packet field (a value the packet does not give, a rewrite to several values, a
# route to choose) makes `evaluate` return None: the caller then uses the interpreter.


class Undecided(Exception):
    """The walk needs what exact values cannot give: use the general interpreter."""


class _Flag(Exception):
    """A draw or an assumption not made yet: the walk forks on it."""

    def __init__(self, var: str, p: Fraction | None, text: str, neg_text: str,
                 shown: str = "") -> None:
        super().__init__(var)
        self.var = var
        self.p = p  # None: an assumption (both sides keep the weight)
        self.text = text
        self.neg_text = neg_text
        #: the variable the path's condition names: the rule's key, which users pin
        self.shown = shown or var


@dataclass(frozen=True, slots=True)
class ConcretePath:
    """One outcome: what `trace` reports for the path, without the interpreter's states."""

    verdict: str
    probability: Fraction
    hits: tuple[RuleRef, ...]
    policies: tuple[tuple[str, str, str], ...]
    decision: tuple[str, str, int] | None
    conditions: tuple[Cond, ...]
    #: what gave the verdict when no rule did (`PathState.stopped`)
    stopped: str | None = None


class _Walk:
    """A path on exact values: mutable, copied where the walk forks."""

    __slots__ = ("chain", "conditions", "current", "decisions", "flags", "hits", "index",
                 "jumps", "origin", "policies", "reader", "stack", "stage", "stopped",
                 "verdict", "weight")

    def __init__(self, current: dict[str, int | str], flags: dict[str, int], reader: Reader,
                 origin: dict[str, Origin]) -> None:
        self.current = current
        self.flags = flags
        self.reader = reader
        #: fields whose value is not (still) the input field of the same name: the input
        #: field it is, FIXED or DERIVED
        self.origin = origin
        self.weight = Fraction(1)
        self.conditions: list[Cond] = []
        self.hits: list[RuleRef] = []
        self.policies: list[tuple[str, str, str]] = []
        self.decisions: list[tuple[str, str, int]] = []
        self.verdict: str | None = None
        self.stopped: str | None = None
        self.stage = 0
        self.chain: str | None = None
        self.index = 0
        self.stack: list[tuple[str, int]] = []
        #: jumps and gotos taken so far (`PathState.jumps`): names a visit's flags
        self.jumps = 0

    def copy(self) -> _Walk:
        other = _Walk(dict(self.current), dict(self.flags), self.reader, dict(self.origin))
        other.weight = self.weight
        other.conditions = list(self.conditions)
        other.hits = list(self.hits)
        other.policies = list(self.policies)
        other.decisions = list(self.decisions)
        other.verdict = self.verdict
        other.stopped = self.stopped
        other.stage = self.stage
        other.chain = self.chain
        other.index = self.index
        other.stack = list(self.stack)
        other.jumps = self.jumps
        return other

    def test(self, name: str, values: Hashable) -> bool | None:
        """Whether the field's current value is in `values` (None: not known)."""
        origin = self.origin.get(name, name)
        if isinstance(origin, tuple):
            return self.reader.test_bits(*origin, values)
        if origin is FIXED or origin is DERIVED:
            if origin is DERIVED:
                self.reader.spoil()
            value = self.current.get(name)
            return None if value is None else value in values  # type: ignore[operator]
        return self.reader.test(origin, values)

    def flag(self, var: str) -> int | None:
        """An assumption's value, once made or pinned (`?key`)."""
        return self.flags.get(var)

    def at_visit(self, key: str) -> int | None:
        """A random draw's (or a per-visit assumption's) value at this visit of its rule,
        once made, else the rule's pin."""
        value = self.flags.get(visit_flag(key, self.jumps))
        return self.flags.get(f"?{key}") if value is None else value

    def custom(self, pred: Custom) -> bool | None:
        """A Custom predicate, through the reader: input fields by name, constants of the
        path by value."""
        args: list[tuple[bool, int | str | None]] = []
        for name in pred.fields:
            source = self.input_of(name)
            args.append((True, source) if source is not None else (False, self.current.get(name)))
        return self.reader.call(pred, tuple(args))

    def input_of(self, name: str) -> str | None:
        """The input field holding this field's value unchanged, or None (then a value read
        from `current` is a constant, or spoils a memo when computed from the inputs)."""
        origin = self.origin.get(name, name)
        if isinstance(origin, str) and origin is not FIXED and origin is not DERIVED:
            return origin
        if origin is not FIXED:
            self.reader.spoil()
        return None

    def derive(self, name: str, source: str | None = None) -> None:
        """`name` now holds a value computed from `source` (from itself when None)."""
        origin = self.origin.get(source or name, source or name)
        self.origin[name] = FIXED if origin is FIXED else DERIVED

    def xmark(self, name: str, value: int, mask: int, full: int) -> None:
        """`name` = (name & ~mask) ^ value, for the origin."""
        origin = self.origin.get(name, name)
        if origin is FIXED or origin is DERIVED:
            return
        if isinstance(origin, str):
            origin = (origin, full, 0)
        source, keep, xor = origin
        keep &= ~mask
        self.origin[name] = FIXED if not keep else (source, keep, (xor & ~mask) ^ value)


def _decide_or_fork(pred: Pred, walk: _Walk) -> bool:
    """`decide`, where an unset flag raises _Flag (the walk forks) and anything else the
    walk cannot decide raises Undecided."""
    held = decide(pred, walk)
    if held is not None:
        return held
    # raised without a name: an exception held by a frame of its own traceback is a cycle,
    # which left the cyclic collector half the work of a batch
    raise _first_flag(pred, walk) or Undecided()


def _rule_holds(rule: CompiledRule, walk: _Walk) -> bool:
    """Whether the rule's conditions hold, checked in order. A draw or an assumption not
    made yet forks the walk (_Flag), unless the rule fails whichever way it goes: then the
    interpreter does not fork either (`interp.either_way`)."""
    try:
        return all(_decide_or_fork(condition.pred, walk) for condition in rule.conditions)
    except _Flag as flag:
        if _fails_whichever(rule, walk, flag.var):
            return False
        raise


def _fails_whichever(rule: CompiledRule, walk: _Walk, var: str) -> bool:
    """Whether the rule fails with the flag `var` made either way (and any other flag the
    rule reaches after it)."""
    for value in (1, 0):
        walk.flags[var] = value
        try:
            if _rule_holds(rule, walk):
                return False
        except _Flag:
            return False  # it holds for some choice of a later flag
        finally:
            del walk.flags[var]
    return True


def _first_flag(pred: Pred, walk: _Walk) -> _Flag | None:
    """The draw or assumption `decide` stopped at, if that is what it stopped at."""
    if isinstance(pred, And | Or):
        for part in pred.parts:
            held = decide(part, walk)
            if held is None:
                return _first_flag(part, walk)
            if held is (isinstance(pred, Or)):
                return None
        return None
    if isinstance(pred, Not):
        return _first_flag(pred.part, walk)
    if isinstance(pred, Chance):
        return _Flag(visit_flag(pred.key, walk.jumps), pred.p, *visit_texts(pred, walk.flags))
    if isinstance(pred, Assume):
        if pred.per_visit:
            return _Flag(visit_flag(pred.key, walk.jumps), None, *visit_texts(pred, walk.flags),
                         shown=f"?{pred.key}")
        return _Flag(f"?{pred.key}", None, pred.text, pred.neg_text)
    return None


class Evaluator:
    """Concrete walks through one family of a ruleset (no host: routes need the
    interpreter)."""

    def __init__(self, ruleset: Ruleset, family: Family, *, weak: bool = False) -> None:
        # `weak`: for an evaluator the ruleset keeps (its memo, in `Ruleset.caches`): a strong
        # reference back would make the pair a cycle, freed only by a full collection, which
        # then walks the whole heap for the next thing the process does (1.6 s after a
        # 10k-service node)
        self.ruleset = cast(Ruleset, weakref.proxy(ruleset)) if weak else ruleset
        self.family = family
        self.skipper = skipper_for(ruleset, family)
        # the interpreter tracks connections only when some rule needs it (nat and the
        # conntrack stage are passed over otherwise); rulesets before that rule track always
        active = getattr(ruleset, "conntrack_active", None)
        self.tracking = bool(active(family)) if active is not None else True
        checks = receipt(family)
        self.dropped_on_receipt = checks.pred() if checks is not None else None
        link = on_link(family)
        self.link_route_drop = link.destination_drop() if link else None
        self.link_source_drop = link.source_drop() if link else None

    @without_collection  # a walk's many short-lived objects make no cycles, as trace()'s
    def evaluate(self, packet: Packet, path: str,
                 assumptions: Mapping[str, bool] | None = None,
                 max_paths: int = 10_000) -> list[ConcretePath] | None:
        """Every outcome of `packet` on `path`, or None when the general interpreter must
        walk it (a field it needs is not exact, a host's routes, too many paths)."""
        inputs = self.inputs(packet, path)
        if inputs is None:
            return None
        return self.run(inputs, path, assumptions, max_paths, Reader(inputs))

    def inputs(self, packet: Packet, path: str) -> dict[str, int | str] | None:
        """The packet's values with the interpreter's defaults; None when it cannot be
        walked here (a field given as a set, a host whose routes decide, an unknown path)."""
        if self.ruleset.host is not None or path not in PATHS:
            return None
        inputs = _DEFAULT_VALUES.copy() if path == "out" else _DEFAULT_IN_VALUES.copy()
        for name, values in packet.fields.items():
            value: int | str | None
            if type(values) is IntSet:  # most fields: `single_value` inline (every packet)
                ranges = values.ranges
                if len(ranges) != 1 or ranges[0][0] != ranges[0][1]:
                    return None
                value = ranges[0][0]
            else:
                value = values.single_value()
                if value is None:
                    return None
            inputs[name] = value  # the packet's own values over the defaults
        return inputs

    def run(self, inputs: Mapping[str, int | str], path: str,
            assumptions: Mapping[str, bool] | None, max_paths: int,
            reader: Reader) -> list[ConcretePath] | None:
        """Walk `inputs` (from `inputs()`), reading them only through `reader`."""
        current = dict(inputs)
        current["ctstate"] = INVALID  # before conntrack: no connection
        none = "iif" if path == "out" else "oif"
        current[none] = ""
        origin: dict[str, Origin] = {"ctstate": FIXED, none: FIXED}
        flags = {f"?{key}": int(holds) for key, holds in (assumptions or {}).items()}
        stages = stages_for(PATHS[path])
        pending = [_Walk(current, flags, reader, origin)]
        done: list[ConcretePath] = []
        try:
            while pending:
                walk = pending.pop()
                forks = self._run(walk, stages, inputs, path)
                if forks:
                    pending.extend(forks)
                    if len(pending) + len(done) > max_paths:
                        return None
                    continue
                done.append(_result(walk))
        except Undecided:
            return None
        return done

    # --- the walk --------------------------------------------------------------------------

    def _run(self, walk: _Walk, stages: tuple[Stage, ...], inputs: Mapping[str, int | str],
             path: str) -> list[_Walk]:
        """Walk to the end; at a flag, return the two walks that take each side instead."""
        steps = 0
        while walk.verdict is None:
            steps += 1
            if steps > MAX_STEPS:
                raise Undecided  # a loop: the interpreter reports it
            if walk.stage >= len(stages):
                if path == "out" and walk.test("oif", _LO):
                    # in again over lo: the interpreter's `_loop_back` (which, as here, goes
                    # on only for an output interface known to be lo)
                    raise Undecided
                walk.verdict = "ACCEPT"
                break
            stage = stages[walk.stage]
            try:
                if walk.chain is None:
                    self._begin(walk, stage, inputs, path)
                else:
                    self._step(walk, stage)
            except _Flag as flag:
                return _fork(walk, flag)
        return []

    def _next_stage(self, walk: _Walk) -> None:
        walk.stage += 1
        walk.chain = None
        walk.index = 0
        walk.stack = []

    @staticmethod
    def _stack_drops(walk: _Walk, drop: Pred | None, stopped: str) -> bool:
        """Whether the stack drops the packet outside the tables (`drop` holds on its exact
        values), giving the walk its verdict and reason if so; no check, no drop."""
        if drop is None:
            return False
        dropped = decide(drop, walk)
        if dropped is None:
            raise Undecided
        if dropped:
            walk.verdict = "DROP"
            walk.stopped = stopped
        return dropped

    def _begin(self, walk: _Walk, stage: Stage, inputs: Mapping[str, int | str],
               path: str) -> None:
        current = walk.current
        if walk.stage == 0 and path != "out" and self._stack_drops(
                walk, self.dropped_on_receipt, RECEIPT_DROP):
            return
        if stage.table == CONNTRACK:
            if not self.tracking or walk.test("ctstate", _IS_UNTRACKED):
                self._next_stage(walk)
                return
            # the lookup decides now: the packet's own state
            _set(current, "ctstate", inputs.get("ctstate"))
            walk.origin.pop("ctstate", None)
            new = walk.test("ctstate", _IS_NEW)
            if new is None:
                raise Undecided
            if new:
                for ct_field, packet_field in _NEW_CONNECTION:
                    _set(current, ct_field, current.get(packet_field))
                    walk.origin[ct_field] = walk.origin.get(packet_field, packet_field)
                for ct_field in ("ctmark", "ctstatus", "ctdir"):
                    current[ct_field] = 0
                    walk.origin[ct_field] = FIXED
            self._next_stage(walk)
            return
        if stage.table == ROUTING:
            if path == "forward":
                _set(current, "oif", inputs.get("oif"))
                walk.origin.pop("oif", None)
                bridged = walk.test("bridged", _BRIDGED)
                if bridged:
                    no_port = walk.test("physout", _NO_PORT)
                    bridged = None if no_port is None else not no_port
                if bridged is None:
                    raise Undecided
                if bridged:  # the bridge passes it on (`Interpreter._bridge`)
                    self._next_stage(walk)
                    return
                # in the interpreter's order (`Interpreter._routing`): a link-local
                # destination's route, the hop limit, then the source ip6_forward() refuses
                if self._stack_drops(walk, self.link_route_drop, LINK_LOCAL_ROUTE):
                    return
                expires = walk.test("ttl", _EXPIRES)
                if expires:
                    walk.verdict = "DROP"
                    walk.stopped = TTL_EXPIRED
                    return
                if expires is not None:
                    current["ttl"] = int(current["ttl"]) - 1
                    walk.derive("ttl")
                if self._stack_drops(walk, self.link_source_drop, SOURCE_NOT_FORWARDED):
                    return
            self._next_stage(walk)
            return
        table = self.ruleset.table(self.family, stage.table)
        if table is None or table.chain(stage.hook) is None:
            self._next_stage(walk)
            return
        if stage.table == "nat":
            if not self.tracking:
                self._next_stage(walk)
                return
            new = walk.test("ctstate", _IS_NEW)
            if new is None:
                raise Undecided
            if not new:
                self._next_stage(walk)
                return
        walk.chain = stage.hook
        walk.index = 0
        walk.stack = []

    def _next(self, table: CompiledTable, chain: CompiledChain, start: int,
              walk: _Walk) -> tuple[int, bool | None]:
        """The first rule from `start` that the walk does not decide false (in order, as
        `chainindex.Skipper` finds it), and whether it holds (None: it forks or needs the
        interpreter)."""
        index = self.skipper.index(table, chain)
        candidates = None
        if index is not None:
            found = []
            for part in index.parts:
                source = walk.input_of(part.field)
                if source is None:
                    value = walk.current.get(part.field)
                    answer = None if value is None else part.candidates(value)
                else:  # None when the packet does not give the field
                    answer = walk.reader.candidates(part, source)
                found.append(part.rules if answer is None else answer)
            candidates = index.merge(tuple(found))
        size = len(chain.rules)
        while start < size:
            if candidates is not None:
                i = bisect_left(candidates, start)
                start = candidates[i] if i < len(candidates) else size
                if start >= size:
                    break
            held = decide_rule(table.rule(chain, start), walk)
            if held is not False:
                return start, held
            start += 1
        return start, False

    def _step(self, walk: _Walk, stage: Stage) -> None:
        table = self.ruleset.table(self.family, stage.table)
        assert table is not None and walk.chain is not None
        chain = table.chain(walk.chain)
        assert chain is not None
        walk.index, held = self._next(table, chain, walk.index, walk)
        if walk.index >= len(chain.rules):
            self._leave(walk, stage, table)
            return
        rule = table.rule(chain, walk.index)
        # held None: a draw, an assumption, or what only the interpreter can decide
        if held is None and not _rule_holds(rule, walk):
            walk.index += 1
            return
        action = rule.action
        # the target's own condition first: a fork there re-runs this rule on each side
        effect = _chosen(action, walk) if isinstance(action, Effect) else None
        walk.hits.append(rule.ref)
        if action is None:
            walk.index += 1
        elif isinstance(action, Jump | Goto):
            if isinstance(action, Jump):
                walk.stack.append((rule.chain, walk.index + 1))
            walk.chain = action.chain
            walk.index = 0
            walk.jumps += 1
        elif isinstance(action, Return):
            self._leave(walk, stage, table)
        elif effect is None:
            walk.index += 1  # the target's condition failed and it has no `otherwise`
        else:
            self._apply(walk, stage, rule, effect)

    def _leave(self, walk: _Walk, stage: Stage, table: CompiledTable) -> None:
        if walk.stack:
            walk.chain, walk.index = walk.stack.pop()
            return
        builtin = table.chain(stage.hook)
        assert builtin is not None and builtin.policy is not None
        walk.policies.append((table.name, stage.hook, builtin.policy))
        walk.decisions.append((table.name, stage.hook, 0))
        if builtin.policy == "ACCEPT":
            self._next_stage(walk)
        else:
            walk.verdict = builtin.policy

    def _apply(self, walk: _Walk, stage: Stage, rule: CompiledRule, effect: Effect) -> None:
        if effect.updates:
            raise Undecided  # SET --add-set/--del-set: later lookups see the path's own sets
        for change in effect.changes:
            _change(walk, change, self.family)
        if effect.verdict is None:
            walk.index += 1
            return
        walk.decisions.append((rule.table, rule.chain, rule.number))
        if effect.verdict == "ACCEPT":
            self._next_stage(walk)
        else:
            walk.verdict = effect.verdict


_NEW_CONNECTION = (
    ("ctorigsrc", "src"), ("ctorigdst", "dst"), ("ctreplsrc", "dst"), ("ctrepldst", "src"),
    ("ctorigsrcport", "sport"), ("ctorigdstport", "dport"), ("ctreplsrcport", "dport"),
    ("ctrepldstport", "sport"),
)


def _set(current: dict[str, int | str], name: str, value: int | str | None) -> None:
    if value is None:
        current.pop(name, None)
    else:
        current[name] = value


#: The interpreter's defaults as exact values (read for every packet of a batch).
_DEFAULT_VALUES: dict[str, int | str] = {}
for _name, _values in DEFAULTS.items():
    _value = _values.single_value()
    assert _value is not None, _name
    _DEFAULT_VALUES[_name] = _value
#: on the paths that receive the packet, no local socket is assumed
_DEFAULT_IN_VALUES: dict[str, int | str] = {**_DEFAULT_VALUES, "socket": 0}


def _fork(walk: _Walk, flag: _Flag) -> list[_Walk]:
    """Both sides of a draw or an assumption, as `logic.split` makes them."""
    sides = []
    for value, text, other in ((1, flag.text, flag.neg_text), (0, flag.neg_text, flag.text)):
        side = walk.copy()
        side.flags[flag.var] = value
        if flag.p is not None:
            side.weight *= flag.p if value else 1 - flag.p
            side.conditions.append(Cond("", text, other))
        else:
            side.conditions.append(Cond(flag.shown, text, other))
        sides.append(side)
    return sides


def _chosen(effect: Effect, walk: _Walk) -> Effect | None:
    """The effect that applies (`when`/`otherwise`, as `interp._resolve` picks it)."""
    while effect.when is not None:
        if _decide_or_fork(effect.when, walk):
            return effect
        if effect.otherwise is None:
            return None
        effect = effect.otherwise
    return effect


def _change(walk: _Walk, change: Change, family: Family) -> None:
    """A target's change on exact values; a value that is no longer one is forgotten (a
    rule that reads it then sends the packet to the interpreter)."""
    current = walk.current
    if isinstance(change, SetBits):
        old = current.get(change.field)
        full = (1 << field_spec(change.field).width) - 1
        if change.mask & full == full:  # every bit set: a constant, known or not before
            current[change.field] = change.value & full
        elif isinstance(old, int):
            current[change.field] = (old & ~change.mask) ^ change.value
        else:
            current.pop(change.field, None)
        walk.xmark(change.field, change.value, change.mask, full)
    elif isinstance(change, CopyBits):
        dst, src = current.get(change.dst), current.get(change.src)
        if isinstance(dst, int) and isinstance(src, int):
            current[change.dst] = (dst & ~change.clear) ^ (src & change.take)
        else:
            current.pop(change.dst, None)
        fixed = all(walk.origin.get(n, n) is FIXED for n in (change.dst, change.src))
        walk.origin[change.dst] = FIXED if fixed else DERIVED
    elif isinstance(change, SetValue):
        _set(current, change.field, change.values.single_value())
        walk.origin[change.field] = FIXED
    elif change.fn is None:
        _set(current, change.field, current.get(change.sources[0]))
        walk.origin[change.field] = walk.origin.get(change.sources[0], change.sources[0])
    else:
        sets = tuple(_as_set(name, current.get(name), family) for name in change.sources)
        _set(current, change.field, change.fn(sets).single_value())
        fixed = all(walk.origin.get(n, n) is FIXED for n in change.sources)
        if not fixed:
            # one value whatever the inputs (a DNAT to one port) is a constant too
            wide = tuple(_as_set(n, current.get(n) if walk.origin.get(n, n) is FIXED else None,
                                 family) for n in change.sources)
            fixed = change.fn(wide).single_value() is not None
        walk.origin[change.field] = FIXED if fixed else DERIVED


def _as_set(name: str, value: int | str | None, family: Family) -> ValueSet:
    spec = field_spec(name)
    return spec.top(family) if value is None else spec.single(value, family)


class _Decided:
    """What PathState.decision reads, so both report the same rule."""

    __slots__ = ("decisions", "stopped", "verdict")

    def __init__(self, decisions: tuple[tuple[str, str, int], ...], verdict: str,
                 stopped: str | None) -> None:
        self.decisions = decisions
        self.verdict = verdict
        self.stopped = stopped


def _result(walk: _Walk) -> ConcretePath:
    verdict = walk.verdict or "UNKNOWN"
    decisions = tuple(walk.decisions)
    decision = PathState.decision.fget(  # type: ignore[attr-defined]
        _Decided(decisions, verdict, walk.stopped))
    return ConcretePath(verdict, walk.weight, tuple(walk.hits), tuple(walk.policies), decision,
                        tuple(walk.conditions), walk.stopped)


def evaluate(ruleset: Ruleset, packet: Packet, path: str = "forward", *,
             assumptions: Mapping[str, bool] | None = None,
             max_paths: int = 10_000) -> list[ConcretePath] | None:
    """The outcomes of an exactly known packet (see `Evaluator.evaluate`); None: use
    `iptparse.trace.trace`."""
    family = packet.family or (next(iter(ruleset.dumps)) if len(ruleset.dumps) == 1
                               else Family.INET)
    if family not in ruleset.dumps:
        return None
    return Evaluator(ruleset, family).evaluate(packet, path, assumptions, max_paths)
