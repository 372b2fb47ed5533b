"""Which table each listing of `iptables -S` output is, when a file holds such listings.

`iptables [-t TABLE] -S [-v]` prints one table as commands: `-P` for each builtin chain's
policy, `-N` for each user chain, then the `-A` rules (`-v` adds `-c PACKETS BYTES`), with no
line naming the table. People capture it as often as iptables-save (`iptables -S;
iptables -t nat -S`), so iptparse reads it too.

A comment or a pasted shell prompt that shows the command (`root@node:~# iptables -t nat -S`)
starts the next listing and names its table. Otherwise each listing starts with its run of `-P`
lines. The policies come in hook order, so a policy that does not follow the one before starts
the next listing (a table without rules); a listing of one user chain (`iptables -S CHAIN`)
has no policy and can only come first. The builtin chains a listing's policies name tell its
table: INPUT, FORWARD, OUTPUT is filter
(security has the same chains: a second such listing is security, and so is one with a
SECMARK or CONNSECMARK target); PREROUTING, INPUT, OUTPUT, POSTROUTING is nat; all five are
mangle; PREROUTING, OUTPUT is raw. A listing of part of a table (`iptables -S FORWARD`) is the
first table, in the order filter, nat, mangle, raw, security, that has every builtin chain it
names, and listings of parts of one table in a row are read as that table (chain by chain).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .nodes import BUILTIN_CHAINS, TableForm

__all__ = ["listed_tables", "looks_like_list_output", "looks_like_nft_output",
           "looks_like_prompt", "named_table"]

_COMMAND = re.compile(r"[ \t]*(-[PNA])[ \t]+(\S+)")
_INVOCATION = re.compile(r"\bip6?tables(?:-legacy|-nft)?(?=\s)(.*)")
#: a shell prompt (or none) running an iptables tool: `root@node:~# iptables-save`,
#: `$ sudo iptables -S`
_PROMPT = re.compile(r"(?:(?:[^-:*\[#\s].*?)?[#$>%]\s*)?(?:sudo\s+)?ip6?tables"
                     r"(?:-legacy|-nft)?(?:-save)?(?:\s|$)")
_NFT_TABLE = re.compile(r"table[ \t]+(?:(?:ip|ip6|inet|arp|bridge|netdev)[ \t]+)?\S+[ \t]*\{")
_COUNTERS = re.compile(r"[ \t]-c[ \t]+\d+[ \t]+\d+(?:[ \t]|$)")
_SECMARK = re.compile(r"[ \t]-j[ \t]+(?:CONN)?SECMARK(?:[ \t]|$)")
_PREFERENCE = ("filter", "nat", "mangle", "raw", "security")
_ALL_BUILTINS = frozenset(c for chains in BUILTIN_CHAINS.values() for c in chains)
_HOOK_ORDER = {c: i for i, c in enumerate(BUILTIN_CHAINS["mangle"])}
#: old kernels' nat had no INPUT chain
_EXACT = [(frozenset(BUILTIN_CHAINS[t]), t) for t in _PREFERENCE] + [
    (frozenset({"PREROUTING", "OUTPUT", "POSTROUTING"}), "nat")]


@dataclass
class _Listing:
    line: int
    policies: set[str] = field(default_factory=set)
    appended: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    counters: bool = False
    #: a target only mangle and security take: a listing of INPUT, FORWARD and OUTPUT with
    #: one is security's
    secmark: bool = False
    #: the table the command that printed the listing named (a comment or a pasted prompt)
    named: str | None = None


def listed_tables(text: str) -> dict[int, tuple[str, TableForm]] | None:
    """For `iptables -S` output, the line (1-based) where each listing starts, with its table
    and form; None for anything else (iptables-save output, restore input, …)."""
    listings: list[_Listing] = []
    after_policy = False
    last_hook = 0
    named: str | None = None  # the table the command line just before names
    for number, line in enumerate(_lines(text), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] in "*:[" or stripped == "COMMIT":
            return None  # save layout: a `-P` before `*table` is an error there
        found = _COMMAND.match(line)
        if found is None:
            # a comment or a pasted prompt (`root@node:~# iptables -t nat -S`): it may say
            # which table the next listing is; anything else the parser reports
            named = named_table(stripped)
            continue
        if not listings and found.group(1) == "-A":
            return None  # the tool lists policies or chains first: this is no listing
        command, chain = found.groups()
        hook = _HOOK_ORDER.get(chain, len(_HOOK_ORDER))
        if (command == "-P" and not (after_policy and hook > last_hook)) or not listings or (
                named is not None):
            listings.append(_Listing(number, named=named))
            named = None
        last_hook = hook
        listing = listings[-1]
        if command == "-P":
            listing.policies.add(chain)
        elif command == "-N":
            listing.created.add(chain)
        else:
            listing.appended.add(chain)
        listing.counters |= _COUNTERS.search(line) is not None
        listing.secmark |= _SECMARK.search(line) is not None
        after_policy = command == "-P"
    used: list[str] = []
    out: dict[int, tuple[str, TableForm]] = {}
    previous: tuple[str, bool] | None = None
    for listing in listings:
        table, whole = _table_of(listing, used)
        if previous is not None and not whole and previous == (table, False):
            continue  # `iptables -S INPUT; iptables -S FORWARD`: one table, chain by chain
        used.append(table)
        out[listing.line] = (table, "list-rules-counters" if listing.counters else "list-rules")
        previous = (table, whole)
    return out or None


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` one by one: a save file is told at its `*table` line, without
    splitting all of its megabytes first."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _table_of(listing: _Listing, used: list[str]) -> tuple[str, bool]:
    """The listing's table, and whether the listing has all of its builtin chains."""
    policies = frozenset(listing.policies)
    if listing.named is not None:
        return listing.named, policies == frozenset(BUILTIN_CHAINS[listing.named])
    fits = [t for chains, t in _EXACT if policies == chains]
    if fits:
        if listing.secmark and fits == ["filter", "security"]:
            fits = ["security"]
        fresh = [t for t in fits if t not in used]
        return (fresh or fits)[0], True  # a table listed twice: the parser refuses it
    # part of a table (`iptables -S FORWARD`)
    named = policies | (listing.appended - listing.created) & _ALL_BUILTINS
    fits = [t for t in _PREFERENCE if named <= set(BUILTIN_CHAINS[t])]
    return (fits or ["filter"])[0], False


