"""Outcomes remembered by the questions that decided them: a decision tree grown from walks.

A concrete walk asks the packet a handful of questions — is the destination in this set, which
rules does the index give for it, what is the connection's state — and the outcome depends on
nothing else. Batches ask the same questions of thousands of packets that differ only in what
no rule reads (ports, pod addresses), so the walk records the questions it asked (each once per
packet, and none that its earlier answers decide) with their answers, and the answers lead from
a root, question by question, to the outcome. A later packet answers the questions along the
tree; when it reaches an outcome no walk is needed, and when it leaves the tree one walk adds
its branch.

A question is kept only when its answer comes from the packet's own values. A walk that reads a
value computed from them (a mark changed by a rule but not wholly, a TTL decremented) could not
be replayed from the answers, so its outcome is not remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from functools import cache
from typing import Any

from .chainindex import IndexPart
from .collector import without_collection
from .concrete import ConcretePath, Evaluator, Reader
from .domain import IntSet, NameSet
from .fields import field_spec
from .logic import Custom
from .nodes import Family
from .packet import Packet
from .ruleset import Ruleset

__all__ = ["Memo", "evaluate"]

#: Questions, by kind: (TEST, field, values), (CANDIDATES, field, index), (CALL, custom
#: predicate, arguments), (BITS, field, (keep, xor, values)), (VALUE, field, None): the
#: field's value itself (None: the packet does not give it).
TEST, CANDIDATES, CALL, BITS, VALUE = 0, 1, 2, 3, 4
Question = tuple[int, object, object]


@cache
def _by_value(name: str) -> bool:
    """Whether a field is asked for its value rather than for membership in each set a rule
    tests: fields of a few values (the connection state, which a kube-proxy walk tests three
    times) and the protocol (a batch sends few, and its rules test it against one set after
    another). One question then stands for all, at the cost of a branch per value."""
    if name == "proto":
        return True
    top = field_spec(name).top(Family.INET)
    return not isinstance(top, NameSet) and top.size() <= 16  # names: patterns generalise


class _Recording(Reader):
    """A reader that keeps each question asked, the first time, with its answer; a question
    that earlier answers of the walk decide is not kept, as the tree's branch decides it for
    every packet that follows it."""

    def __init__(self, inputs: Mapping[str, int | str]) -> None:
        super().__init__(inputs)
        self.answers: dict[Question, Hashable] = {}
        self.asked: list[tuple[Question, Hashable]] = []
        self.replayable = True
        #: fields whose value a kept answer fixed (VALUE), absence included
        self.fixed: set[str] = set()

    def _keep(self, question: Question, answer: Hashable) -> None:
        if question not in self.answers:
            self.answers[question] = answer
            self.asked.append((question, answer))

    def _keep_about(self, name: str, question: Question, answer: Hashable) -> None:
        """Keep a question on one field, unless earlier answers decide it."""
        if name in self.fixed:
            return
        if answer is None or _by_value(name):  # absent: every later question says so too
            self.fixed.add(name)
            self._keep((VALUE, name, None), self.inputs.get(name))
            return
        self._keep(question, answer)

    def test(self, name: str, values: Hashable) -> bool | None:
        answer = super().test(name, values)
        self._keep_about(name, (TEST, name, values), answer)
        return answer

    def test_bits(self, name: str, keep: int, xor: int, values: Hashable) -> bool | None:
        answer = super().test_bits(name, keep, xor, values)
        self._keep_about(name, (BITS, name, (keep, xor, values)), answer)
        return answer

    def candidates(self, index: IndexPart, name: str) -> tuple[int, ...] | None:
        answer = super().candidates(index, name)
        self._keep_about(name, (CANDIDATES, name, index), answer)
        return answer

    def call(self, pred: Custom, args: tuple[tuple[bool, int | str | None], ...]
             ) -> bool | None:
        answer = super().call(pred, args)
        self._keep((CALL, pred, args), answer)
        return answer

    def spoil(self) -> None:
        self.replayable = False


Ask = Callable[[Mapping[str, int | str]], Hashable]


def _asker(question: Question) -> Ask:
    """The question as a function of the packet's values: what `Reader` answers, compiled
    (a tree is walked for every packet of a batch)."""
    kind, name, payload = question
    if kind == CALL:
        assert isinstance(name, Custom) and isinstance(payload, tuple)
        return lambda inputs: Reader(inputs).call(name, payload)
    assert isinstance(name, str)
    if kind == VALUE:
        return lambda inputs: inputs.get(name)
    if kind == CANDIDATES:
        assert isinstance(payload, IndexPart)
        candidates = payload.candidates

        def ask_index(inputs: Mapping[str, int | str]) -> Hashable:
            value = inputs.get(name)
            return None if value is None else candidates(value)
        return ask_index
    if kind == BITS:
        assert isinstance(payload, tuple)
        keep, xor, bits = payload

        def ask_bits(inputs: Mapping[str, int | str]) -> Hashable:
            value = inputs.get(name)
            return None if value is None else ((value & keep) ^ xor) in bits
        return ask_bits
    if isinstance(payload, IntSet) and len(payload.ranges) == 1:
        lo, hi = payload.ranges[0]

        def ask_range(inputs: Mapping[str, int | str]) -> Hashable:
            value = inputs.get(name)
            return None if value is None else lo <= value <= hi  # type: ignore[operator]
        return ask_range
    values: Any = payload
    contains = values.__contains__

    def ask_test(inputs: Mapping[str, int | str]) -> Hashable:
        value = inputs.get(name)
        return None if value is None else contains(value)
    return ask_test


class _Node:
    """Either a question with a child per answer, or an outcome (`done`)."""

    __slots__ = ("ask", "children", "done", "field", "high", "low", "outcome", "question")

    def __init__(self) -> None:
        self.question: Question | None = None
        self.ask: Ask | None = None
        #: the field of a question on its value itself (`low` None) or on one range of it,
        #: `low` to `high`: answered without a call (the connection state, the protocol, a
        #: service's port and address: most of the questions of a batch)
        self.field: str | None = None
        self.low: int | None = None
        self.high = 0
        self.children: dict[Hashable, _Node] = {}
        self.done = False
        self.outcome: list[ConcretePath] | None = None


class Memo:
    """Concrete outcomes of one family of a ruleset, remembered by their questions."""

    def __init__(self, ruleset: Ruleset, family: Family, max_nodes: int = 500_000, *,
                 weak: bool = False) -> None:
        self.evaluator = Evaluator(ruleset, family, weak=weak)  # (weak: the ruleset keeps it)
        self.roots: dict[tuple[object, ...], _Node] = {}
        #: one asker per distinct question, shared by every node that asks it: the same few
        #: questions (ctstate, the mark, a service's port) recur under thousands of nodes,
        #: and a closure each was a third of what a batch kept per packet
        self.askers: dict[Question, tuple[Question, Ask]] = {}
        self.nodes = 0
        self.max_nodes = max_nodes

    @without_collection  # (collections run by allocation counts took a third of a new
    # service's walk; walks make no cycles: tests/perf/test_garbage.py)
    def evaluate(self, packet: Packet, path: str,
                 assumptions: Mapping[str, bool] | None = None,
                 max_paths: int = 10_000) -> list[ConcretePath] | None:
        """As `Evaluator.evaluate`: the outcomes, or None for the general interpreter."""
        inputs = self.evaluator.inputs(packet, path)
        if inputs is None:
            return None
        key = (path, max_paths, tuple(sorted(assumptions.items())) if assumptions else ())
        root = self.roots.get(key)
        if root is None:
            root = self.roots[key] = _Node()
        node = root
        while not node.done:  # the loop every packet of a batch runs: kept to the bone
            name = node.field
            if name is not None:
                value = inputs.get(name)
                low = node.low
                if low is not None and value is not None:
                    value = low <= value <= node.high  # type: ignore[operator]
                child = node.children.get(value)
            else:
                ask = node.ask
                child = node.children.get(ask(inputs)) if ask is not None else None
            if child is None:
                break  # off the tree: a walk adds this branch
            node = child
        else:
            return node.outcome
        recording = _Recording(inputs)
        outcome = self.evaluator.run(inputs, path, assumptions, max_paths, recording)
        if recording.replayable and self.nodes < self.max_nodes:
            self._remember(root, recording.asked, outcome)
        return outcome

    def _remember(self, root: _Node, asked: list[tuple[Question, Hashable]],
                  outcome: list[ConcretePath] | None) -> None:
        node = root
        for question, answer in asked:
            if node.question is None and not node.done:
                shared = self.askers.get(question)
                if shared is None:
                    shared = self.askers[question] = (question, _asker(question))
                node.question, node.ask = shared
                _inline(node, question)
            if node.question != question:
                return  # cannot happen for a deterministic walk; never guess
            child = node.children.get(answer)
            if child is None:
                child = node.children[answer] = _Node()
                self.nodes += 1
            node = child
        if node.question is None:
            node.done = True
            node.outcome = outcome


def _inline(node: _Node, question: Question) -> None:
    """Let the node answer its question itself when it is on a field's value or on one
    range of it, as `_asker` would."""
    kind, name, payload = question
    if kind == VALUE and isinstance(name, str):
        node.field = name
    elif (kind == TEST and isinstance(name, str) and isinstance(payload, IntSet)
          and len(payload.ranges) == 1):
        node.field = name
        node.low, node.high = payload.ranges[0]


#: the memos of a ruleset, per family, in its `caches`: they live and die with it (a memo's
#: evaluator refers to the ruleset, so a weak-keyed map of them would keep every ruleset; it
#: refers to it weakly, so a dropped ruleset is freed at once, not by a full collection)
_CACHE = "concrete_memo"


def evaluate(ruleset: Ruleset, packet: Packet, path: str = "forward", *,
             assumptions: Mapping[str, bool] | None = None,
             max_paths: int = 10_000) -> list[ConcretePath] | None:
    """`concrete.evaluate` with the ruleset's memo (kept while the ruleset lives)."""
    family = packet.family or (next(iter(ruleset.dumps)) if len(ruleset.dumps) == 1
                               else Family.INET)
    if family not in ruleset.dumps:
        return None
    per_family: dict[Family, Memo] | None = ruleset.caches.get(_CACHE)
    if per_family is None:
        per_family = ruleset.caches[_CACHE] = {}
    memo = per_family.get(family)
    if memo is None:
        memo = per_family[family] = Memo(ruleset, family, weak=True)
    return memo.evaluate(packet, path, assumptions, max_paths)
