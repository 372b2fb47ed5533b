"""What a verification found: counts by outcome, table/chain and module, and reproductions.

Counting follows the path the kernel took (the consistent path `compare` chose): each rule
checked on it is one evaluation, in agreement when every condition checked was decided by
iptparse's semantics, "not modelled" otherwise; each condition is one evaluation of its module
(`ip` for -s/-d/-i/-o/-p), and a hit rule whose target has semantics one of the target's. A
disagreement counts once, against the rule where the default path parts from the kernel.
Text and JSON come from the same numbers; disagreements carry what a bug report needs: the
packet in iptparse's text form, the rule, both counts, and the commands to reproduce.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..nodes import Dump
from .compare import AGREE, DISAGREE, NOT_MODELLED, Comparison, ModelPath, effect_module

__all__ = ["Tally", "VerifyReport"]

_OUTCOMES = (AGREE, NOT_MODELLED, DISAGREE)
#: a condition's result in a divergence (None: undecided, the rule failed whichever way)
_HELD = {True: "holds", False: "fails", None: "undecided"}


@dataclass
class Tally:
    agree: int = 0
    not_modelled: int = 0
    disagree: int = 0

    def add(self, outcome: str, count: int = 1) -> None:
        if outcome == AGREE:
            self.agree += count
        elif outcome == NOT_MODELLED:
            self.not_modelled += count
        else:
            self.disagree += count

    def json(self) -> dict[str, int]:
        return {AGREE: self.agree, NOT_MODELLED: self.not_modelled, DISAGREE: self.disagree}


@dataclass
class VerifyReport:
    """One dump's verification."""

    name: str
    family: str
    backend: str
    seed: int | None
    comparisons: list[Comparison]
    rules_total: int
    packets: Tally = field(default_factory=Tally)
    chains: dict[tuple[str, str], Tally] = field(default_factory=dict)
    modules: dict[str, Tally] = field(default_factory=dict)
    rules_checked: set[tuple[str, str, int]] = field(default_factory=set)
    assumed: int = 0  # agreements on one of several paths (an assumption or a random draw)

    @classmethod
    def build(cls, name: str, dump: Dump, backend: str, comparisons: list[Comparison], *,
              seed: int | None) -> VerifyReport:
        total = sum(len(c.rules) for t in dump.tables for c in t.chains)
        report = cls(name, dump.family.value, backend, seed, comparisons, total)
        for comparison in comparisons:
            report._count(comparison)
        return report

    @property
    def ok(self) -> bool:
        return self.packets.disagree == 0

    def _chain(self, table: str, chain: str) -> Tally:
        return self.chains.setdefault((table, chain), Tally())

    def _module(self, name: str) -> Tally:
        return self.modules.setdefault(name, Tally())

    def _count(self, comparison: Comparison) -> None:
        self.packets.add(comparison.outcome)
        chosen = comparison.chosen
        if chosen is not None:
            if comparison.outcome == AGREE and chosen.assumptions:
                self.assumed += 1
            self._count_path(chosen)
        if comparison.outcome != DISAGREE:
            return
        default = comparison.default
        for divergence in comparison.divergences:
            parts = divergence.where.split(":")
            if len(parts) != 3 or not parts[2].isdigit():
                continue
            self._chain(parts[0], parts[1]).add(DISAGREE)
            modules = _modules_of(default, (parts[0], parts[1], int(parts[2])))
            for module in modules or {"?"}:
                self._module(module).add(DISAGREE)

    def _count_path(self, path: ModelPath) -> None:
        for ev in path.evaluations:
            rule = ev.rule
            self._chain(rule.table, rule.chain).add(AGREE if ev.decided else NOT_MODELLED)
            if ev.decided:
                self.rules_checked.add((rule.table, rule.chain, rule.number))
            for module, _, _, decided in ev.conditions:
                self._module(module).add(AGREE if decided else NOT_MODELLED)
            if ev.matched:
                target = rule.rule.target
                applied = effect_module(rule)
                if applied is not None:
                    self._module(applied).add(AGREE)
                elif (target is not None and target.options is not None
                      and target.name not in ("ACCEPT", "DROP", "RETURN")):
                    self._module(target.name).add(NOT_MODELLED)

    # --- output -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": self.name,
            "family": self.family,
            "backend": self.backend,
            "seed": self.seed,
            "ok": self.ok,
            "packets": self.packets.json() | {"agree_on_one_of_several_paths": self.assumed},
            "rules_checked": len(self.rules_checked),
            "rules_total": self.rules_total,
            "chains": [{"table": t, "chain": c} | tally.json()
                       for (t, c), tally in sorted(self.chains.items())],
            "modules": [{"module": m} | tally.json() for m, tally in sorted(self.modules.items())],
            "results": [_comparison_json(c) for c in self.comparisons],
        }

    def format(self, *, verbose: bool = False) -> str:
        lines = [f"{self.name}: {self.family}, {self.backend}, {len(self.comparisons)} packet(s)"
                 + (f", seed {self.seed}" if self.seed is not None else "")]
        p = self.packets
        lines.append(f"  packets: {p.agree} agree ({self.assumed} on one of several paths), "
                     f"{p.not_modelled} not modelled, {p.disagree} disagree")
        lines.append(f"  rules checked in the kernel: {len(self.rules_checked)} of "
                     f"{self.rules_total}")
        lines.append("  by table:chain (rule evaluations)")
        lines.extend(_tally_lines({f"{t}:{c}": v for (t, c), v in sorted(self.chains.items())}))
        lines.append("  by module (condition evaluations; targets: rules applied)")
        lines.extend(_tally_lines(dict(sorted(self.modules.items()))))
        reasons = Counter(c.reason for c in self.comparisons if c.outcome == NOT_MODELLED)
        if reasons:
            lines.append("  not modelled:")
            lines.extend(f"    {n:>4} × {reason}" for reason, n in reasons.most_common(
                None if verbose else 10))
        if verbose:
            lines.append("  packets:")
            for number, c in enumerate(self.comparisons, 1):
                extra = f"  [{'; '.join(c.chosen.assumptions)}]" if (
                    c.chosen is not None and c.chosen.assumptions) else ""
                lines.append(f"    {number:>4} {c.outcome:<12} {c.path:<7} {c.model}{extra}")
        disagreements = [(i, c) for i, c in enumerate(self.comparisons, 1)
                         if c.outcome == DISAGREE]
        for index, (number, c) in enumerate(disagreements, 1):
            lines.append("")
            lines.append(f"  disagreement {index} of {len(disagreements)} (packet {number}):")
            lines.extend("    " + line for line in reproduction(c, self.name).splitlines())
        return "\n".join(lines) + "\n"


