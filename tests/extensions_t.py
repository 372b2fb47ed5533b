"""Reader for upstream iptables' per-extension test files (`extensions/*.t`).

Each case is `rule;expected;OK|FAIL` under a `:CHAINS` line and optional `*table` line; `=`
means the rule prints back unchanged. Used by tests/test_extensions_t.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from iptparse.nodes import Family


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    family: Family
    table: str
    chain: str
    rule: str
    expected: str | None  # None for FAIL cases
    ok: bool

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def read_cases(path: Path) -> list[Case]:
    family = Family.INET6 if path.name.startswith("libip6t_") else Family.INET
    table = "filter"
    chains = ["INPUT"]
    cases = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#@%":
            continue
        if line.startswith("*"):
            table = line[1:]
            continue
        if line.startswith(":"):
            chains = line[1:].split(",")
            continue
        fields = line.split(";")
        if len(fields) < 3:
            continue
        rule, expected, result = fields[0], fields[1], fields[2]
        if len(fields) > 3 and fields[3] == "NFT":
            continue  # a case only iptables-nft runs
        ok = result == "OK"
        cases.append(Case(path.name, number, family, table, chains[0], rule,
                          (rule if expected == "=" else expected) if ok else None, ok))
    return cases


def all_cases(folder: Path) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(folder.glob("lib*.t")):
        if path.name.startswith(("libebt_", "libarpt_")):
            continue  # ebtables / arptables: other tools, other grammars
        cases.extend(read_cases(path))
    return cases
