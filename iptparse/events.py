"""What the interpreter reports as it walks a packet through netfilter, one event at a time.

The stepper stops on these, the REPL prints them, traces record them. Each is a frozen value
that says where it happened (table, chain, 1-based rule number as `iptables -L --line-numbers`
counts) so any consumer can show the rule as it appears in the dump.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .interp import PathState
    from .ruleset import CompiledRule, Condition

__all__ = [
    "ChainEnter",
    "ChainReturn",
    "ConditionResult",
    "Event",
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


@dataclass(frozen=True, slots=True)
class TargetApplied:
    """A matching rule's target took effect; `changes` are (field, before, after) texts."""

    rule: CompiledRule
    changes: tuple[tuple[str, str, str], ...]
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
