"""What a batch yields: one `Result` per (node, packet), one `NodeFailure` per node that could
not be read or parsed, one `NodeWarning` per note in a node's capture that it leaves rules out;
and their JSON form (the JSONL output and the stable shape tools read).

Results of nodes with identical captures share one `Evaluation` object: the batch computes it
once and fans it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["Evaluation", "NodeFailure", "NodeWarning", "PathOutcome", "Record", "Result", "RuleHit",
           "record_json", "verdict_label"]


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule by where it sits and how it reads: number 0 is the chain's policy, whose text is
    `-P CHAIN POLICY`; rule texts are as iptables-save prints them, without counters."""

    table: str
    chain: str
    rule: int
    text: str

    @property
    def where(self) -> str:
        if self.rule == 0:
            return f"{self.table}:{self.chain} policy"
        return f"{self.table}:{self.chain} #{self.rule}"

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "chain": self.chain, "rule": self.rule, "text": self.text}


@dataclass(frozen=True, slots=True)
class PathOutcome:
    """One way the packet can go on a node: its verdict, the rule that decided, the rules it
    matched on the way, and the conditions (for abstract packets) under which it goes so."""

    verdict: str
    probability: Fraction
    decision: RuleHit | None
    hits: tuple[RuleHit, ...]
    policies: tuple[tuple[str, str, str], ...]
    conditions: tuple[str, ...]
    #: why the stack dropped the packet when no rule did (`PathState.stopped`)
    stopped: str | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """What must be equal for two nodes to treat the packet alike on this path (rule
        numbers may differ: a node with an extra rule earlier in a chain still agrees)."""
        decided = None if self.decision is None else (
            self.decision.table, self.decision.chain, self.decision.text)
        return (self.verdict, self.probability, decided, self.stopped, self.conditions)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "probability": float(self.probability),
            "decided_by": None if self.decision is None else self.decision.to_json(),
            "stopped": self.stopped,
            "hits": [h.to_json() for h in self.hits],
            "policies": [{"table": t, "chain": c, "policy": p} for t, c, p in self.policies],
            "conditions": list(self.conditions),
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A packet's fate on one capture, or why it could not be traced there (`error`)."""

    family: str | None
    paths: tuple[PathOutcome, ...] = ()
    truncated: bool = False
    message: str = ""
    error: str | None = None

    def verdicts(self) -> dict[str, Fraction]:
        out: dict[str, Fraction] = {}
        for p in self.paths:
            out[p.verdict] = out.get(p.verdict, Fraction(0)) + p.probability
        return out

    @property
    def signature(self) -> tuple[object, ...]:
        if self.error is not None:
            return ("error",)
        return tuple(sorted((p.key for p in self.paths), key=repr))


def verdict_label(evaluation: Evaluation) -> str:
    """`ACCEPT`, or `ACCEPT|DROP` when the packet may end either way (names sorted), or
    `ERROR`."""
    if evaluation.error is not None:
        return "ERROR"
    return "|".join(sorted(evaluation.verdicts())) or "NONE"


@dataclass(frozen=True, slots=True)
class Result:
    """One (node, packet): `packet` is the packet's id, `index` its position in the input,
    `capture` the first 12 hex digits of the content hash of the node's files."""

    node: str
    packet: str
    index: int
    capture: str
    evaluation: Evaluation

    @property
    def ok(self) -> bool:
        return self.evaluation.error is None


@dataclass(frozen=True, slots=True)
class NodeFailure:
    """A node skipped because its capture is bad; `error` names the file, line and column."""

    node: str
    error: str
    files: tuple[str, ...] = ()
    capture: str | None = None


@dataclass(frozen=True, slots=True)
class NodeWarning:
    """Something in a node's capture its answers may not stand for: what parsing it warned of
    (iptables-nft's notes that the node has rules the capture does not hold, `iptparse.notices`;
    a line `--lenient` skipped; an old syntax), or a table that a later file gives again. It
    comes before the node's results."""

    node: str
    file: str
    line: int
    warning: str
    capture: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


Record = Result | NodeFailure | NodeWarning


def record_json(record: Record) -> dict[str, Any]:
    """The JSONL line of a record."""
    if isinstance(record, NodeFailure):
        return {"type": "node-error", "node": record.node, "status": "error",
                "error": record.error, "files": list(record.files), "capture": record.capture}
    if isinstance(record, NodeWarning):
        return {"type": "node-warning", "node": record.node, "status": "warning",
                "file": record.file, "line": record.line, "warning": record.warning,
                "capture": record.capture}
    ev = record.evaluation
    out: dict[str, Any] = {"type": "result", "node": record.node, "packet": record.packet,
                           "status": "ok" if ev.error is None else "error"}
    out["capture"] = record.capture
    out["family"] = ev.family
    if ev.error is not None:
        out["error"] = ev.error
        return out
    out["verdicts"] = {v: float(p) for v, p in ev.verdicts().items()}
    out["paths"] = [p.to_json() for p in ev.paths]
    if ev.truncated:
        out["truncated"] = ev.message
    return out
