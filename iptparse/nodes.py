"""The typed AST of iptables-save / iptables-restore text.

Nodes are frozen and slotted: they are shared between rules (the parser caches repeated match
segments), hashed for deduplication, and sent to worker processes. Source positions live in
`span` fields that are excluded from equality, so two rules that read the same are equal wherever
they came from.

A table holds its chains in declaration order and each chain its rules; this is the shape
iptables-save prints and the interpreter walks. Comment lines found inside a table travel with
the next node (`leading`) so that formatting a hand-written restore file never loses them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Literal

from .source import Span

__all__ = [
    "BUILTIN_CHAINS",
    "TABLES",
    "Address",
    "Blank",
    "Chain",
    "Comment",
    "Counters",
    "Dump",
    "ExtOptions",
    "Family",
    "Interface",
    "Match",
    "Protocol",
    "RawOptions",
    "Rule",
    "Table",
    "TableForm",
    "Target",
]


class Family(enum.Enum):
    """Address family of a dump: iptables-save prints IPv4, ip6tables-save IPv6."""

    INET = "ipv4"
    INET6 = "ipv6"

    # Members are singletons, equal only to themselves: identity hashes them in C, where
    # Enum's own hash (of the name) is a Python call, paid by every lookup keyed by family
    __hash__ = object.__hash__

    @property
    def bits(self) -> int:
        return 32 if self is Family.INET else 128


#: The tables netfilter knows, in the order of their hook priorities.
TABLES: tuple[str, ...] = ("raw", "mangle", "nat", "filter", "security")

#: Builtin chains of each table, in the order iptables-save prints them (hook order).
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}


@dataclass(frozen=True, slots=True)
class Counters:
    """Packet and byte counters, as `[packets:bytes]` in iptables-save -c."""

    packets: int = 0
    bytes: int = 0

    def __str__(self) -> str:
        return f"[{self.packets}:{self.bytes}]"


@dataclass(frozen=True, slots=True)
class Address:
    """An address with its mask, as -s/-d hold it: the mask need not be a prefix."""

    family: Family
    address: int
    mask: int

    @property
    def prefix_length(self) -> int | None:
        """The CIDR length when the mask is contiguous, else None (printed as a dotted mask)."""
        full = (1 << self.family.bits) - 1
        inverted = full ^ self.mask
        if inverted & (inverted + 1):
            return None
        return self.family.bits - inverted.bit_length()

    def contains(self, value: int) -> bool:
        return (value & self.mask) == self.address


@dataclass(frozen=True, slots=True)
class Interface:
    """An -i/-o interface name; a trailing '+' matches every name with that prefix."""

    name: str
    invert: bool = False

    @property
    def is_wildcard(self) -> bool:
        return self.name.endswith("+")


@dataclass(frozen=True, slots=True)
class Protocol:
    """An -p protocol by number.

    `spelling` keeps a name that differs from the one today's iptables-save prints (older
    releases printed `icmpv6` where 1.8 prints `ipv6-icmp`) so old dumps format unchanged.
    """

    number: int
    invert: bool = False
    spelling: str | None = field(default=None, compare=False)


class ExtOptions:
    """Base of every extension's typed options; each extension module defines its own."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class RawOptions(ExtOptions):
    """Options of a match or target the registry does not know, kept verbatim.

    `text` is the source text after the module or target name, printed back as it was; `args`
    are the same tokens unquoted, for tools that want to look inside.
    """

    text: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """`-m module options`: the module's name as written and its typed options."""

    module: str
    options: ExtOptions
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Target:
    """`-j NAME options` or `-g CHAIN`: a standard verdict, an extension target or a chain."""

    name: str
    options: ExtOptions | None = None
    goto: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """One `-A CHAIN ...` line (or one of the rules a multi-address line expands to)."""

    chain: str
    src: Address | None = None
    src_invert: bool = False
    dst: Address | None = None
    dst_invert: bool = False
    in_interface: Interface | None = None
    out_interface: Interface | None = None
    protocol: Protocol | None = None
    fragment: bool | None = None  # None: no -f; True: -f; False: ! -f
    matches: tuple[Match, ...] = ()
    target: Target | None = None
    counters: Counters | None = None
    span: Span | None = field(default=None, compare=False, repr=False)
    leading: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: whitespace after the rule as printed (iptables-save 1.4 ended every rule with a space)
    trailing: str = field(default="", compare=False, repr=False)

    def match(self, module: str) -> Match | None:
        """The first match of this module, if the rule has one."""
        for m in self.matches:
            if m.module == module:
                return m
        return None


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain with its rules; builtin chains have a policy, user chains have None."""

    name: str
    policy: str | None = None
    counters: Counters | None = None
    rules: tuple[Rule, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    leading: tuple[str, ...] = field(default=(), compare=False, repr=False)
    declared: bool = field(default=True, compare=False, repr=False)

    @property
    def builtin(self) -> bool:
        return self.policy is not None


#: How a table was printed: by iptables-save (`*name`, `:CHAIN` lines, `COMMIT`), or by
#: `iptables [-t name] -S` (`-P`/`-N`/`-A` lines only), with `-v` its counters as `-c P B`.
TableForm = Literal["save", "list-rules", "list-rules-counters"]


@dataclass(frozen=True, slots=True)
class Table:
    """`*name` … `COMMIT`: the chains of one table in the order iptables-save prints them."""

    name: str
    chains: tuple[Chain, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    leading: tuple[str, ...] = field(default=(), compare=False, repr=False)
    trailing: tuple[str, ...] = field(default=(), compare=False, repr=False)
    form: TableForm = field(default="save", compare=False, repr=False)

    def chain(self, name: str) -> Chain | None:
        for c in self.chains:
            if c.name == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` line outside tables (iptables-save's Generated/Completed lines among them)."""

    text: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Blank:
    """An empty line outside tables, kept so formatting reproduces the file (`text` holds
    the line's whitespace, if any)."""

    span: Span | None = field(default=None, compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)


TopItem = Table | Comment | Blank


@dataclass(frozen=True, slots=True)
class Dump:
    """A whole iptables-save / ip6tables-save / restore file."""

    family: Family
    items: tuple[TopItem, ...] = ()
    final_newline: bool = field(default=True, compare=False, repr=False)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(item for item in self.items if isinstance(item, Table))

    def printed_as(self, form: TableForm) -> Dump:
        """The same dump, every table to be printed in `form` (`iptables -S` output as
        iptables-save would print it, for iptables-restore)."""
        return replace(self, items=tuple(replace(item, form=form) if isinstance(item, Table)
                                         else item for item in self.items))

    def table(self, name: str) -> Table | None:
        for t in self.tables:
            if t.name == name:
                return t
        return None
