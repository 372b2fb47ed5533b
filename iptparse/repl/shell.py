"""The debugger session: a ruleset, a packet, a Stepper over them, and the selected frame.

A thin layer: stepping is `iptparse.debug.Stepper`'s; this module only knows where the walk
stands in words a user reads (`filter:cali-tw-calid3b581beed8#4`), which frame `list` looks at,
and dispatches command lines to the registry (commands live in commands.py and views.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from ..debug import Stepper
from ..events import (
    ConditionResult,
    Finished,
    Fork,
    RuleEvaluated,
    StageStart,
    TargetApplied,
)
from ..interp import PathState
from ..nodes import Family
from ..packet import Packet
from ..pathsets import reads_sets, rule_for_path
from ..ruleset import CompiledRule, Ruleset
from ..trace import choose_family
from .index import DumpIndex
from .output import Output
from .registry import CommandError, lookup

__all__ = ["Frame", "Shell", "Where", "split_args"]


@dataclass(frozen=True)
class Where:
    """A position in the walk: a rule of a chain (`rule` None: the chain's end or policy)."""

    table: str
    chain: str
    rule: int | None
    evaluated: bool = False  # the rule at `rule` was just checked (else it is checked next)

    def __str__(self) -> str:
        return f"{self.table}:{self.chain}#{self.rule if self.rule is not None else 'end'}"


@dataclass(frozen=True)
class Frame:
    """One level of `where`: a chain, the rule it stands at, and how it left for the next."""

    table: str
    chain: str
    rule: int | None
    via: str  # how this chain was entered: hook, jump, goto
    evaluated: bool = False


class Shell:
    """State of one REPL session; `execute(line)` runs a command line."""

    def __init__(self, ruleset: Ruleset, output: Output, *, packet: Packet | None = None,
                 path: str = "forward", assumptions: Mapping[str, bool] | None = None,
                 source: str = "") -> None:
        # The commands register themselves when their modules load, and they import this one:
        # loaded here, a Shell made through `iptparse.repl.Shell` alone knows every command.
        from . import commands, views  # noqa: F401

        self.ruleset = ruleset
        self.output = output
        self.source = source
        self.path = path
        self.assumptions: dict[str, bool] = dict(assumptions or {})
        self.stepper: Stepper | None = None
        self.frame = 0  # 0: the innermost chain; up adds one
        self.last_command: str | None = None
        self.done = False
        self._indexes: dict[Family, DumpIndex] = {}
        if packet is not None:
            self.set_packet(packet)
        output.set_chains(self.index.chains())

    # --- the packet and the stepper ------------------------------------------------------

    @property
    def family(self) -> Family:
        if self.stepper is not None:
            return self.stepper.family
        return next(iter(self.ruleset.dumps), Family.INET)

    @property
    def index(self) -> DumpIndex:
        family = self.family
        if family not in self._indexes:
            self._indexes[family] = DumpIndex(self.ruleset, family)
        return self._indexes[family]

    def set_packet(self, packet: Packet) -> None:
        """Start a new walk for `packet` (breakpoints are kept)."""
        choose_family(self.ruleset, packet)  # refuse a family without a dump before anything
        if self.stepper is None:
            self.stepper = Stepper(self.ruleset, packet, self.path,
                                   assumptions=self.assumptions)
        else:
            self.stepper.reset(packet, path=self.path, assumptions=self.assumptions)
        self.frame = 0

    def need_stepper(self) -> Stepper:
        if self.stepper is None:
            raise CommandError("no packet yet: say `packet SPEC` "
                               "(e.g. packet tcp 10.0.0.1:1234 -> 10.0.0.2:80 iif=eth0)")
        return self.stepper

    # --- where the walk is ---------------------------------------------------------------

    @property
    def state(self) -> PathState:
        return self.need_stepper().state

    def where(self) -> Where | None:
        """The innermost position, or None before the walk starts and after it ends."""
        stepper = self.need_stepper()
        snap = stepper.current
        if snap is None:
            return None
        event, state = snap
        if isinstance(event, Finished):
            return None
        rule = _rule_of(event)
        if rule is not None:
            return Where(rule.table, rule.chain, rule.number,
                         evaluated=not isinstance(event, Fork))
        if state.chain is None or state.stage >= len(state.stages):
            return None
        table = state.stages[state.stage].table
        compiled = self.ruleset.table(stepper.family, table)
        chain = compiled.chain(state.chain) if compiled else None
        if chain is None:
            return None
        number = state.index + 1 if state.index < len(chain.rules) else None
        return Where(table, state.chain, number)

    def frames(self) -> list[Frame]:
        """The chain path from the hook (first) to the current chain (last)."""
        here = self.where()
        trail = self.state.trail
        if here is None or not trail:
            return []
        out = []
        for i, entry in enumerate(trail):
            if i + 1 < len(trail):
                out.append(Frame(entry.table, entry.chain, trail[i + 1].rule, entry.via, True))
            else:
                out.append(Frame(entry.table, entry.chain, here.rule, entry.via,
                                 here.evaluated))
        return out

    def selected_frame(self) -> Frame | None:
        frames = self.frames()
        if not frames:
            return None
        self.frame = min(self.frame, len(frames) - 1)
        return frames[len(frames) - 1 - self.frame]

    def prompt_parts(self) -> list[tuple[str, str]]:
        """(style class, text) pieces of the prompt: `filter:CHAIN#N> `."""
        if self.stepper is None:
            return [("class:prompt.start", "(no packet)"), ("class:prompt.arrow", "> ")]
        if self.stepper.finished:
            verdict = self.state.verdict or "UNKNOWN"
            return [("class:prompt.verdict", f"({verdict})"), ("class:prompt.arrow", "> ")]
        here = self.where()
        if here is None:
            state = self.state
            label = "(start)"
            if self.stepper.current is not None and state.stage < len(state.stages):
                stage = state.stages[state.stage]
                label = f"({stage.hook})" if stage.table == stage.hook else (
                    f"({stage.table} {stage.hook})")
            return [("class:prompt.start", label), ("class:prompt.arrow", "> ")]
        number = str(here.rule) if here.rule is not None else "end"
        return [("class:prompt.table", f"{here.table}:"), ("class:prompt.chain", here.chain),
                ("class:prompt.rule", f"#{number}"), ("class:prompt.arrow", "> ")]

    def prompt_text(self) -> str:
        return "".join(text for _, text in self.prompt_parts())

    # --- rules ---------------------------------------------------------------------------

    def rule(self, table: str, chain: str, number: int) -> CompiledRule:
        compiled = self.ruleset.table(self.family, table)
        found = compiled.chain(chain) if compiled else None
        if compiled is None or found is None:
            raise CommandError(f"no chain {chain} in table {table}")
        if not 0 < number <= len(found.rules):
            raise CommandError(f"{table}:{chain} has {len(found.rules)} rule(s), not #{number}")
        rule = compiled.rule(found, number - 1)
        state = self.stepper.state if self.stepper is not None else None
        if state is not None and (state.sets is not None or state.unknown_sets) \
                and reads_sets(rule):
            # a SET target changed sets on this path: the rule reads them as the walk does
            rule = rule_for_path(compiled, found, number - 1, state.sets, state.unknown_sets,
                                 state.env)
        return rule

    def resolve_chain(self, spec: str) -> tuple[str, str]:
        """`CHAIN` or `TABLE:CHAIN` → (table, chain); a bare name prefers the current table."""
        table, _, chain = spec.rpartition(":")
        if table:
            if self.index.chain(table, chain) is None:
                raise CommandError(f"no chain {chain} in table {table}")
            return table, chain
        tables = self.index.tables_of(chain)
        if not tables:
            raise CommandError(f"no chain named {chain}")
        frame = self.selected_frame() if self.stepper is not None else None
        if frame is not None and frame.table in tables:
            return frame.table, chain
        return tables[-1] if "filter" not in tables else "filter", chain

    def resolve_rule(self, spec: str) -> CompiledRule:
        """`N` (in the selected frame's chain), `CHAIN:N` or `TABLE:CHAIN:N`."""
        head, _, number = spec.rpartition(":")
        if not number.isdigit():
            raise CommandError(f"`{spec}' is not a rule (N, CHAIN:N or TABLE:CHAIN:N)")
        if head:
            table, chain = self.resolve_chain(head)
        else:
            frame = self.selected_frame() if self.stepper is not None else None
            if frame is None:
                raise CommandError("not in a chain: say CHAIN:N")
            table, chain = frame.table, frame.chain
        return self.rule(table, chain, int(number))

    def results_in_stage(self) -> dict[tuple[str, str, int], tuple[bool, tuple[ConditionResult,
                                                                              ...], PathState]]:
        """The latest evaluation of each rule in the current table traversal, up to now."""
        stepper = self.need_stepper()
        found: dict[tuple[str, str, int], tuple[bool, tuple[ConditionResult, ...],
                                                PathState]] = {}
        for event, state in reversed(stepper.history[: stepper.cursor + 1]):
            if isinstance(event, StageStart):
                break
            if isinstance(event, RuleEvaluated):
                key = (event.rule.table, event.rule.chain, event.rule.number)
                found.setdefault(key, (event.matched, event.results, state))
        return found

    # --- commands ------------------------------------------------------------------------

    def execute(self, line: str) -> None:
        """Run one command line; an empty line repeats the last stepping command."""
        text = line.strip()
        if not text:
            if self.last_command is None:
                return
            text = self.last_command
        if text.startswith("#"):
            return
        name, _, arg = text.partition(" ")
        entry = lookup(name)
        if entry is None:
            self.output.error(f"unknown command `{name}' (try `help')")
            return
        if entry.repeat:
            self.last_command = text
        try:
            entry.handler(self, arg.strip())
        except CommandError as exc:
            self.output.error(str(exc))
        except ValueError as exc:  # PacketError, BreakpointError, TraceError…
            self.output.error(str(exc))


def _rule_of(event: object) -> CompiledRule | None:
    if isinstance(event, RuleEvaluated | TargetApplied):
        return event.rule
    if isinstance(event, Fork):
        return event.rule
    return None


def split_args(arg: str) -> list[str]:
    """Words of an argument, with shell quoting (`break text "Drop if"`)."""
    try:
        return shlex.split(arg)
    except ValueError as exc:
        raise CommandError(str(exc)) from None

