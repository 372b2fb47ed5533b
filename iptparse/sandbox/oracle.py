"""The kernel's tools as the reference for canonical text.

`kernel_canonical` loads restore input into a fresh namespace with iptables-legacy-restore and
returns what iptables-legacy-save prints for the tables the input names: exactly what
`iptparse fmt` must produce for that input. `ipset_canonical` does the same with ipset.
"""

from __future__ import annotations

import re

from ..nodes import BUILTIN_CHAINS, Family
from .netns import Netns

__all__ = ["KernelRejected", "ipset_canonical", "kernel_canonical", "strip_save_comments"]

_TABLE = re.compile(r"^\*(\w+)", re.M)


class KernelRejected(ValueError):
    """iptables-restore or ipset refused the input; the message is the tool's stderr."""


def strip_save_comments(text: str) -> str:
    """Drop `#` lines (the dated Generated/Completed headers differ on every run)."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def kernel_canonical(text: str, family: Family = Family.INET, *, counters: bool = False,
                     netns: Netns | None = None) -> str:
    """What iptables-legacy-save prints after iptables-legacy-restore -c of `text`.

    Counters in the text are loaded (`-c`); `counters=True` also saves with `-c`, which prints
    `[packets:bytes]` before every rule.
    """
    prefix = "ip6tables" if family is Family.INET6 else "iptables"
    tables = list(dict.fromkeys(_TABLE.findall(text)))
    with _maybe(netns) as ns:
        restore = ns.run([f"{prefix}-legacy-restore", "-c"], input=text, check=False)
        if restore.returncode != 0:
            raise KernelRejected(restore.stderr.strip())
        out = []
        for table in tables:
            save = ns.run([f"{prefix}-legacy-save", "-t", table, *(["-c"] if counters else [])])
            out.append(strip_save_comments(save.stdout))
        # leave the namespace as new for the next caller: no rules, no user chains, every
        # policy ACCEPT and counters zero (restore replaces each table it names)
        empty = "".join(
            f"*{table}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in BUILTIN_CHAINS.get(table, ()))
            + "COMMIT\n" for table in tables if table in BUILTIN_CHAINS)
        ns.run([f"{prefix}-legacy-restore", "-c"], input=empty, check=False)
        return "".join(out)


def ipset_canonical(text: str, *, listing: bool = False, netns: Netns | None = None) -> str:
    """What `ipset save` (or `ipset list`) prints after `ipset restore` of `text`."""
    with _maybe(netns) as ns:
        restore = ns.run(["ipset", "restore"], input=text, check=False)
        if restore.returncode != 0:
            raise KernelRejected(restore.stderr.strip())
        try:
            return ns.run(["ipset", "list" if listing else "save"]).stdout
        finally:
            ns.run(["ipset", "destroy"], check=False)


class _maybe:
    """Use the caller's namespace, or a fresh one for this call."""

    def __init__(self, netns: Netns | None) -> None:
        self.given = netns
        self.own: Netns | None = None

    def __enter__(self) -> Netns:
        if self.given is not None:
            return self.given
        self.own = Netns()
        return self.own.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.own is not None:
            self.own.close()


