"""How felix writes one rule: a `cali:<hash>` comment first, then its own comments and matches.

iptables-save prints the address, interface and protocol options before every `-m` match, so
they are given separately (`pre`) and end up in front of the `cali:` comment, as on a real node.
"""

from __future__ import annotations

from ..argv import save_string
from .naming import calico_rule_hash
from .ruleset import Ruleset

__all__ = ["ACCEPT", "ALL_MARKS", "PASS", "SCRATCH0", "Felix", "mark", "set_mark"]

#: felix's default mark bits (IptablesMarkMask 0xffff0000, four bits taken from the bottom).
ACCEPT = 0x10000
PASS = 0x20000
SCRATCH0 = 0x40000
ALL_MARKS = 0xF0000


class Felix:
    """Appends felix-shaped rules to a ruleset, chaining each rule's hash to the one before."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self._previous: dict[tuple[str, str], str] = {}
        self._inserted: dict[tuple[str, str], int] = {}

    def chain(self, table: str, chain: str) -> None:
        """Declare a chain that may stay empty (felix still creates it when it is referenced)."""
        self.ruleset.table(table).chain(chain)

    def add(self, table: str, chain: str, body: str = "", *, pre: str = "",
            comments: tuple[str, ...] = (), insert: bool = False) -> None:
        """Append a rule, or with `insert` put it above every rule felix did not write.

        felix's default ChainInsertMode puts its jumps at the top of the builtin chains, above
        whatever kube-proxy or the distribution put there.
        """
        key = (table, chain)
        rule_id = calico_rule_hash(chain, self._previous.get(key, ""), f"{pre}|{comments}|{body}")
        self._previous[key] = rule_id
        parts = [pre.strip(), f'-m comment --comment "cali:{rule_id}"']
        parts += [f"-m comment --comment {save_string(c)}" for c in comments]
        parts.append(body.strip())
        rule = " ".join(p for p in parts if p)
        rules = self.ruleset.table(table)
        if insert:
            at = self._inserted.get(key, 0)
            rules.insert(chain, at, rule)
            self._inserted[key] = at + 1
        else:
            rules.append(chain, rule)



def mark(value: int, mask: int) -> str:
    return f"-m mark --mark 0x{value:x}/0x{mask:x}"


def set_mark(value: int, mask: int) -> str:
    return f"-j MARK --set-xmark 0x{value:x}/0x{mask:x}"
