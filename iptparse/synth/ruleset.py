"""A ruleset being assembled, printed as iptables-save prints it or as a program writes it.

Generators add rules chain by chain, in the order a program would write them, and print either
form: `save()` is what iptables-save prints after loading the rules (builtin chains first in
hook order, user chains sorted by name as libiptc keeps them, every rule under its chain), and
`restore()` is the iptables-restore input a program writes (chains in the order they were
declared, rules in the order they were added, interleaved across chains as a program's single
output buffer interleaves them). Rule text is stored as given: generators write rules in the
canonical order the tool prints, so that `save()` equals the real tool's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..nodes import BUILTIN_CHAINS, TABLES

__all__ = ["Ruleset", "TableRules"]


@dataclass(slots=True)
class TableRules:
    """One table: policies of its builtin chains, user chains, and rules per chain."""

    name: str
    policies: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    _written: list[str] = field(default_factory=list)  # the chain of each rule, in write order

    def __post_init__(self) -> None:
        for chain in BUILTIN_CHAINS[self.name]:
            self.policies.setdefault(chain, "ACCEPT")
            self.chains.setdefault(chain, [])

    def chain(self, name: str) -> list[str]:
        """The rule list of `name`, declaring the chain if it is new."""
        return self.chains.setdefault(name, [])

    def append(self, chain: str, rule: str) -> None:
        self.chain(chain).append(rule)
        self._written.append(chain)

    def extend(self, chain: str, rules: list[str]) -> None:
        for rule in rules:
            self.append(chain, rule)

    def insert(self, chain: str, index: int, rule: str) -> None:
        self.chain(chain).insert(index, rule)
        self._written.append(chain)

    def user_chains(self) -> list[str]:
        return [c for c in self.chains if c not in BUILTIN_CHAINS[self.name]]

    def rule_count(self) -> int:
        return sum(len(rules) for rules in self.chains.values())

    def _lines(self, chain_order: list[str], rule_chains: list[str],
               builtins: bool = True) -> list[str]:
        """Header, chain lines, then one rule line per entry of `rule_chains`: each entry takes
        the next rule of that chain, so any interleaving keeps every chain's own order."""
        lines = [f"*{self.name}"]
        if builtins:
            lines += [f":{c} {self.policies[c]} [0:0]" for c in BUILTIN_CHAINS[self.name]]
        lines += [f":{c} - [0:0]" for c in chain_order]
        taken = dict.fromkeys(self.chains, 0)
        for chain in rule_chains:
            rule = self.chains[chain][taken[chain]]
            taken[chain] += 1
            lines.append(f"-A {chain} {rule}" if rule else f"-A {chain}")
        lines.append("COMMIT")
        return lines

    def save(self) -> str:
        """This table as iptables-save prints it (without the dated `#` lines)."""
        order = sorted(self.user_chains(), key=lambda name: name.encode())
        by_chain = [c for c in [*BUILTIN_CHAINS[self.name], *order] for _ in self.chains[c]]
        return "\n".join(self._lines(order, by_chain)) + "\n"

    def restore(self, *, builtins: bool = True) -> str:
        """This table as restore input: chains in declaration order.

        With `builtins=False` the builtin chains are left out entirely (as kube-proxy writes
        its `--noflush` input): their rules are then expected to exist already.
        """
        return "\n".join(self._lines(self.user_chains(), self._written, builtins)) + "\n"


@dataclass(slots=True)
class Ruleset:
    """Tables of one address family, in the order they were first touched."""

    tables: dict[str, TableRules] = field(default_factory=dict)

    def table(self, name: str) -> TableRules:
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}")
        if name not in self.tables:
            self.tables[name] = TableRules(name)
        return self.tables[name]

    def rule_count(self) -> int:
        return sum(t.rule_count() for t in self.tables.values())

    def save(self, order: tuple[str, ...] = TABLES) -> str:
        """All tables as iptables-save prints them, tables in `order` (hook order by default)."""
        return "".join(self.tables[t].save() for t in order if t in self.tables)

    def restore(self, order: tuple[str, ...] | None = None, *, builtins: bool = True) -> str:
        names = order if order is not None else tuple(self.tables)
        return "".join(self.tables[t].restore(builtins=builtins) for t in names
                       if t in self.tables)
