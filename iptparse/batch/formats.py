"""The three output formats of `iptparse batch`, written as records stream in.

- jsonl: one object per line, `"type"` says which: `result` (a node and a packet), `node-error`
  (a node skipped), `node-warning` (a capture that leaves rules out), then `summary` (one per
  packet) and `totals`. For tools.
- csv: one row per (node, packet, path) under a header; a failed node is one row with status
  `error`, a capture's warning one with status `warning`. For spreadsheets (the summary goes
  to the human channel).
- table: aligned columns and the summary in text. For people.
"""

from __future__ import annotations

import abc
import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from .records import NodeFailure, NodeWarning, PathOutcome, Record, RuleHit, record_json
from .summary import Divergence, PacketSummary, Summary

__all__ = ["FORMATS", "Writer", "summary_json", "summary_text", "writer"]

FORMATS = ("table", "jsonl", "csv")


class Writer(abc.ABC):
    def __init__(self, out: TextIO) -> None:
        self.out = out

    @abc.abstractmethod
    def write(self, record: Record) -> None:
        """Write one record as it arrives."""

    @abc.abstractmethod
    def finish(self, summary: Summary) -> None:
        """Called once at the end; formats that carry the summary write it here."""


# --- jsonl ---------------------------------------------------------------------------------

def _hit(hit: RuleHit | None) -> dict[str, Any] | None:
    return None if hit is None else hit.to_json()


def summary_json(summary: Summary) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in summary.packets:
        out.append({
            "type": "summary", "packet": p.packet,
            "counts": dict(p.counts),
            "majority": {"verdict": p.majority, "nodes": p.majority_nodes,
                         "example": p.representative,
                         "decided_by": [_hit(h) for h in p.decided_by],
                         "stopped": list(p.stopped), "error": p.error},
            "differs": [{"node": d.node, "verdict": d.verdict,
                         "decided_by": [_hit(h) for h in d.decided_by],
                         "stopped": list(d.stopped),
                         "difference": {"kind": d.difference.kind, "text": d.difference.text,
                                        "rule": _hit(d.difference.rule),
                                        "compared_with": d.compared_with}}
                        for d in p.differs],
        })
    out.append({"type": "totals", "nodes": summary.nodes, "errors": summary.errors,
                 "failed": [{"node": f.node, "error": f.error} for f in summary.failed],
                 "warnings": [{"node": w.node, "file": w.file, "line": w.line,
                               "warning": w.warning} for w in summary.warned]})
    return out


class JsonlWriter(Writer):
    def write(self, record: Record) -> None:
        self.out.write(json.dumps(record_json(record), ensure_ascii=False) + "\n")

    def finish(self, summary: Summary) -> None:
        for item in summary_json(summary):
            self.out.write(json.dumps(item, ensure_ascii=False) + "\n")


# --- csv -----------------------------------------------------------------------------------

CSV_COLUMNS = ("node", "packet", "status", "family", "verdict", "probability", "table", "chain",
               "rule", "rule_text", "conditions", "hits", "capture", "error", "stopped")


def _hits_text(path: PathOutcome) -> str:
    return " > ".join(f"{h.table}:{h.chain}#{h.rule}" for h in path.hits)


class CsvWriter(Writer):
    def __init__(self, out: TextIO) -> None:
        super().__init__(out)
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(CSV_COLUMNS)

    def write(self, record: Record) -> None:
        if isinstance(record, NodeFailure):
            self._csv.writerow([record.node, "", "error", "", "", "", "", "", "", "", "", "",
                                record.capture or "", record.error])
            return
        if isinstance(record, NodeWarning):
            self._csv.writerow([record.node, "", "warning", "", "", "", "", "", "", "", "", "",
                                record.capture or "", f"{record.where}: {record.warning}", ""])
            return
        ev = record.evaluation
        if ev.error is not None:
            self._csv.writerow([record.node, record.packet, "error", ev.family or "", "", "",
                                "", "", "", "", "", "", record.capture, ev.error, ""])
            return
        for path in ev.paths:
            d = path.decision
            self._csv.writerow([
                record.node, record.packet, "ok", ev.family or "", path.verdict,
                _probability(path), d.table if d else "", d.chain if d else "",
                d.rule if d else "", d.text if d else "", " or ".join(path.conditions),
                _hits_text(path), record.capture, ev.message if ev.truncated else "",
                path.stopped or ""])

    def finish(self, summary: Summary) -> None:
        """Rows only: a spreadsheet cannot hold the summary (the shell prints it apart)."""


def _probability(path: PathOutcome) -> str:
    return f"{float(path.probability):.6g}"


# --- table ---------------------------------------------------------------------------------

def _decided(hits: Sequence[RuleHit | None], stopped: Sequence[str | None]) -> str:
    """What decided each path: a rule or policy, else the stack's reason, else no rule."""
    wheres = list(dict.fromkeys(h.where if h is not None else why or "no rule"
                                for h, why in zip(hits, stopped, strict=True)))
    return ", ".join(wheres)


