"""Why each condition of a rule held or not, in terms of the packet's current values.

`src 10.13.76.26 ∉ cali40s:d0vaXDV0OjdKq6czssWe9SI (15 members)`: the condition's fields with
their values on this path, the relation the rule asks for (negated when it failed), and for a
set match the set's name and size instead of its members. Every leaf test of a condition's
predicate is decided again on the path's state, so the words always agree with the walk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..describe import describe_set, describe_value
from ..domain import IntSet, ValueSet
from ..events import ConditionResult
from ..interp import PathState
from ..logic import And, Assume, Chance, Const, Custom, Not, Or, Pred, Test, negate_text, split
from ..nodes import Family
from ..ruleset import CompiledRule, Condition

__all__ = ["ConditionWhy", "explain_rule"]


@dataclass(frozen=True)
class ConditionWhy:
    condition: Condition
    outcome: bool | None  # None: the known fields do not decide it
    checked: bool  # False: the kernel stopped before this condition
    why: str


def _leaves(pred: Pred) -> Iterator[Pred]:
    if isinstance(pred, And | Or):
        for part in pred.parts:
            yield from _leaves(part)
    elif isinstance(pred, Not):
        yield from _leaves(pred.part)
    else:
        yield pred


def _outcome(pred: Pred, state: PathState) -> bool | None:
    holds, fails = split(pred, state.branch, state.env, state.jumps)
    if holds and fails:
        return None
    return bool(holds)


def _value(field: str, values: ValueSet, family: Family) -> str:
    single = values.single_value()
    if single is not None:
        return describe_value(field, single, family)
    return f"({describe_set(field, values, family)})"


def _relation(field: str, values: ValueSet, family: Family, outcome: bool | None) -> str:
    """`= tcp`, `∉ {…}`, `& 0x10000 ≠ 0x10000`: the test as it turned out."""
    text = f"{field} {describe_set(field, values, family)}"
    if outcome is False:
        text = negate_text(text)
    relation = text[len(field) + 1:]
    return relation if outcome is not None else f"{relation}?"


def _leaf_text(leaf: Pred, state: PathState, family: Family) -> str:
    outcome = _outcome(leaf, state)
    if isinstance(leaf, Test):
        current = _value(leaf.field, state.current(leaf.field), family)
        return f"{leaf.field} {current} {_relation(leaf.field, leaf.values, family, outcome)}"
    if isinstance(leaf, Const):
        return "always holds" if leaf.value else "never holds"
    if isinstance(leaf, Assume | Custom):
        pinned = state.box.get(f"?{leaf.key}")
        if outcome is None:
            return f"unknown ({leaf.text}?): `assume {leaf.key}=true|false` decides it"
        text = leaf.text if outcome else leaf.neg_text
        if isinstance(pinned, IntSet) and pinned.single_value() is not None:
            return f"{text} (assumed: {leaf.key})"
        return text
    if isinstance(leaf, Chance):
        side = {True: "drawn", False: "not drawn", None: "a random draw"}[outcome]
        return f"{leaf.text or f'probability {float(leaf.p):.6g}'}: {side}"
    return repr(leaf)


def _set_text(match_options: Any, pred: Pred, state: PathState, family: Family,
              sets: Mapping[str, Any], outcome: bool | None) -> str | None:
    """For `-m set`: the dimensions' values, ∈/∉, the set's name and size."""
    name = getattr(match_options, "name", None)
    if not isinstance(name, str):
        return None
    fields: list[str] = []
    for leaf in _leaves(pred):
        if isinstance(leaf, Test):
            fields.append(leaf.field)
        elif isinstance(leaf, Custom):
            fields.extend(leaf.fields)
    fields = list(dict.fromkeys(fields))
    if not fields:
        return None
    values = " ".join(f"{f} {_value(f, state.current(f), family)}" for f in fields)
    invert = bool(getattr(match_options, "invert", False))
    ipset = sets.get(name)
    members = getattr(ipset, "members", None)
    size = (f" ({len(members)} member{'' if len(members) == 1 else 's'})"
            if members is not None else "")
    if outcome is None:
        return f"{values} ∈ {name}{size}?"
    inside = outcome != invert
    return f"{values} {'∈' if inside else '∉'} {name}{size}"


def _why(condition: Condition, options: Any, state: PathState, family: Family,
         sets: Mapping[str, Any], outcome: bool | None) -> str:
    if condition.module == "set":
        text = _set_text(options, condition.pred, state, family, sets, outcome)
        if text is not None:
            return text
    parts = [_leaf_text(leaf, state, family) for leaf in _leaves(condition.pred)]
    return "; ".join(parts) if parts else "always holds"


def explain_rule(rule: CompiledRule, state: PathState, results: tuple[ConditionResult, ...]
                 | None, sets: Mapping[str, Any]) -> list[ConditionWhy]:
    """Each condition of `rule`: its outcome (recorded in `results`, or decided now on
    `state` when the rule was not checked yet) and why."""
    family = state.box.family
    ip_count = sum(1 for c in rule.conditions if c.module == "ip")
    out: list[ConditionWhy] = []
    stopped = False
    for i, condition in enumerate(rule.conditions):
        options = (rule.rule.matches[i - ip_count].options
                   if i >= ip_count and i - ip_count < len(rule.rule.matches) else None)
        if stopped:
            out.append(ConditionWhy(condition, None, False,
                                    "not checked: an earlier condition failed"))
            continue
        outcome: bool | None
        if results is not None and i < len(results):
            outcome = results[i].holds
        elif results is not None and not (results and results[-1].holds is None):
            out.append(ConditionWhy(condition, None, False,
                                    "not checked: an earlier condition failed"))
            continue
        else:
            # not checked yet; or past a condition the path left undecided (the rule failed
            # whichever way it went): decided now on the path's values
            outcome = _outcome(condition.pred, state)
        why = _why(condition, options, state, family, sets, outcome)
        out.append(ConditionWhy(condition, outcome, True, why))
        stopped = outcome is False
    return out
