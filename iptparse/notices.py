"""What iptables-nft says, in its dumps, about rules the dump does not hold.

iptables-nft prints the kernel's nftables tables in iptables' words, and where it cannot it
leaves a `#` line and goes on: a table it cannot show at all (`# Table `filter' is
incompatible, use 'nft' tool.`, up to iptables 1.8.8, the table then missing from the dump) or
base chains only nft can list (`# Table `filter' contains incompatible base-chains, use 'nft'
tool to list them.`, from 1.8.9). On standard error, pasted with the dump as often as not, it
says when iptables-legacy tables are loaded as well. Packets pass all of those rules, so an
answer read from the file alone can be wrong: the parser turns each such line into a warning
that says what is missing and where to find it, and keeps the line as the comment it is.
"""

from __future__ import annotations

import re

__all__ = ["notice"]

_INCOMPATIBLE = re.compile(r"#\s*Table `([^']*)' is incompatible, use 'nft' tool\.?\s*")
_BASE_CHAINS = re.compile(
    r"#\s*Table `([^']*)' contains incompatible base-chains, use 'nft' tool to list them\.?\s*")
_LEGACY = re.compile(r"#\s*Warning: (\S+)-legacy tables present, use (\S+) to see them\.?\s*")


def notice(comment: str) -> str | None:
    """The warning a comment line from iptables-nft calls for, or None for any other comment."""
    if (found := _INCOMPATIBLE.fullmatch(comment)) is not None:
        return (f"iptables-nft left table {found.group(1)} out of this dump: it holds rules "
                "iptables cannot show. Packets still pass them, and answers from this file "
                "leave them out (`nft list ruleset' on the node shows them)")
    if (found := _BASE_CHAINS.fullmatch(comment)) is not None:
        return (f"table {found.group(1)} also has base chains only nft can show, left out of "
                "this dump by iptables-nft. Packets still pass them, and answers from this file "
                "leave them out (`nft list ruleset' on the node shows them)")
    if (found := _LEGACY.fullmatch(comment)) is not None:
        tool = found.group(1)
        return (f"{tool}-legacy tables are loaded on this node as well, and this dump (by "
                f"{tool}-nft) does not hold them. Packets pass their rules too, so answers "
                f"from this file leave them out (`{tool}-legacy-save' prints them)")
    return None
