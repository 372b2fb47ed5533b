"""Dispatch indexes: which rules of a big chain a packet can match, without walking them.

kube-proxy's KUBE-SERVICES has a rule per service port (`-d CLUSTER-IP/32 … --dport N`); a
walk that tries them one by one spends ~10,000 rule evaluations on a packet that matches one.
An index maps the value of one field (the one most rules test first: the destination here, the
port in KUBE-NODEPORTS, the interface in Calico's dispatch chains) to the rules that can match
it, in their original order; rules that do not test that field are candidates for every value.

Skipping must change nothing but speed. The general interpreter checks a rule's conditions in
order and forks on the first one the path does not decide, except when the rule fails
whichever way it goes (`interp.either_way`): then the walk goes on whole, unforked. So a rule
is passed over when its conditions, decided in order on the path's exact values, fail before
any is undecided, or when one of them fails whichever way the undecided ones go (`kleene`).
An index needs only its own field exact: a rule whose indexed test (a conjunct) refuses the
value fails whatever comes before the test. Any other rule is checked condition by condition.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol
from weakref import WeakKeyDictionary

from .domain import IntSet, NameSet, ValueSet
from .fields import FieldKind, field_spec
from .logic import And, Assume, Chance, Const, Custom, Not, Or, Pred, Test, pinned, visit_flag
from .nodes import Family
from .ruleset import CompiledChain, CompiledRule, CompiledTable, Ruleset, destination_test

if TYPE_CHECKING:
    from .interp import PathState
    from .nodes import Rule

__all__ = ["INDEX_MIN", "ChainIndex", "ExactValues", "IndexPart", "Lookup", "Questions", "Skipper",
           "build_index", "decide", "decide_rule", "kleene", "next_candidate", "skipper_for",
           "state_lookup"]

#: Chains shorter than this are checked rule by rule.
INDEX_MIN = 16
#: A test on more values than this (and not one prefix) does not go in an index.
MAX_VALUES = 64


#: A field's exact current value (or an assumption flag's, `?key` → 0/1); None when unknown.
Lookup = Callable[[str], "int | str | None"]


class Questions(Protocol):
    """What deciding a predicate on exact values asks of a path; None when it does not know.
    A path's values answer them (`ExactValues`), and so does the concrete evaluator's walk,
    which passes each question to its reader so that a memo sees it."""

    def test(self, field: str, values: ValueSet) -> bool | None:
        """Whether the field's current value is in `values`."""

    def flag(self, var: str) -> int | None:
        """An assumption's pinned value (`?key`): 1 holds, 0 fails."""

    def at_visit(self, key: str) -> int | None:
        """A random draw's value at this visit of its rule (`logic.visit_flag`), or an
        assumption's made per visit, else the user's pin of the rule's: 1 holds, 0 fails."""

    def custom(self, pred: Custom) -> bool | None:
        """A Custom predicate on the current values of its fields."""


def decide(pred: Pred, ask: Questions) -> bool | None:
    """`logic.split` for a path whose fields are single values: whether `pred` holds, checked
    in the order `split` checks it; None at the first part the interpreter would fork on (a
    field not known exactly, a draw not made, an assumption not pinned, a Custom whose fields
    are not all known)."""
    # the commonest kinds first: every comment is a Const, most matches a Test
    if isinstance(pred, Const):
        return pred.value
    if isinstance(pred, Test):
        return ask.test(pred.field, pred.values)
    if isinstance(pred, Custom):
        return ask.custom(pred)
    if isinstance(pred, And):
        for part in pred.parts:
            held = decide(part, ask)
            if held is not True:
                return held
        return True
    if isinstance(pred, Or):
        for part in pred.parts:
            held = decide(part, ask)
            if held is not False:
                return held
        return False
    if isinstance(pred, Not):
        held = decide(pred.part, ask)
        return None if held is None else not held
    if isinstance(pred, Chance):
        if pred.p >= 1 or pred.p <= 0:
            return pred.p >= 1
        drawn = ask.at_visit(pred.key)
        return None if drawn is None else drawn == 1
    if isinstance(pred, Assume):
        pin = ask.at_visit(pred.key) if pred.per_visit else None
        if pin is None:
            pin = pinned(pred, ask.flag)
        return None if pin is None else pin == 1
    return None  # a predicate kind this module does not know: let the interpreter split it