class TableWriter(Writer):
    """Columns sized from the node names and packet ids, known before the first record."""

    def __init__(self, out: TextIO, nodes: Sequence[str] = (), packets: Sequence[str] = ()
                 ) -> None:
        super().__init__(out)
        self._node_w = max([len("NODE"), *map(len, nodes)])
        self._packet_w = max([len("PACKET"), *map(len, packets)])
        self._row("NODE", "PACKET", "VERDICT", "DECIDED BY")

    def _row(self, node: str, packet: str, verdict: str, rest: str) -> None:
        line = f"{node:<{self._node_w}}  {packet:<{self._packet_w}}  {verdict:<12} {rest}"
        self.out.write(line.rstrip() + "\n")

    def _indent(self, text: str) -> None:
        pad = " " * (self._node_w + self._packet_w + 4)
        for line in text.splitlines():
            self.out.write(f"{pad}  {line}\n")

    def write(self, record: Record) -> None:
        if isinstance(record, NodeFailure):
            lines = record.error.splitlines() or [""]
            self._row(record.node, "-", "FAILED", lines[0])
            self._indent("\n".join(lines[1:]))
            return
        if isinstance(record, NodeWarning):
            self._row(record.node, "-", "WARNING", f"{record.where}: {record.warning}")
            return
        ev = record.evaluation
        if ev.error is not None:
            self._row(record.node, record.packet, "ERROR", ev.error)
            return
        for n, path in enumerate(ev.paths):
            prob = "" if path.probability == 1 else f" {float(path.probability):.4g}"
            d = path.decision
            rest = (f"{d.where}  {d.text}" if d is not None
                    else f"by {path.stopped}" if path.stopped else "no rule decided")
            node, packet = (record.node, record.packet) if n == 0 else ("", "")
            self._row(node, packet, path.verdict + prob, rest)
            for condition in path.conditions:
                self._indent(f"if {condition}")
        if ev.truncated:
            self._indent(f"warning: {ev.message}")

    def finish(self, summary: Summary) -> None:
        self.out.write("\n" + summary_text(summary))


# --- the summary as text -------------------------------------------------------------------

def _group(differs: Sequence[Divergence]) -> list[tuple[list[str], Divergence]]:
    """Nodes that differ the same way, listed once."""
    groups: dict[tuple[object, ...], tuple[list[str], Divergence]] = {}
    for d in differs:
        key = (d.verdict, d.decided_by, d.stopped, d.difference, d.compared_with)
        groups.setdefault(key, ([], d))[0].append(d.node)
    return list(groups.values())


def _packet_text(p: PacketSummary) -> list[str]:
    counts = ", ".join(f"{label} {n}" for label, n in p.counts)
    lines = [f"packet {p.packet}: {counts}"]
    decided = (f"by {_decided(p.decided_by, p.stopped)}" if p.error is None
               else f"({p.error})")
    lines.append(f"  majority ({p.majority_nodes} node{'s' if p.majority_nodes != 1 else ''}, "
                 f"e.g. {p.representative}): {p.majority} {decided}")
    for hit in dict.fromkeys(p.decided_by):
        if hit is not None:
            lines.append(f"      {hit.text}")
    if not p.differs:
        lines.append("  every node agrees")
        return lines
    for nodes, d in _group(p.differs):
        who = ", ".join(nodes) + (f" ({len(nodes)} nodes)" if len(nodes) > 1 else "")
        decided = f"by {_decided(d.decided_by, d.stopped)}" if d.decided_by else ""
        lines.append(f"  {who}: {d.verdict} {decided}".rstrip())
        lines.append(f"      why (against {d.compared_with}): {d.difference.text}")
    return lines


def summary_text(summary: Summary) -> str:
    failed = f", {len(summary.failed)} failed" if summary.failed else ""
    errors = f", {summary.errors} untraceable (node, packet) pair(s)" if summary.errors else ""
    lines = [f"summary: {summary.nodes} node(s){failed}, {len(summary.packets)} packet(s)"
             f"{errors}"]
    for p in summary.packets:
        lines.append("")
        lines.extend(_packet_text(p))
    if summary.warned:
        lines.append("")
        lines.append("nodes whose captures leave rules out (their answers ignore them):")
        for w in summary.warned:
            lines.append(f"  {w.node}: {w.where}: {w.warning}")
    if summary.failed:
        lines.append("")
        lines.append("failed nodes:")
        for f in summary.failed:
            error = f.error.splitlines() or [""]
            lines.append(f"  {f.node}: {error[0]}")
            lines.extend(f"    {line}" for line in error[1:])
    return "\n".join(lines) + "\n"


def writer(fmt: str, out: TextIO, nodes: Sequence[str] = (), packets: Sequence[str] = ()
           ) -> Writer:
    if fmt == "jsonl":
        return JsonlWriter(out)
    if fmt == "csv":
        return CsvWriter(out)
    if fmt == "table":
        return TableWriter(out, nodes, packets)
    raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")

