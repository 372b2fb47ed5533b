"""How the REPL shows where a step stopped: one event, the reason, the verdict.

Lines, not prints: commands pass them to `Output.message`.
"""

from __future__ import annotations

from ..debug import StopReason
from ..events import (
    ChainEnter,
    ChainReturn,
    Event,
    Finished,
    Fork,
    Note,
    PolicyApplied,
    RuleEvaluated,
    StageEnd,
    StageSkipped,
    StageStart,
    TargetApplied,
)
from ..interp import PathState
from .output import Output

__all__ = ["event_lines", "fork_lines", "stop_lines", "verdict_lines"]


def _glyph(out: Output, held: bool) -> str:
    return out.paint("✓", "held") if held else out.paint("✗", "failed")


def _verdict(out: Output, verdict: str) -> str:
    role = "accept" if verdict == "ACCEPT" else "drop" if verdict in ("DROP", "REJECT") else (
        "heading")
    return out.paint(verdict, role)


def event_lines(out: Output, event: Event, state: PathState) -> list[str]:
    """What one event reads like in the REPL."""
    match event:
        case StageStart(hook, table):
            return [out.paint(f"── {table} {hook} ──", "heading")]
        case StageSkipped(hook, table, reason):
            return [out.paint(f"{table} {hook}: skipped ({reason})", "dim")]
        case StageEnd(hook, table, verdict):
            return [f"{table} {hook}: {_verdict(out, verdict)} (on to the next table)"]
        case ChainEnter(table, chain, via, from_chain, from_rule, _):
            if via == "hook":
                return [f"→ {table}:{out.paint(chain, 'chain')}"]
            how = ("-j, returns here" if via == "jump" else "-g, no return point")
            return [f"→ {table}:{out.paint(chain, 'chain')}  "
                    f"(from {from_chain} #{from_rule}, {how})"]
        case RuleEvaluated(rule, matched, results):
            head = f"{rule.table}:{rule.chain} #{rule.number} {_glyph(out, matched)}"
            if matched:
                return [f"{head} matched:  {out.rule(rule.text)}"]
            failed = next((r for r in results if r.holds is not True), None)
            if failed is not None and failed.holds is None:
                return [f"{head} no match, whichever way `{failed.condition.source}' goes"]
            reason = failed.condition.source if failed is not None else "a condition failed"
            return [f"{head} no match ({reason})"]
        case TargetApplied(rule, changes, verdict, note):
            lines = [f"   {name}: {before.removeprefix('= ')} → {after.removeprefix('= ')}"
                     for name, before, after in changes]
            if note:
                lines.append(out.paint(f"   {note}", "dim"))
            if verdict is not None:
                lines.append(f"   -j {_verdict(out, verdict)}")
            return lines
        case ChainReturn(table, from_chain, to_chain, to_rule, explicit):
            how = "RETURN from" if explicit else "end of"
            return [f"← {how} {from_chain}: back in {table}:{out.paint(to_chain, 'chain')} "
                    f"after #{to_rule}"]
        case PolicyApplied(table, chain, policy):
            return [f"{table}:{chain} policy {_verdict(out, policy)}"]
        case Note(text):
            return [out.paint(f"· {text}", "dim")]
        case Fork():
            return fork_lines(out, event, state)
        case Finished(verdict, final):
            return verdict_lines(out, verdict, final, None)
    return [repr(event)]


def fork_lines(out: Output, fork: Fork, state: PathState) -> list[str]:
    if fork.rule is not None:
        where = f"{fork.rule.table}:{fork.rule.chain} #{fork.rule.number}"
    elif state.stage < len(state.stages):
        stage = state.stages[state.stage]
        where = f"{stage.table} ({stage.hook})"
    else:
        where = "the end of the walk"
    lines = [f"fork at {where}: what is known of the packet does not decide"]
    for i, label in enumerate(fork.labels):
        lines.append(f"  [{i}] {label}")
    lines.append(out.paint("  `choose N` follows branch N; step/next/continue follow [0]", "dim"))
    return lines


def verdict_lines(out: Output, verdict: str, state: PathState,
                  rule_text: str | None) -> list[str]:
    decision = state.decision
    if state.stopped is not None:
        by = f"by {state.stopped}"
    elif decision is None:
        by = "no rule decided: the packet went through every table"
    elif decision[2] == 0:
        by = f"by the policy of {decision[0]}:{decision[1]}"
    else:
        by = f"by {decision[0]}:{decision[1]} #{decision[2]}"
    lines = [f"verdict: {_verdict(out, verdict)} {by}"]
    if rule_text:
        lines.append(f"    {out.rule(rule_text)}")
    return lines


def stop_lines(out: Output, reason: StopReason) -> list[str]:
    """The line said before the event when a run stops for something else than a step."""
    if reason.kind == "breakpoint" and reason.breakpoint is not None:
        bp = reason.breakpoint
        return [out.paint(f"Breakpoint {bp.number} ({bp.label})", "heading")]
    if reason.kind == "interrupted":
        return ["interrupted"]
    if reason.kind == "start":
        return ["at the start of the walk"]
    return []