def kleene(pred: Pred, ask: Questions) -> bool | None:
    """`pred` in three-valued logic: True or False when it is so whichever way the parts the
    path does not decide go, else None. Unlike `decide` it looks past an undecided part (an
    And with a false part anywhere is false), which is what a rule that fails whichever way
    needs: the interpreter does not fork on such a rule (`interp.either_way`)."""
    if isinstance(pred, And | Or):
        absorbing = isinstance(pred, Or)  # True absorbs an Or, False an And
        unknown = False
        for part in pred.parts:
            held = kleene(part, ask)
            if held is absorbing:
                return absorbing
            unknown = unknown or held is None
        return None if unknown else not absorbing
    if isinstance(pred, Not):
        held = kleene(pred.part, ask)
        return None if held is None else not held
    return decide(pred, ask)  # a leaf: decided or not


def decide_rule(rule: CompiledRule, ask: Questions) -> bool | None:
    """Whether the rule's conditions hold, checked in order; None at the first undecided,
    unless a condition from there on is false whichever way the undecided ones go (then
    the rule fails on the whole path, as the interpreter finds without forking)."""
    conditions = rule.conditions
    for i, condition in enumerate(conditions):
        held = decide(condition.pred, ask)
        if held is True:
            continue
        if held is None and any(kleene(c.pred, ask) is False for c in conditions[i:]):
            return False
        return held
    return True


class ExactValues:
    """`Questions` answered from a lookup of exact values (a path's, or a mapping's `get`)."""

    __slots__ = ("lookup", "visit")

    def __init__(self, lookup: Lookup, visit: int = 0) -> None:
        self.lookup = lookup
        #: the visit whose random draws `draw` reads (`PathState.jumps`)
        self.visit = visit

    def test(self, field: str, values: ValueSet) -> bool | None:
        value = self.lookup(field)
        return None if value is None else value in values

    def flag(self, var: str) -> int | None:
        value = self.lookup(var)
        return None if value is None else int(value)

    def at_visit(self, key: str) -> int | None:
        value = self.lookup(visit_flag(key, self.visit))
        if value is None:
            value = self.lookup(f"?{key}")
        return None if value is None else int(value)

    def custom(self, pred: Custom) -> bool | None:
        values = []
        for name in pred.fields:
            value = self.lookup(name)
            if value is None:
                return None
            values.append(value)
        return bool(pred.fn(tuple(values)))


class IndexPart:
    """The rules of a chain indexed by one field: for each value, those that can match it.
    A path that does not know the field exactly keeps every rule of the part a candidate."""

    __slots__ = ("exact", "field", "memo", "prefixes", "rules")

    def __init__(self, field: str) -> None:
        self.field = field
        self.exact: dict[Hashable, tuple[int, ...]] = {}  # value → rules, in chain order
        self.prefixes: dict[int, dict[int, list[int]]] = {}  # mask → masked value → rules
        self.rules: tuple[int, ...] = ()  # every rule of the part, in order
        self.memo: dict[Hashable, tuple[int, ...]] = {}

    def candidates(self, value: Hashable) -> tuple[int, ...]:
        """The part's rules that can match when the field holds `value`, in chain order."""
        if not self.prefixes:
            # exact values only (kube-proxy's service addresses): the answer is there as it
            # is, and a memo of recent values would only be thrashed by 10,000 services
            return self.exact.get(value, ())
        found = self.memo.get(value)
        if found is None:
            rules = list(self.exact.get(value, ()))
            if isinstance(value, int):
                for mask, table in self.prefixes.items():
                    rules.extend(table.get(value & mask, ()))
            found = tuple(sorted(set(rules)))
            if len(self.memo) >= 4096:
                self.memo.clear()
            self.memo[value] = found
        return found


