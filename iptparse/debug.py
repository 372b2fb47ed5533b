"""The stepper: where to stop next, the bdb way — no UI here.

A `Stepper` drives one walk of the interpreter and records every snapshot, so stepping back is
moving a cursor and stepping forward again replays the record before asking the interpreter for
more. `step` stops at the next event (into jumps), `next` at the next rule of the current chain
(over jumps), `finish` when the current chain returns, `cont` at a breakpoint or the verdict.
At a fork the walk stops; `choose` picks the branch to follow (also after stepping back: the
walk then resumes from that branch's state, which is always a clean resume point).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

from .domain import BitSet, IntSet, NameSet
from .events import (
    ChainEnter,
    ChainReturn,
    Finished,
    Fork,
    PolicyApplied,
    RuleEvaluated,
    StageEnd,
)
from .fields import FieldKind, field_spec
from .interp import Interpreter, PathState, Snapshot
from .packet import Packet, PacketError, parse_value
from .ruleset import Ruleset
from .trace import choose_family

__all__ = ["Breakpoint", "BreakpointError", "Stepper", "StopReason"]


class BreakpointError(ValueError):
    """A breakpoint spec the stepper cannot understand (the message says why)."""


@dataclass
class Breakpoint:
    """One breakpoint. Kinds: chain, rule (chain:N), target, text, condition."""

    number: int
    kind: str
    spec: str
    test: Callable[[Snapshot, PathState | None], bool] = field(repr=False)
    temporary: bool = False
    enabled: bool = True
    hits: int = 0

    def describe(self) -> str:
        flags = ("temporary " if self.temporary else "") + ("" if self.enabled else "disabled ")
        return f"{self.number}: {flags}{self.label} (hit {self.hits} time(s))"

    @property
    def label(self) -> str:
        """`chain X`, `rule X:3`, `target DNAT`, `text "…"`, `if mark & 0x1` (the spec of the
        last three already says its kind)."""
        return f"{self.kind} {self.spec}" if self.kind in ("chain", "rule") else self.spec


@dataclass(frozen=True)
class StopReason:
    """Why the stepper stopped: 'step', 'breakpoint', 'fork', 'finished', 'interrupted',
    'start'."""

    kind: str
    breakpoint: Breakpoint | None = None


_COND = re.compile(r"^\s*(\w+)\s*(&|==|!=|=|\bin\b|>=|<=|>|<)\s*(.+?)\s*$")


class Stepper:
    """Drives one path of a trace for a debugger; keeps the whole history for reverse steps."""

    def __init__(self, ruleset: Ruleset, packet: Packet, path: str = "forward", *,
                 assumptions: Mapping[str, bool] | None = None) -> None:
        self.ruleset = ruleset
        self.packet = packet
        self.path = path
        self.family = choose_family(ruleset, packet)
        self.interpreter = Interpreter(ruleset, self.family, assumptions=assumptions)
        self.breakpoints: list[Breakpoint] = []
        self._next_number = 1
        self.interrupted = False
        self.restart()

    # --- running -------------------------------------------------------------------------

    def reset(self, packet: Packet | None = None, *, path: str | None = None,
              assumptions: Mapping[str, bool] | None = None) -> None:
        """Start over with another packet, path or set of pinned assumptions; breakpoints
        stay, as a debugger keeps them across `run`. Nothing changes if the new settings are
        refused (an unknown path, a packet of a family the ruleset lacks)."""
        packet = packet if packet is not None else self.packet
        path = path if path is not None else self.path
        family = choose_family(self.ruleset, packet)
        kept = self.interpreter.assumptions if assumptions is None else assumptions
        interpreter = Interpreter(self.ruleset, family, assumptions=kept)
        interpreter.start(packet, path)  # raises before anything changes
        self.packet, self.path, self.family, self.interpreter = packet, path, family, interpreter
        self.restart()

    def restart(self) -> None:
        self.start_state = self.interpreter.start(self.packet, self.path)
        self.history: list[Snapshot] = []
        self.cursor = -1
        self._gen: Generator[Snapshot, int | None, PathState] | None = (
            self.interpreter.walk(self.start_state))
        self._pending_choice: int | None = None

    @property
    def current(self) -> Snapshot | None:
        return self.history[self.cursor] if self.cursor >= 0 else None

    @property
    def state(self) -> PathState:
        snap = self.current
        return snap[1] if snap is not None else self.start_state

    @property
    def finished(self) -> bool:
        snap = self.current
        return snap is not None and isinstance(snap[0], Finished)

    @property
    def at_fork(self) -> Fork | None:
        snap = self.current
        return snap[0] if snap is not None and isinstance(snap[0], Fork) else None

    def _advance(self) -> Snapshot | None:
        """The next snapshot (replayed from history when we stepped back), None at the end."""
        if self.cursor + 1 < len(self.history):
            self.cursor += 1
            return self.history[self.cursor]
        if self._gen is None or self.finished:
            return None
        try:
            if self.at_fork is not None:
                snap = self._gen.send(self._pending_choice or 0)
                self._pending_choice = None
            else:
                snap = next(self._gen)
        except StopIteration:
            self._gen = None
            return None
        self.history.append(snap)
        self.cursor = len(self.history) - 1
        return snap

    def choose(self, index: int) -> None:
        """Follow branch `index` of the fork the stepper is stopped at."""
        fork = self.at_fork
        if fork is None:
            raise ValueError("not at a fork")
        if not 0 <= index < len(fork.options):
            raise ValueError(f"choose a branch between 0 and {len(fork.options) - 1}")
        if self.cursor == len(self.history) - 1 and self._gen is not None:
            self._pending_choice = index
            return
        # stepped back to an earlier fork: forget what followed, resume from the branch
        del self.history[self.cursor + 1:]
        self._gen = self.interpreter.walk(fork.options[index])
        first = next(self._gen)
        # the resumed walk re-takes the decided choice silently; keep the record consistent
        self.history.append(first)
        self.cursor = len(self.history) - 1

    def _run(self, done: Callable[[Snapshot], bool]) -> StopReason:
        self.interrupted = False
        previous = self.state
        while True:
            if self.interrupted:
                return StopReason("interrupted")
            snap = self._advance()
            if snap is None:
                return StopReason("finished")
            event, state = snap
            if isinstance(event, Finished):
                return StopReason("finished")
            hit = self._breakpoint(snap, previous)
            if hit is not None:
                return StopReason("breakpoint", hit)
            if isinstance(event, Fork):
                return StopReason("fork")
            if done(snap):
                return StopReason("step")
            previous = state

    def step(self) -> StopReason:
        """To the next event, into jumps."""
        return self._run(lambda snap: True)

    def next(self) -> StopReason:
        """To the next rule of this chain (jumps run through), or wherever the chain is left."""
        here = self.state
        depth = len(here.stack)
        chain = here.chain

        def done(snap: Snapshot) -> bool:
            event, state = snap
            if len(state.stack) < depth or state.chain is None:
                return True
            if len(state.stack) == depth:
                if isinstance(event, RuleEvaluated):
                    return True
                return isinstance(event, ChainEnter | PolicyApplied | StageEnd) and (
                    state.chain != chain)
            return False

        return self._run(done)

    def finish(self) -> StopReason:
        """Until the current chain returns (or its table's traversal ends)."""
        depth = len(self.state.stack)

        def done(snap: Snapshot) -> bool:
            event, state = snap
            if depth == 0:
                return isinstance(event, PolicyApplied | StageEnd)
            return isinstance(event, ChainReturn) and len(state.stack) < depth

        return self._run(done)

    def cont(self) -> StopReason:
        """Until a breakpoint, a fork or the verdict."""
        return self._run(lambda snap: False)

    def reverse_step(self) -> StopReason:
        if self.cursor < 0:
            return StopReason("start")
        self.cursor -= 1
        return StopReason("step" if self.cursor >= 0 else "start")

    def reverse_next(self) -> StopReason:
        """Back to the previous rule of the current chain (or the start)."""
        depth = len(self.state.stack)
        while self.cursor >= 0:
            self.cursor -= 1
            snap = self.current
            if snap is None:
                return StopReason("start")
            event, state = snap
            if len(state.stack) <= depth and isinstance(event, RuleEvaluated):
                return StopReason("step")
        return StopReason("start")

    def run_to_end(self) -> PathState:
        while self._advance() is not None and not self.finished:
            pass
        return self.state

    # --- breakpoints ---------------------------------------------------------------------

    def add_breakpoint(self, spec: str, temporary: bool = False) -> Breakpoint:
        """`CHAIN`, `CHAIN:N` (or `TABLE:CHAIN:N`), `target TARGET`, `text "..."`,
        `if CONDITION` (e.g. `if mark & 0x10000`)."""
        kind, test = self._compile_breakpoint(spec.strip())
        bp = Breakpoint(self._next_number, kind, spec.strip(), test, temporary)
        self._next_number += 1
        self.breakpoints.append(bp)
        return bp

    def delete_breakpoint(self, number: int | None = None) -> int:
        """Delete one breakpoint (or all when None); the number deleted."""
        before = len(self.breakpoints)
        self.breakpoints = [b for b in self.breakpoints
                            if number is not None and b.number != number]
        return before - len(self.breakpoints)

    def _breakpoint(self, snap: Snapshot, previous: PathState | None) -> Breakpoint | None:
        for bp in self.breakpoints:
            if bp.enabled and bp.test(snap, previous):
                bp.hits += 1
                if bp.temporary:
                    self.breakpoints.remove(bp)
                return bp
        return None

    def _compile_breakpoint(self, spec: str
                            ) -> tuple[str, Callable[[Snapshot, PathState | None], bool]]:
        if not spec:
            raise BreakpointError("break where? (a chain, CHAIN:RULE, target T, text S, "
                                  "if CONDITION)")
        word, _, rest = spec.partition(" ")
        if word == "if":
            return "condition", self._condition(rest)
        if word == "target":
            name = rest.strip()

            def on_target(snap: Snapshot, _: PathState | None) -> bool:
                event = snap[0]
                target = event.rule.rule.target if isinstance(event, RuleEvaluated) else None
                return (isinstance(event, RuleEvaluated) and event.matched
                        and target is not None and target.name == name)

            return "target", on_target
        if word == "text":
            text = rest.strip().strip('"')

            def on_text(snap: Snapshot, _: PathState | None) -> bool:
                event = snap[0]
                return isinstance(event, RuleEvaluated) and text in event.rule.text

            return "text", on_text
        parts = spec.split(":")
        if len(parts) >= 2 and parts[-1].isdigit():
            number = int(parts[-1])
            chain = parts[-2]
            table = parts[-3] if len(parts) >= 3 else None

            def on_rule(snap: Snapshot, _: PathState | None) -> bool:
                event = snap[0]
                return (isinstance(event, RuleEvaluated) and event.rule.chain == chain
                        and event.rule.number == number
                        and (table is None or event.rule.table == table))

            return "rule", on_rule
        chain_name = parts[-1]
        table_name = parts[0] if len(parts) == 2 else None

        def on_chain(snap: Snapshot, _: PathState | None) -> bool:
            event = snap[0]
            return (isinstance(event, ChainEnter) and event.chain == chain_name
                    and (table_name is None or event.table == table_name))

        return "chain", on_chain

    def _condition(self, text: str) -> Callable[[Snapshot, PathState | None], bool]:
        """`FIELD & MASK`, `FIELD == V`, `FIELD != V`, `FIELD in SET`, `<`, `>`…: stops when
        the condition becomes certain on this path (it was not at the previous event)."""
        m = _COND.match(text)
        if m is None:
            raise BreakpointError(f"cannot read condition `{text}' (e.g. `mark & 0x10000`, "
                                  "`dport == 8080`, `src in 10.0.0.0/8`)")
        name, op, value_text = m.groups()
        try:
            spec = field_spec(name)
        except KeyError:
            raise BreakpointError(f"unknown field `{name}'") from None
        values: IntSet | BitSet | NameSet
        try:
            if op == "&":
                if spec.kind is not FieldKind.BITS:
                    raise BreakpointError(f"`&' needs a bit field (mark, ctmark…), not {name}")
                values = BitSet.cube(0, int(value_text, 0), spec.width).complement()
            elif op in ("<", ">", "<=", ">="):
                n = int(value_text, 0)
                top = spec.top(self.family)
                assert isinstance(top, IntSet)
                lo, hi = {"<": (0, n - 1), "<=": (0, n), ">": (n + 1, top.top),
                          ">=": (n, top.top)}[op]
                values = IntSet.range(lo, hi, top.top)
            else:
                values = parse_value(spec, value_text, self.family)
        except (PacketError, ValueError) as exc:
            raise BreakpointError(str(exc)) from None
        negate = op == "!="

        def certain(state: PathState) -> bool:
            current = state.current(spec.name)
            if isinstance(current, NameSet):
                assert isinstance(values, NameSet)
                inside = current.issubset(values)
                outside = (current & values).is_empty
            else:
                inside = current.issubset(values)  # type: ignore[arg-type]
                outside = (current & values).is_empty  # type: ignore[operator]
            return outside if negate else inside

        def on_condition(snap: Snapshot, previous: PathState | None) -> bool:
            return certain(snap[1]) and (previous is None or not certain(previous))

        return on_condition