def _modules_of(path: ModelPath | None, key: tuple[str, str, int]) -> set[str]:
    if path is None:
        return set()
    for ev in path.evaluations:
        if (ev.rule.table, ev.rule.chain, ev.rule.number) == key:
            found = {module for module, *_ in ev.conditions}
            target = ev.rule.rule.target
            if ev.matched and target is not None and target.options is not None:
                found.add(target.name)
            return found
    return set()


def _tally_lines(tallies: Mapping[str, Tally]) -> list[str]:
    width = max((len(k) for k in tallies), default=0)
    return [f"    {name:<{width}}  agree {t.agree:>6}  not modelled {t.not_modelled:>6}  "
            f"disagree {t.disagree:>4}" for name, t in tallies.items()]


def _counts(counts: Mapping[Any, int]) -> str:
    if not counts:
        return "none"
    return " ".join(":".join(map(str, k)) + (f"×{n}" if n != 1 else "")
                    for k, n in sorted(counts.items()))


def _path_text(path: ModelPath) -> str:
    policies = " ".join(f"{t}:{c} {p}" for t, c, p in path.state.policies) or "none"
    return (f"hits {_counts(path.hits)}; policies {policies}; verdict {path.verdict}"
            + (f" (when {'; '.join(path.assumptions)})" if path.assumptions else ""))


def reproduction(c: Comparison, rules_name: str) -> str:
    """A disagreement as a user pastes it into an issue."""
    lines = [f"packet:   {c.model}", f"path:     {c.path}"]
    for d in c.divergences:
        if d.where == "egress":
            lines.append(f"egress:   {d.text}")
            continue
        lines.append(f"at:       {d.where}  {d.text}".rstrip())
        lines.append(f"          the kernel counted {d.kernel}, iptparse {d.model}")
        if d.conditions:
            lines.append("          iptparse: " + "; ".join(
                f"{source} {_HELD[holds]}" for source, holds in d.conditions))
    k = c.kernel
    lines.append(f"kernel:   hits {_counts(k.hits)}; policies {_counts(k.policies)}; "
                 f"{'delivered' if k.accepted else 'not delivered'}")
    shown = c.chosen or c.default
    if shown is not None:
        lines.append(f"iptparse: {_path_text(shown)}")
    lines.append(f"trace:    iptparse trace {rules_name} --path {c.path} --packet '{c.model}'")
    lines.append(f"verify:   echo '{c.model}' > p.txt; iptparse verify {rules_name} "
                 f"--path {c.path} --packets p.txt")
    return "\n".join(lines)


def _comparison_json(c: Comparison) -> dict[str, Any]:
    out: dict[str, Any] = {
        "packet": str(c.model),
        "path": c.path,
        "outcome": c.outcome,
        "kernel": {
            "hits": [{"table": t, "chain": ch, "rule": r, "count": n}
                     for (t, ch, r), n in sorted(c.kernel.hits.items())],
            "policies": [{"table": t, "chain": ch, "count": n}
                         for (t, ch), n in sorted(c.kernel.policies.items())],
            "delivered": c.kernel.accepted,
        },
    }
    shown = c.chosen or c.default
    if shown is not None:
        out["iptparse"] = {
            "hits": [{"table": t, "chain": ch, "rule": r, "count": n}
                     for (t, ch, r), n in sorted(shown.hits.items())],
            "policies": [{"table": t, "chain": ch, "policy": p}
                         for t, ch, p in shown.state.policies],
            "verdict": shown.verdict,
            "conditions": list(shown.assumptions),
        }
    if c.reason:
        out["reason"] = c.reason
    if c.divergences:
        out["divergences"] = [{"where": d.where, "rule": d.text, "kernel": d.kernel,
                               "iptparse": d.model,
                               "conditions": [{"text": s, "holds": h} for s, h in d.conditions]}
                              for d in c.divergences]
    return out
