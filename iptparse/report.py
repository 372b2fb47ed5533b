"""Traces as text a person reads like a backtrace (the shells print what this returns).

One path: the walk, indented by chain depth, with each matching rule as it appears in the dump,
what its target changed, jumps, gotos, returns and policies, and the rule that decided. Several
paths: first a summary by verdict ("ACCEPT if … — DROP otherwise"), then each path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

from .collector import without_collection
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
from .fieldunion import Part
from .interp import PATHS, PathState
from .logic import Box, fork_negations
from .packet import format_packet
from .ruleset import RuleRef
from .trace import PathResult, Skip, Step, TraceResult, joined, projection, simplify

__all__ = ["format_trace"]

_COLORS = {"ACCEPT": "32", "DROP": "31", "REJECT": "31", "QUEUE": "33", "UNKNOWN": "35"}

Highlighter = Callable[[str], str]


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def verdict_text(verdict: str, color: bool) -> str:
    return _paint(verdict, "1;" + _COLORS.get(verdict, "0"), color)


def decision_text(state: PathState, result: TraceResult) -> str:
    """`by filter:CHAIN #8 (line 345): <rule>` or `by the policy of filter:FORWARD`."""
    if state.stopped is not None:
        return f"by {state.stopped}"
    if state.decision is None:
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


@without_collection  # strings of thousands of alternatives, read off the paths' states
def format_trace(result: TraceResult, *, color: bool = False, verbose: bool = False,
                 rule_text: Callable[[str, str, int], str | None] | None = None,
                 highlight: Highlighter | None = None) -> str:
    """The human form of a trace result."""
    lookup = rule_text or (lambda t, c, n: None)
    hooks = [h for h in PATHS.get(result.path, ()) if h != "routing"]
    if any(a.state.looped for p in result.paths for a in p.alternatives):
        hooks += ["lo", "PREROUTING", "INPUT"]  # a packet to the host itself comes in again
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
    if result.truncated:
        # said before the summary too: a summary of the paths found so far is not the answer
        out.append("")
        out.append(f"warning: {result.message}; below are only the paths found before it")
    out.append("")
    out.extend(summary_lines(paths, color, complete=not result.truncated,
                             initial=result.initial))
    out.extend(projection_lines(paths, result))
    for number, path in enumerate(paths, 1):
        out.append("")
        prob = "" if path.probability == 1 else f"  (probability {float(path.probability):.4g})"
        out.append(f"path {number}: {verdict_text(path.verdict, color)}{prob} "
                   f"{decision_text(path.state, result)}{_rule_line(path.state, result, lookup)}")
        for text in path.conditions or ["(always)"]:
            out.append(f"  if {text}")
        out.append(f"  rules: {hits_text(path.hits)}")
        if verbose:
            out.extend("  " + line for line in format_steps(path.steps, color=color,
                                                              highlight=highlight))
    if result.truncated:
        out.append("")
        out.append(f"warning: {result.message}")
    return "\n".join(out) + "\n"


def hits_text(hits: Sequence[RuleRef]) -> str:
    """The rules a path matched, each table named where the walk enters it: raw, mangle and
    nat have chains of the same names (PREROUTING everywhere, firewalld's PREROUTING_ZONES,
    Docker's DOCKER in nat and filter), so `PREROUTING#1` alone does not say which."""
    out = []
    table = None
    for hit in hits:
        prefix = f"{hit.table}:" if hit.table != table else ""
        table = hit.table
        out.append(f"{prefix}{hit.chain}#{hit.rule}")
    return " → ".join(out) or "(no rule matched)"


def summary_lines(paths: tuple[PathResult, ...], color: bool, complete: bool = True,
                  initial: Box | None = None) -> list[str]:
    """`VERDICT if … or …` per verdict, then `— VERDICT otherwise` for the other of exactly two.

    A verdict's probability is summed per condition on the packet (random draws left out): a
    kube-proxy service reached over two endpoints is accepted with probability 1, not 0.5
    twice, and verdicts under disjoint conditions are never added up. Conditions with
    different shares get a line each. "otherwise" is said only when both verdicts are certain
    under their conditions; with a share below 1 the other verdict happens under the same
    conditions too, and each is spelled out. Nor when the paths are not `complete` (the walk
    stopped at its bound): packets on the paths not walked may meet either verdict.

    The paths of a complete walk split the packets it was asked about among them (each fork
    is a partition), so one verdict on every path is that verdict always, however many ways
    lead to it: a firewall whose rules drop INVALID, NEW and ESTABLISHED apart reads
    `DROP always`, not the three states one by one. Ways alike but for one field join on it
    (`fieldunion`), the field going where they cover what the walk started it with (`initial`).
    """
    verdicts = list(dict.fromkeys(p.verdict for p in paths))
    if not verdicts:
        return []
    if complete and len(verdicts) == 1:
        return [f"{verdict_text(verdicts[0], color)} always"]
    groups: dict[str, dict[Fraction, list[tuple[Part, ...]]]] = {}
    negated = fork_negations(a.conditions for p in paths for a in p.alternatives)
    family = paths[0].alternatives[0].box.family
    for verdict in verdicts:
        shares: dict[tuple[str, ...], Fraction] = {}
        parts: dict[tuple[str, ...], tuple[Part, ...]] = {}
        for path in paths:
            if path.verdict == verdict:
                ways: dict[tuple[str, ...], tuple[Part, ...]] = {}
                for alternative in path.alternatives:
                    way = alternative.parts(draws=False)
                    ways.setdefault(tuple(part.text for part in way), way)
                for key, way in ways.items():
                    shares[key] = shares.get(key, Fraction(0)) + path.probability
                    parts.setdefault(key, way)
        by_share: dict[Fraction, list[tuple[Part, ...]]] = {}
        for key, share in shares.items():
            by_share.setdefault(share, []).append(parts[key])
        groups[verdict] = by_share
    otherwise = None
    if complete and len(groups) == 2 and all(set(g) == {Fraction(1)} for g in groups.values()):
        otherwise = max(groups, key=lambda v: len(groups[v][Fraction(1)]))
    lines = []
    for verdict, by_share in groups.items():
        if verdict == otherwise:
            continue
        for share, keys in sorted(by_share.items(), reverse=True):
            prob = "" if share == 1 else f" (probability {float(share):.4g})"
            alternatives = [" and ".join(c) for c in simplify(joined(keys, initial, family),
                                                                 negated)]
            if not all(alternatives):  # some way needs no condition at all
                lines.append(f"{verdict_text(verdict, color)} always{prob}")
                continue
            shown = " or ".join(f"({c})" if " and " in c and len(alternatives) > 1 else c
                                for c in alternatives[:6])
            if len(alternatives) > 6:
                shown += f" or … ({len(alternatives) - 6} more)"
            lines.append(f"{verdict_text(verdict, color)} if {shown}{prob}")
    if otherwise is not None:
        lines.append(f"— {verdict_text(otherwise, color)} otherwise")
    return lines


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
