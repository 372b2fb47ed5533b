"""The ipsets as one path sees them, once SET --add-set / --del-set has changed some.

The kernel changes a set the moment the SET target runs, so a `-m set` later in the same
walk (a later rule, chain or table) sees the packet's own key added or gone: the classic
`-j SET --add-set scanners src` followed by `-m set --match-set scanners src -j DROP` drops the
very packet that was added. A path carries the sets it sees (`PathState.sets`, None while they
are the captured ones) and the sets whose contents became unknown (an update whose key was
not exact, `semantics.SetUpdate`). Rules that read sets are compiled again against the path's
view; a condition on a set whose contents are unknown becomes an assumption naming the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .logic import Assume
from .nodes import Match
from .ruleset import CompiledChain, CompiledRule, CompiledTable, Condition
from .semantics import FieldReader, SetUpdate

__all__ = ["apply_updates", "reads_sets", "rule_for_path"]

#: (set name, the change that made its contents unknown), in the order the walk made them
Unknown = tuple[tuple[str, str], ...]


def reads_sets(rule: CompiledRule) -> bool:
    """Whether the rule looks into an ipset: a set match, or a SET target (--map-set)."""
    target = rule.rule.target
    return (target is not None and target.name == "SET") or any(
        c.module == "set" for c in rule.conditions)


def apply_updates(updates: Iterable[SetUpdate], sets: Mapping[str, Any], unknown: Unknown,
                  read: FieldReader, where: str) -> tuple[Mapping[str, Any], Unknown]:
    """The path's sets and unknown sets after a SET target's updates, in order."""
    for update in updates:
        if any(name == update.name for name, _ in unknown):
            continue  # unknown stays unknown
        after = update.apply(sets, read)
        if after is None:
            unknown = (*unknown, (update.name, f"{update.text} by {where}"))
        else:
            sets = after
    return sets, unknown


def rule_for_path(table: CompiledTable, chain: CompiledChain, index: int,
                  sets: Mapping[str, Any] | None, unknown: Unknown) -> CompiledRule:
    """The rule as the path must evaluate it: against the path's sets, with conditions on
    sets of unknown contents (or on list:sets holding one) turned into assumptions."""
    if sets is not None:
        rule = table.compile_with(chain, index, sets)
        view = sets
    else:
        rule = table.rule(chain, index)
        view = table.sets
    if not unknown:
        return rule
    why = {name: text for name, text in unknown}
    conditions = tuple(_unknown(c, rule, why, view) for c in rule.conditions)
    return replace(rule, conditions=conditions)


def _unknown(condition: Condition, rule: CompiledRule, why: Mapping[str, str],
             sets: Mapping[str, Any]) -> Condition:
    written = condition.written
    if condition.module != "set" or not isinstance(written, Match):
        return condition
    name = getattr(written.options, "name", None)
    changed = _changed_within(name, why, sets, frozenset()) if isinstance(name, str) else None
    if changed is None:
        return condition
    text = condition.source
    after = f"(ipset {changed} changed: {why[changed]}, with a key not known exactly)"
    pred = Assume(f"set:{name}@{rule.table}:{rule.chain}:{rule.number}", "set",
                  f"{text} holds {after}", f"{text} does not hold {after}")
    return Condition(pred, written, condition.module, condition.family)


def _changed_within(name: str, why: Mapping[str, str], sets: Mapping[str, Any],
                    seen: frozenset[str]) -> str | None:
    """The set of unknown contents that a lookup in `name` reads, if any (a list:set reads
    its members)."""
    if name in why:
        return name
    ipset = sets.get(name)
    if ipset is None or ipset.type != "list:set" or name in seen:
        return None
    for member in ipset.index.order:
        found = _changed_within(member, why, sets, seen | {name})
        if found is not None:
            return found
    return None