class ChainIndex:
    """A big chain's rules by the fields they test: each rule sits in the part of its most
    selective field (a destination address rather than a port shared by a hundred rules), or
    in `always` when it tests none a path can be sure of."""

    __slots__ = ("always", "memo", "parts", "size")

    def __init__(self, size: int, parts: tuple[IndexPart, ...], always: tuple[int, ...]) -> None:
        self.size = size
        self.parts = parts
        self.always = always
        self.memo: dict[tuple[tuple[int, ...], ...], tuple[int, ...]] = {}

    def merge(self, found: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
        """The candidates of the chain, given each part's (in the order of `parts`)."""
        merged = self.memo.get(found)
        if merged is None:
            rules = set(self.always)
            for part in found:
                rules.update(part)
            merged = tuple(sorted(rules))
            if len(self.memo) >= 4096:
                self.memo.clear()
            self.memo[found] = merged
        return merged

    def candidates(self, lookup: Lookup) -> tuple[int, ...]:
        """The rules that can match a path whose exact values `lookup` gives."""
        found = []
        for part in self.parts:
            value = lookup(part.field)
            if value is None:
                found.append(part.rules)
            else:
                found.append(part.candidates(value))
        return self.merge(tuple(found))


def next_candidate(candidates: tuple[int, ...], start: int, size: int) -> int:
    """The first candidate at or after `start` (`size`: none)."""
    i = bisect_left(candidates, start)
    return candidates[i] if i < len(candidates) else size


def _atoms(pred: Pred) -> list[Pred]:
    """A condition as the conjunction the interpreter checks in order."""
    if isinstance(pred, And):
        return [atom for part in pred.parts for atom in _atoms(part)]
    return [pred]


#: the exact values and (mask, value) prefixes a test holds for
Keys = tuple[list[Hashable], list[tuple[int, int]]]


def _keys(test: Test) -> Keys | None:
    """The exact values and (mask, value) prefixes a test holds for, if few enough."""
    kind = field_spec(test.field).kind
    values = test.values
    if isinstance(values, NameSet):
        if kind is not FieldKind.NAME or values.include is None or values.exclude:
            return None
        if any(is_prefix for _, is_prefix in values.include) or len(values.include) > MAX_VALUES:
            return None
        return [text for text, _ in values.include], []
    if not isinstance(values, IntSet) or kind not in (FieldKind.ADDR, FieldKind.INT,
                                                      FieldKind.ENUM):
        return None
    if values.size() <= MAX_VALUES:
        return list(values), []
    if len(values.ranges) == 1:
        lo, hi = values.ranges[0]
        span = hi - lo + 1
        if span & (span - 1) == 0 and lo & (span - 1) == 0:
            return [], [(values.top ^ (span - 1), lo)]
    return None


def _index_tests(rule: CompiledRule) -> dict[str, Keys]:
    """For each field, the keys of the first positive test on it among the conjuncts of the
    rule's conditions: a value it refuses makes the rule fail whichever way the others go."""
    out: dict[str, Keys] = {}
    for condition in rule.conditions:
        for atom in _atoms(condition.pred):
            if isinstance(atom, Test) and atom.field not in out:
                keys = _keys(atom)
                if keys is not None:
                    out[atom.field] = keys
    return out


def _head_tests(rule: Rule) -> dict[str, Keys] | None:
    """The keys of the rule's `-d` when it is a plain conjunct, read off the rule as parsed:
    the same test its compiled conditions start with, without compiling the rest."""
    test = destination_test(rule)
    keys = _keys(test) if test is not None else None
    return {"dst": keys} if keys is not None else None


def build_index(table: CompiledTable, chain: CompiledChain) -> ChainIndex | None:
    """A chain's index, or None when it is short or too few of its rules would be passed
    over for a typical packet.

    Rules with a plain `-d` are first indexed by it alone, uncompiled: kube-proxy's
    KUBE-SERVICES has ten thousand, and compiling them all cost the first trace of a big node
    seconds (the walk compiles the few it enters). When that leaves too many candidates (a
    chain of one address and many ports), every rule is compiled and all its tests weighed."""
    size = len(chain.rules)
    if size < INDEX_MIN:
        return None
    heads = [_head_tests(rule) for rule in chain.rules]
    if any(heads):
        index = _index_of([head if head is not None else _index_tests(table.rule(chain, i))
                           for i, head in enumerate(heads)])
        if index is not None:
            return index
    return _index_of([_index_tests(table.rule(chain, i)) for i in range(size)])


def _index_of(tests: list[dict[str, Keys]]) -> ChainIndex | None:
    """The index of a chain whose rules have these tests (in order), each rule filed under
    the field that leaves the fewest candidates; None when a typical packet would still have
    half the chain to check."""
    size = len(tests)
    keys: dict[str, set[Hashable]] = {}
    counts: dict[str, int] = {}
    for found in tests:
        for name, (exact, prefixes) in found.items():
            keys.setdefault(name, set()).update(exact, prefixes)
            counts[name] = counts.get(name, 0) + 1
    # rules per key: how many candidates a field leaves for one value, on average
    spread = {name: counts[name] / max(len(keys[name]), 1) for name in counts}
    parts: dict[str, IndexPart] = {}
    exacts: dict[str, dict[Hashable, list[int]]] = {}
    members: dict[str, list[int]] = {}
    always = []
    for i, found in enumerate(tests):
        if not found:
            always.append(i)
            continue
        name = min(found, key=lambda n: (spread[n], n))
        exact, prefixes = found[name]
        part = parts.get(name)
        if part is None:
            part = parts[name] = IndexPart(name)
        by_value = exacts.setdefault(name, {})
        for value in exact:
            by_value.setdefault(value, []).append(i)
        for mask, value in prefixes:
            part.prefixes.setdefault(mask, {}).setdefault(value, []).append(i)
        members.setdefault(name, []).append(i)
    expected = len(always) + sum(spread[n] for n in parts)
    if expected > size / 2:
        return None
    for name, part in parts.items():
        part.rules = tuple(members[name])
        part.exact = {value: tuple(sorted(set(rules)))
                      for value, rules in exacts.get(name, {}).items()}
    return ChainIndex(size, tuple(parts.values()), tuple(always))


class Skipper:
    """For the interpreter: the next rule of a chain that the path may match.

    Built per ruleset and family; indexes are built the first time a chain is entered.
    """

    def __init__(self) -> None:
        self.indexes: dict[tuple[str, str], ChainIndex | None] = {}
        #: the last path's exact values (box, env, values): a walk asks again and again with
        #: states that differ only in where they are, and a mark's value is computed anew
        self._last: tuple[object, object, ExactValues] | None = None

    def _values(self, state: PathState) -> ExactValues:
        """The state's exact values, shared by states with the same box and env (values
        depend on nothing else; both are replaced, never changed, when a rule changes the
        packet)."""
        last = self._last
        if last is not None and last[0] is state.branch.box and last[1] is state.env:
            values = last[2]
            values.visit = state.jumps  # read at once, before another state asks
            return values
        values = ExactValues(state_lookup(state), state.jumps)
        self._last = (state.branch.box, state.env, values)
        return values

    def index(self, table: CompiledTable, chain: CompiledChain) -> ChainIndex | None:
        key = (table.name, chain.name)
        if key not in self.indexes:
            self.indexes[key] = build_index(table, chain)
        return self.indexes[key]

    def next(self, table: CompiledTable, chain: CompiledChain, start: int,
             lookup: Lookup | PathState) -> int:
        """The first rule at or after `start` whose conditions the path does not decide
        false in order; `lookup(field)` gives a field's exact current value or None."""
        return self.next_decided(table, chain, start, lookup)[0]

    def next_decided(self, table: CompiledTable, chain: CompiledChain, start: int,
                     lookup: Lookup | PathState) -> tuple[int, bool | None]:
        """`next`, and whether that rule's conditions all hold on the exact values (True) or
        some need the path's sets to decide (None); False past the last rule."""
        values = ExactValues(lookup) if callable(lookup) else self._values(lookup)
        size = len(chain.rules)
        index = self.index(table, chain)
        candidates = index.candidates(values.lookup) if index is not None else None
        while start < size:
            if candidates is not None:
                start = next_candidate(candidates, start, size)
                if start >= size:
                    break
            held = decide_rule(table.rule(chain, start), values)
            if held is not False:
                return start, held
            start += 1
        return start, False


_skippers: WeakKeyDictionary[Ruleset, dict[Family, Skipper]] = WeakKeyDictionary()


def skipper_for(ruleset: Ruleset, family: Family) -> Skipper:
    """The skipper of a ruleset's family, kept while the ruleset lives (indexes are built
    once per chain, not once per trace)."""
    per_family = _skippers.get(ruleset)
    if per_family is None:
        per_family = _skippers[ruleset] = {}
    found = per_family.get(family)
    if found is None:
        found = per_family[family] = Skipper()
    return found


def state_lookup(state: PathState) -> Lookup:
    """Exact current values on an interpreter path, each computed once per call."""
    seen: dict[str, int | str | None] = {}

    def lookup(name: str) -> int | str | None:
        if name in seen:
            return seen[name]
        values = state.box.get(name) if name.startswith("?") else state.current(name)
        value = seen[name] = values.single_value()
        return value

    return lookup