def named_table(line: str) -> str | None:
    """The table an `iptables … -S` command in the line lists (`-t nat`, `--table=raw`;
    filter without one), or None when the line runs no such command."""
    found = _INVOCATION.search(line)
    if found is None:
        return None
    words = found.group(1).split()
    listing = any(w == "--list-rules" or (w.startswith("-") and not w.startswith("--")
                                          and "S" in w[1:] and "t" not in w[1:])
                  for w in words)
    if not listing:
        return None
    table = "filter"
    for index, word in enumerate(words):
        if word in ("-t", "--table") and index + 1 < len(words):
            table = words[index + 1]
        elif word.startswith("--table="):
            table = word.removeprefix("--table=")
        elif word.startswith("-t") and len(word) > 2 and not word.startswith("--"):
            table = word[2:]
    return table if table in BUILTIN_CHAINS else None


def looks_like_prompt(line: str) -> bool:
    """Whether a line is a shell prompt with the iptables command that printed what follows:
    pasted with the dump, it is no line of it."""
    return _PROMPT.match(line) is not None


def looks_like_nft_output(line: str) -> bool:
    """Whether a line opens a table in `nft list ruleset` output (`table inet filter {`): the
    rules of nftables itself (kube-proxy's nftables mode, firewalld's default backend), which
    iptables-save does not show."""
    return _NFT_TABLE.match(line) is not None


def looks_like_list_output(line: str) -> bool:
    """Whether a line opens a chain in `iptables -L` output (`Chain INPUT (policy ACCEPT)`),
    a table form that leaves out what rules match and cannot be read back."""
    return line.startswith("Chain ") and ("(policy " in line or "references)" in line)
