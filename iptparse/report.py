"""Traces as text a person reads like a backtrace (the shells print what this returns).

One path: the walk, indented by chain depth, with each matching rule as it appears in the dump,
what its target changed, jumps, gotos, returns and policies, and the rule that decided. Several
paths: first a summary by verdict ("ACCEPT if … — DROP otherwise"), then each path.
"""

from __future__ import annotations

from collections.abc import Callable

from .events import (
    ChainEnter,
    ChainReturn,
    Note,
    PolicyApplied,
    RuleEvaluated,
    StageEnd,
    StageSkipped,
    StageStart,
    TargetApplied,
)
from .interp import PATHS, PathState
from .packet import format_packet
from .trace import PathResult, Skip, Step, TraceResult, projection

__all__ = ["format_trace"]

_COLORS = {"ACCEPT": "32", "DROP": "31", "REJECT": "31", "QUEUE": "33", "UNKNOWN": "35"}

Highlighter = Callable[[str], str]


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def verdict_text(verdict: str, color: bool) -> str:
    return _paint(verdict, "1;" + _COLORS.get(verdict, "0"), color)


def decision_text(state: PathState, result: TraceResult) -> str:
    """`by filter:CHAIN #8 (line 345): <rule>` or `by the policy of filter:FORWARD`."""
    if state.decision is None:
        if state.verdict not in (None, "ACCEPT"):
            return "by routing (a martian address, or no route for dst)"
        return "no rule decided: the packet went through every table"
    table, chain, number = state.decision
    if number == 0:
        return f"by the policy of {table}:{chain}"
    return f"by {table}:{chain} #{number}"


def _rule_line(state: PathState, result: TraceResult, ruleset_text: Callable[[str, str, int],
                                                                              str | None]) -> str:
    if state.decision is None or state.decision[2] == 0:
        return ""
    text = ruleset_text(*state.decision)
    return f"\n    {text}" if text else ""


def format_steps(steps: tuple[Step, ...], *, color: bool = False,
                 highlight: Highlighter | None = None) -> list[str]:
    lines: list[str] = []
    stack: list[str] = []
    show = highlight or (lambda text: text)

    def pad() -> str:
        return "  " * (len(stack) + 1)

    for step in steps:
        match step:
            case StageStart(hook, table):
                stack = []
                lines.append(_paint(f"{table} {hook}", "1", color))
            case StageSkipped(hook, table, reason):
                lines.append(_paint(f"{table} {hook}: skipped ({reason})", "2", color))
            case ChainEnter(_, chain, via, _, _, _):
                if via == "hook":
                    continue
                arrow = "-j" if via == "jump" else "-g"
                lines.append(f"{pad()}{arrow} {chain}")
                stack.append(chain)
            case Skip(_, _, count):
                plural = "rule" if count == 1 else "rules"
                lines.append(_paint(f"{pad()}({count} {plural} did not match)", "2", color))
            case RuleEvaluated(rule, matched, _):
                mark = "" if matched else "  [no match]"
                where = f"  (line {rule.line})" if rule.line else ""
                lines.append(f"{pad()}#{rule.number} {show(rule.text)}{where}{mark}")
            case TargetApplied(_, changes, _, note):
                for field, before, after in changes:
                    lines.append(f"{pad()}   {field}: {before.removeprefix('= ')} → "
                                 f"{after.removeprefix('= ')}")
                if note:
                    lines.append(_paint(f"{pad()}   {note}", "2", color))
            case ChainReturn(_, from_chain, to_chain, to_rule, explicit):
                how = "RETURN" if explicit else "end of chain"
                while stack and stack[-1] != to_chain:
                    stack.pop()
                lines.append(_paint(f"{pad()}<- {how} of {from_chain}: back to {to_chain} "
                                    f"after #{to_rule}", "2", color))
            case PolicyApplied(table, chain, policy):
                lines.append(f"{pad()}policy {verdict_text(policy, color)}")
            case StageEnd():
                pass
            case Note(text):
                lines.append(_paint(f"· {text}", "2", color))
    return lines


