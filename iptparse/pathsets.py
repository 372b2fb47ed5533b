"""The ipsets as one path sees them, once SET --add-set / --del-set has changed some.

The kernel changes a set the moment the SET target runs, so a `-m set` later in the same
walk (a later rule, chain or table) sees the packet's own key added or gone: the classic
`-j SET --add-set scanners src` followed by `-m set --match-set scanners src -j DROP` drops the
very packet that was added. A path carries the sets it sees (`PathState.sets`, None while they
are the captured ones) and the sets it no longer knows exactly (`Changed`: an update whose key
was not exact, `semantics.SetUpdate`). Rules that read sets are compiled again against the
path's view. A lookup in a set it no longer knows is exact when it reads the very key of the
change (`semantics.SameKey`); otherwise it becomes an assumption naming the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .logic import And, Assume, Env, Not, Or, Pred
from .nodes import Match
from .ruleset import CompiledChain, CompiledRule, CompiledTable, Condition
from .semantics import FieldReader, SameKey, SetUpdate

__all__ = ["Changed", "apply_updates", "reads_sets", "rule_for_path"]


@dataclass(frozen=True, slots=True)
class Changed:
    """A set whose contents the path no longer knows exactly: `why` names the change; `key`
    (with the variables its fields held then, `targets`) says what a later lookup of that
    same key finds, when the change was one such update (None: nothing is known)."""

    name: str
    why: str
    key: SameKey | None = None
    targets: tuple[object, ...] = ()


Unknown = tuple[Changed, ...]


def reads_sets(rule: CompiledRule) -> bool:
    """Whether the rule looks into an ipset: a set match, or a SET target (--map-set)."""
    target = rule.rule.target
    return (target is not None and target.name == "SET") or any(
        c.module == "set" for c in rule.conditions)


def apply_updates(updates: Iterable[SetUpdate], sets: Mapping[str, Any], unknown: Unknown,
                  read: FieldReader, env: Env, where: str
                  ) -> tuple[Mapping[str, Any], Unknown]:
    """The path's sets and changed sets after a SET target's updates, in order."""
    for update in updates:
        why = f"{update.text} by {where}"
        held = next((c for c in unknown if c.name == update.name), None)
        if held is not None:
            # a second change after one not known exactly: nothing is known any more
            if held.key is not None:
                unknown = tuple(Changed(c.name, why) if c is held else c for c in unknown)
            continue
        after = update.apply(sets, read)
        if after is None:
            unknown = (*unknown, Changed(update.name, why))
        elif isinstance(after, SameKey):
            targets = tuple(env.get(f, f) for f in after.fields)
            unknown = (*unknown, Changed(update.name, why, after, targets))
        else:
            sets = after
    return sets, unknown


def rule_for_path(table: CompiledTable, chain: CompiledChain, index: int,
                  sets: Mapping[str, Any] | None, unknown: Unknown, env: Env) -> CompiledRule:
    """The rule as the path must evaluate it: against the path's sets, and for a set the
    path no longer knows exactly, the lookup of the changed key as the change left it, else
    an assumption."""
    if sets is not None:
        rule = table.compile_with(chain, index, sets)
        view = sets
    else:
        rule = table.rule(chain, index)
        view = table.sets
    if not unknown:
        return rule
    changed = {c.name: c for c in unknown}
    conditions = tuple(_lookup(c, rule, changed, view, env) for c in rule.conditions)
    return replace(rule, conditions=conditions)


def _lookup(condition: Condition, rule: CompiledRule, changed: Mapping[str, Changed],
            sets: Mapping[str, Any], env: Env) -> Condition:
    written = condition.written
    if condition.module != "set" or not isinstance(written, Match):
        return condition
    options = written.options
    name = getattr(options, "name", None)
    found = _changed_within(name, changed, sets, frozenset()) if isinstance(name, str) else None
    if found is None:
        return condition
    pred = _same_key_lookup(condition.pred, options, found, env) if found.name == name else None
    if pred is None:
        text = condition.source
        after = f"(ipset {found.name} changed: {found.why}, with a key not known exactly)"
        pred = Assume(f"set:{name}@{rule.table}:{rule.chain}:{rule.number}", "set",
                      f"{text} holds {after}", f"{text} does not hold {after}")
    return Condition(pred, written, condition.module, condition.family)


def _same_key_lookup(pred: Pred, options: Any, change: Changed, env: Env) -> Pred | None:
    """The lookup when it reads the very key the change was made with: before the change, or
    (an add) where the change made it found; never where a delete made it gone."""
    key = change.key
    if key is None or tuple(options.dirs[:len(key.dirs)]) != key.dirs:
        return None
    if options.packets or options.bytes or options.return_nomatch:
        return None
    if any(env.get(f, f) != t for f, t in zip(key.fields, change.targets, strict=True)):
        return None  # a field rewritten since: another key
    core = pred.part if options.invert and isinstance(pred, Not) else pred
    after: Pred = Or((core, key.found)) if key.op == "add" else And((core, Not(key.found)))
    return Not(after) if options.invert else after


def _changed_within(name: str, changed: Mapping[str, Changed], sets: Mapping[str, Any],
                    seen: frozenset[str]) -> Changed | None:
    """The change a lookup in `name` reads, if any (a list:set reads its members)."""
    if name in changed:
        return changed[name]
    ipset = sets.get(name)
    if ipset is None or ipset.type != "list:set" or name in seen:
        return None
    for member in ipset.index.order:
        found = _changed_within(member, changed, sets, seen | {name})
        if found is not None:
            return found
    return None
