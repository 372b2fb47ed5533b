"""What the interpreter reports as it walks a packet through netfilter, one event at a time.

The stepper stops on these, the REPL prints them, traces record them. Each is a frozen value
that says where it happened (table, chain, 1-based rule number as `iptables -L --line-numbers`
counts) so any consumer can show the rule as it appears in the dump.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .describe import describe_set

if TYPE_CHECKING:
    from .domain import ValueSet
    from .interp import PathState
    from .nodes import Family
    from .ruleset import CompiledRule, Condition

__all__ = [
    "ChainEnter",
    "ChainReturn",
    "ConditionResult",
    "Event",
    "FieldChange",
    "Finished",
    "Fork",
    "Note",
    "PolicyApplied",
    "RuleEvaluated",
    "RulesSkipped",
    "StageEnd",
    "StageSkipped",
    "StageStart",
    "TargetApplied",
]


@dataclass(frozen=True, slots=True)
class StageStart:
    """A table's traversal begins at a hook (e.g. filter at FORWARD)."""

    hook: str
    table: str


@dataclass(frozen=True, slots=True)
class StageSkipped:
    """A table is not traversed for this packet, and why (nat for a non-NEW packet)."""

    hook: str
    table: str
    reason: str


@dataclass(frozen=True, slots=True)
class StageEnd:
    hook: str
    table: str
    verdict: str


@dataclass(frozen=True, slots=True)
class ChainEnter:
    """Entering a chain: from its hook, by `-j` (a return point is kept) or by `-g`."""

    table: str
    chain: str
    via: str  # "hook", "jump", "goto"
    from_chain: str | None = None
    from_rule: int | None = None
    depth: int = 0


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """A condition's result on the piece of the branch an event describes. None: the path
    does not decide it, and the rule failed whichever way it went (the walk did not fork)."""

    condition: Condition
    holds: bool | None


@dataclass(frozen=True, slots=True)
class RuleEvaluated:
    """A rule was checked; `results` lists each condition checked (in order) and its result."""

    rule: CompiledRule
    matched: bool
    results: tuple[ConditionResult, ...]


@dataclass(frozen=True, slots=True)
class RulesSkipped:
    """Rules `first` to `last` (1-based) of a chain did not match, found without checking each
    in turn: the path's exact fields decide them false (`iptparse.chainindex`). Traces count
    them as rules checked and not matched."""

    table: str
    chain: str
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


class FieldChange:
    """A field a target changed, read as `field, before, after` (texts). The texts are
    rendered when first read: a trace without steps never reads them, and rendering them
    was a fifth of what a DNAT cost such a trace."""

    __slots__ = ("_after", "_before", "_family", "_texts", "field")

    def __init__(self, field: str, before: ValueSet, after: ValueSet, family: Family) -> None:
        self.field = field
        self._before = before
        self._after = after
        self._family = family
        self._texts: tuple[str, str] | None = None

    def texts(self) -> tuple[str, str]:
        if self._texts is None:
            self._texts = (describe_set(self.field, self._before, self._family),
                           describe_set(self.field, self._after, self._family))
        return self._texts

    @property
    def before(self) -> str:
        return self.texts()[0]

    @property
    def after(self) -> str:
        return self.texts()[1]

    def __iter__(self) -> Iterator[str]:
        return iter((self.field, *self.texts()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldChange):
            return NotImplemented
        return (self.field, *self.texts()) == (other.field, *other.texts())

    def __hash__(self) -> int:
        return hash((self.field, *self.texts()))

    def __repr__(self) -> str:
        return f"FieldChange{(self.field, *self.texts())!r}"


@dataclass(frozen=True, slots=True)
class TargetApplied:
    """A matching rule's target took effect; each change reads as (field, before, after)."""

    rule: CompiledRule
    changes: tuple[FieldChange, ...]
    verdict: str | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ChainReturn:
    """Back from a chain: by RETURN (`explicit`) or by falling off its end."""

    table: str
    from_chain: str
    to_chain: str
    to_rule: int  # the rule that jumped; evaluation resumes after it
    explicit: bool


@dataclass(frozen=True, slots=True)
class PolicyApplied:
    table: str
    chain: str
    policy: str


@dataclass(frozen=True, slots=True)
class Note:
    """Something the trace should say that is not a rule: routing decisions, assumptions."""

    text: str


@dataclass(frozen=True, slots=True)
class Fork:
    """The walk splits: `options` are the paths it can take, `labels` say why each one."""

    rule: CompiledRule | None
    options: tuple[PathState, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    verdict: str
    state: PathState


Event = (StageStart | StageSkipped | StageEnd | ChainEnter | RuleEvaluated | RulesSkipped
         | TargetApplied | ChainReturn | PolicyApplied | Note | Fork | Finished)
