"""What the REPL needs to know about a dump at a glance: names to complete, sets the rules use,
the meaning of mark bits. Built once per family from the AST (no rule is compiled for this).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..nodes import Chain, Family, RawOptions, Rule
from ..ruleset import Ruleset
from .markbits import MarkBit, RuleFacts, name_bits

__all__ = ["DumpIndex", "RuleRef"]

VERDICTS = ("ACCEPT", "DROP", "RETURN", "QUEUE")
#: the match module and the target whose --mark / --set-xmark speak of each bit field
MARK_FIELDS = {"mark": ("mark", "MARK"), "ctmark": ("connmark", "CONNMARK")}


@dataclass(frozen=True)
class RuleRef:
    table: str
    chain: str
    number: int


class DumpIndex:
    """Names and facts of one family's dump (the last block of each table wins, as restore)."""

    def __init__(self, ruleset: Ruleset, family: Family) -> None:
        self.family = family
        self.sets: dict[str, Any] = dict(ruleset.sets)
        dump = ruleset.dumps.get(family)
        tables: dict[str, tuple[Chain, ...]] = {}
        if dump is not None:
            for table in dump.tables:
                tables[table.name] = table.chains
        self.tables = tables
        self._mark_bits: dict[str, list[MarkBit]] = {}

    def chains(self, table: str | None = None) -> list[str]:
        """Chain names of one table, or of every table (each name once, dump order)."""
        names: dict[str, None] = {}
        for name, chains in self.tables.items():
            if table is None or name == table:
                names.update((c.name, None) for c in chains)
        return list(names)

    def chain(self, table: str, name: str) -> Chain | None:
        return next((c for c in self.tables.get(table, ()) if c.name == name), None)

    def tables_of(self, chain: str) -> list[str]:
        return [t for t, chains in self.tables.items() if any(c.name == chain for c in chains)]

    def rules(self) -> list[tuple[str, Chain, int, Rule]]:
        return [(t, c, n, r) for t, chains in self.tables.items() for c in chains
                for n, r in enumerate(c.rules, 1)]

    @cached_property
    def targets(self) -> list[str]:
        """Targets the rules use that are not chains, plus the standard verdicts."""
        chains = set(self.chains())
        found = dict.fromkeys(VERDICTS)
        for _, _, _, rule in self.rules():
            if rule.target is not None and rule.target.name not in chains:
                found[rule.target.name] = None
        return list(found)

    @cached_property
    def set_users(self) -> dict[str, list[RuleRef]]:
        """For each ipset name, the rules that match on it (`-m set --match-set NAME …`)."""
        users: dict[str, list[RuleRef]] = {}
        for table, chain, number, rule in self.rules():
            for match in rule.matches:
                name = getattr(match.options, "name", None)
                if match.module == "set" and isinstance(name, str):
                    users.setdefault(name, []).append(RuleRef(table, chain.name, number))
        return users

    @property
    def set_names(self) -> list[str]:
        return list(dict.fromkeys([*self.sets, *self.set_users]))

    def mark_bits(self, field: str) -> list[MarkBit]:
        """The bits of `mark` or `ctmark` that rules test or set, named where they can be."""
        if field not in self._mark_bits:
            self._mark_bits[field] = name_bits(self._facts(field))
        return self._mark_bits[field]

    def _facts(self, field: str) -> list[RuleFacts]:
        module, target_name = MARK_FIELDS[field]
        chains = set(self.chains())
        out = []
        for table, chain, _, rule in self.rules():
            tests, comments, other = [], [], False
            for match in rule.matches:
                options = match.options
                if isinstance(options, RawOptions):
                    other = True
                elif match.module == module and hasattr(options, "mask"):
                    facts: Any = options
                    tests.append((facts.value, facts.mask, bool(facts.invert)))
                elif match.module == "comment" and hasattr(options, "text"):
                    comments.append(options.text)
                else:
                    other = True
            other = other or any(x is not None for x in (rule.src, rule.dst, rule.in_interface,
                                                          rule.out_interface, rule.protocol))
            sets = []
            target = rule.target
            effect: Any = target.options if target is not None else None
            if target is not None and target.name == target_name and hasattr(effect, "mask"):
                sets.append((effect.value, effect.mask))
            out.append(RuleFacts(table, chain.name, tuple(tests), tuple(sets), tuple(comments),
                                 target.name if target else None,
                                 bool(target and (target.goto or target.name in chains)),
                                 other))
        return out