def format_trace(result: TraceResult, *, color: bool = False, verbose: bool = False,
                 rule_text: Callable[[str, str, int], str | None] | None = None,
                 highlight: Highlighter | None = None) -> str:
    """The human form of a trace result."""
    lookup = rule_text or (lambda t, c, n: None)
    hooks = [h for h in PATHS.get(result.path, ()) if h != "routing"]
    out = [f"packet: {format_packet(result.packet) or '(any)'}",
           f"path:   {result.path} ({' → '.join(hooks)}), {result.family.value}"]
    paths = result.paths
    if len(paths) == 1 and not paths[0].conditions:
        path = paths[0]
        out.append("")
        out.extend(format_steps(path.steps, color=color, highlight=highlight))
        out.append("")
        out.append(f"{verdict_text(path.verdict, color)} "
                   f"{decision_text(path.state, result)}{_rule_line(path.state, result, lookup)}")
        _final(out, path)
        return "\n".join(out) + "\n"
    out.append("")
    out.extend(summary_lines(paths, color))
    out.extend(projection_lines(paths, result))
    for number, path in enumerate(paths, 1):
        out.append("")
        prob = "" if path.probability == 1 else f"  (probability {float(path.probability):.4g})"
        out.append(f"path {number}: {verdict_text(path.verdict, color)}{prob} "
                   f"{decision_text(path.state, result)}{_rule_line(path.state, result, lookup)}")
        for text in path.conditions or ["(always)"]:
            out.append(f"  if {text}")
        hits = " → ".join(f"{h.chain}#{h.rule}" for h in path.hits) or "(no rule matched)"
        out.append(f"  rules: {hits}")
        if verbose:
            out.extend("  " + line for line in format_steps(path.steps, color=color,
                                                              highlight=highlight))
    if result.truncated:
        out.append("")
        out.append(f"warning: {result.message}")
    return "\n".join(out) + "\n"


def summary_lines(paths: tuple[PathResult, ...], color: bool) -> list[str]:
    """`VERDICT if … or …` per verdict; the verdict with the most alternatives reads
    "otherwise" when there are exactly two verdicts, and comes last, as the word says."""
    groups: dict[str, list[PathResult]] = {}
    for path in paths:
        groups.setdefault(path.verdict, []).append(path)
    lines = []
    otherwise = None
    last = []
    if len(groups) == 2:
        otherwise = max(groups, key=lambda v: sum(len(p.conditions) or 1 for p in groups[v]))
    for verdict, members in groups.items():
        share = sum(float(p.probability) for p in members if p.probability != 1)
        prob = f" (probability {share:.4g})" if share else ""
        if verdict == otherwise:
            last.append(f"— {verdict_text(verdict, color)} otherwise{prob}")
            continue
        alternatives = list(dict.fromkeys(
            c for p in members for c in (p.conditions_without_draws or ["always"])))
        shown = " or ".join(f"({c})" if " and " in c and len(alternatives) > 1 else c
                            for c in alternatives[:6])
        if len(alternatives) > 6:
            shown += f" or … ({len(alternatives) - 6} more)"
        if shown == "always":
            lines.append(f"{verdict_text(verdict, color)} always{prob}")
        else:
            lines.append(f"{verdict_text(verdict, color)} if {shown}{prob}")
    return lines + last


def projection_lines(paths: tuple[PathResult, ...], result: TraceResult) -> list[str]:
    """Per verdict reached by several paths, the fields those paths allow taken together."""
    groups: dict[str, list[PathResult]] = {}
    for path in paths:
        groups.setdefault(path.verdict, []).append(path)
    lines = []
    for verdict, members in groups.items():
        if len(members) < 2:
            continue
        if result.initial is None:
            continue
        fields = projection(members, result.initial)
        if fields:
            shown = ", ".join(f"{name} {text}" for name, text in fields.items())
            lines.append(f"  {verdict} ({len(members)} paths) takes, over all its paths: {shown}")
    return lines


def _final(out: list[str], path: PathResult) -> None:
    state = path.state
    changed = sorted({k.split("@")[0] for k in state.labels} | {
        k for k, v in state.env.items() if not isinstance(v, str) and not k.startswith("ct")})
    if changed:
        from .describe import describe_set

        parts = [f"{name} {describe_set(name, state.current(name), state.box.family)}"
                 for name in changed if name not in ("oif",)]
        if parts:
            out.append("final packet: " + ", ".join(parts))
