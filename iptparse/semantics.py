"""What matches and targets mean: the vocabulary extensions use to describe their semantics.

A match extension compiles its typed options into a predicate (`iptparse.logic`); a target
extension into an `Effect`: an optional verdict, the packet fields it changes, and a note for
the trace. Both see a `CompileContext`: where the rule sits (for naming assumptions), the family,
the ipsets and what is known of the host (addresses, routes) for matches such as `set` and
`addrtype`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .domain import ValueSet
from .logic import Assume, Pred, Step
from .nodes import Family

__all__ = [
    "Change",
    "CompileContext",
    "CopyBits",
    "Effect",
    "FieldReader",
    "HostView",
    "SameKey",
    "SetBits",
    "SetFrom",
    "SetUpdate",
    "SetValue",
    "SetsView",
    "Unmodelled",
]


class HostView(Protocol):
    """What a match may ask of the host: its own addresses (addrtype, REDIRECT, MASQUERADE)."""

    def local_addresses(self, family: Family) -> Any: ...

    def interface_addresses(self, name: str, family: Family) -> Any: ...


@dataclass(frozen=True, slots=True)
class CompileContext:
    """Where a rule sits and what it can refer to while it is compiled."""

    family: Family
    table: str
    chain: str
    rule_number: int
    sets: Mapping[str, Any] = field(default_factory=dict)
    host: HostView | None = None
    #: the hook names whose chains can reach this rule, worked out when first asked (the
    #: graph of a big table's jumps is seconds of work only NETMAP needs); None: unknown
    reach: Callable[[], frozenset[str]] | None = None
    #: which match of its module in the rule this is (1: the first, and every target): a rule
    #: may have two `-m recent` or two `-m statistic`, and the kernel evaluates each on its
    #: own, so each needs its own key
    occurrence: int = 1

    @property
    def hooks(self) -> frozenset[str]:
        """Hook names whose chains can reach this rule (e.g. {"PREROUTING"}); empty when
        unknown."""
        return self.reach() if self.reach is not None else frozenset()

    @property
    def where(self) -> str:
        return f"{self.table}:{self.chain}:{self.rule_number}"

    def key(self, kind: str) -> str:
        """This rule's assumption of a kind, named as users pin it (`limit@filter:INPUT:3`);
        the second match of its module in the rule has its own (`limit#2@filter:INPUT:3`)."""
        if self.occurrence == 1:
            return f"{kind}@{self.where}"
        return f"{kind}#{self.occurrence}@{self.where}"

    def apart(self, text: str, module: str) -> str:
        """A condition's text that says which of the rule's matches of `module` it is, from
        the second on: two draws of one rule read alike otherwise."""
        return text if self.occurrence == 1 else f"{text} ({module} match {self.occurrence})"

    def assume(self, kind: str, text: str, neg_text: str, *, per_visit: bool = False
               ) -> Assume:
        """This rule's assumption of a kind; `per_visit` when evaluating the rule changes
        the state it reads (`Assume.per_visit`). Such a state is the rule's own (a limit's
        bucket, a quota, a counter): the texts name the rule, or two rules with the same rate
        would read as one condition, met and not met on the same path."""
        module = kind.removeprefix("match:")
        text, neg_text = self.apart(text, module), self.apart(neg_text, module)
        if per_visit:
            at = f" at {self.table}:{self.chain} #{self.rule_number}"
            text, neg_text = text + at, neg_text + at
        return Assume(self.key(kind), kind, text, neg_text, per_visit)


# --- target effects ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SetBits:
    """`field = (field & ~mask) ^ value`: every MARK/CONNMARK/TOS form reduces to this."""

    field: str
    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class CopyBits:
    """`dst = (dst & ~clear) ^ (src & take)`: CONNMARK --save-mark / --restore-mark."""

    dst: str
    src: str
    clear: int
    take: int


@dataclass(frozen=True, slots=True)
class SetValue:
    """The field now holds some value of `values` (one value: exactly that one)."""

    field: str
    values: ValueSet
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetFrom:
    """The field now holds a value computed at run time from other fields' current values.

    `fn` gets the current value set of each field in `sources` and returns the set the field
    holds afterwards: one value when the inputs are exact (TOS --and-tos on a known TOS,
    REDIRECT to the known input interface's address), else every value the inputs allow; the
    result is a fresh value, so a later match that narrows it does not narrow the inputs.
    Without `fn` the field shares the very value of its one source (a NAT rewrite's reply
    tuple follows the rewritten address). With `step` the field is its own value moved by a
    saturating step (TTL --ttl-dec/--ttl-inc) or with bits rewritten (TOS, DSCP, ECN --ecn-ip-ect;
    `fn` computes the same): the interpreter keeps it tied to the input value
    (`logic.Moved`), so a later test on the field narrows the input.
    """

    field: str
    sources: tuple[str, ...]
    fn: Callable[[tuple[ValueSet, ...]], ValueSet] | None = None
    text: str = ""
    step: Step | None = None


Change = SetBits | CopyBits | SetValue | SetFrom


@dataclass(frozen=True, slots=True)
class Effect:
    """What a target does: change fields, then end with `verdict` or continue (None).

    Verdicts: ACCEPT (ends this table's traversal; NAT targets end the nat chain this way),
    DROP, REJECT, QUEUE (to userspace), STOLEN (the target consumed the packet: SYNPROXY), and
    UNKNOWN for a target iptparse cannot model.
    `when`/`otherwise` split an effect on a condition (TPROXY finds a socket or drops);
    `otherwise` may itself be conditional (SYNPROXY: a SYN, else a valid cookie ACK, else go on).
    """

    verdict: str | None = None
    changes: tuple[Change, ...] = ()
    note: str = ""
    when: Pred | None = None
    otherwise: Effect | None = None
    updates: tuple[SetUpdate, ...] = ()


#: the ipsets as a path sees them (name → iptparse.ipset.IpSet), and a field's current values
SetsView = Mapping[str, Any]
FieldReader = Callable[[str], ValueSet]


@dataclass(frozen=True, slots=True)
class SetUpdate:
    """SET --add-set / --del-set: the packet's key put into or taken out of an ipset, which
    a later `-m set` in the same walk sees (the kernel changes the set at once).

    `apply(sets, read)` gives the sets after the change (the same mapping when it changes
    nothing); for a key not known exactly, what a later lookup of that very key finds
    (`SameKey`); or None when iptparse cannot say what it does (a set type whose update it
    does not model with such a key): the walk then treats the set's contents as unknown.
    """

    name: str
    text: str
    apply: Callable[[SetsView, FieldReader], SetsView | SameKey | None]


@dataclass(frozen=True, slots=True)
class SameKey:
    """A set update whose key is not exact, as far as a later lookup with the very same key
    can tell: after an add (`op` "add") such a lookup finds the key where `found` holds
    (or where it did before); after a delete it no longer does where `found` holds. The key
    is the same when the lookup has the same `dirs` and reads `fields` that no rewrite has
    touched since."""

    op: Literal["add", "del"]
    dirs: tuple[str, ...]
    fields: tuple[str, ...]
    found: Pred


class Unmodelled(Exception):
    """Raised by an extension that cannot give the semantics of these options (the rule then
    forks on an assumption named after the module)."""


MatchCompiler = Callable[[Any, CompileContext], Pred]
