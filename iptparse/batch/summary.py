"""Across the fleet: per packet, how many nodes gave each verdict, which nodes part from the
majority, and the rule that made the difference.

Two nodes agree on a packet when every path has the same verdict, probability, conditions and
deciding rule (by table, chain and text: numbers shift when a node has an extra rule earlier
in a chain). The majority is the largest group of agreeing nodes (ties: the group seen first).

For a node that differs, its walk and a majority node's walk are compared rule by rule (the
rules each matched, by text); at the first difference the node's own files say why: the
majority's rule is missing there (or reads differently), the node has a rule the majority
lacks, a set the rule reads holds other members, the host's addresses or routes differ, or the
same rule matched on one side only. When both walks match the same rules, a policy decides.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..nodes import Family
from .captures import Capture, ReadFailure, read_capture
from .records import (
    Evaluation,
    NodeFailure,
    NodeWarning,
    PathOutcome,
    Record,
    Result,
    RuleHit,
    verdict_label,
)
from .worker import LoadedCapture, cached_load

__all__ = ["Difference", "Divergence", "PacketSummary", "Summariser", "Summary", "summarise"]


@dataclass(frozen=True, slots=True)
class Difference:
    """Why a node differs. kind: missing, changed, extra, ipset, order, host, matched, policy,
    outcome, error or differs (when the node's files were not at hand)."""

    kind: str
    text: str
    rule: RuleHit | None = None


@dataclass(frozen=True, slots=True)
class Divergence:
    """A node that differs, and why, against `compared_with` (the majority node whose walk is
    closest to this node's)."""

    node: str
    verdict: str
    decided_by: tuple[RuleHit | None, ...]
    #: per path, why the stack dropped the packet where no rule decided (`PathOutcome.stopped`)
    stopped: tuple[str | None, ...]
    difference: Difference
    compared_with: str


@dataclass(frozen=True, slots=True)
class PacketSummary:
    packet: str
    index: int
    counts: tuple[tuple[str, int], ...]
    majority: str
    majority_nodes: int
    representative: str
    decided_by: tuple[RuleHit | None, ...]
    #: per path, why the stack dropped the packet where no rule decided (`PathOutcome.stopped`)
    stopped: tuple[str | None, ...]
    differs: tuple[Divergence, ...]
    error: str | None = None  # why the majority could not trace it


@dataclass(frozen=True, slots=True)
class Summary:
    nodes: int
    failed: tuple[NodeFailure, ...]
    packets: tuple[PacketSummary, ...]
    errors: int  # (node, packet) pairs that could not be traced
    #: what the captures warned of (rules they leave out, lines skipped, a table given twice)
    warned: tuple[NodeWarning, ...] = ()

    @property
    def ok(self) -> bool:
        """False when a node failed or a packet could not be traced somewhere (exit 1)."""
        return not self.failed and not self.errors


# --- the node's files, for explanations ----------------------------------------------------

class _Files:
    """Parsed captures by node name, loaded on demand (most nodes never need it)."""

    def __init__(self, captures: Iterable[Capture] | None, lenient: bool = False) -> None:
        self._captures = {c.name: c for c in captures or ()}
        self._lenient = lenient
        self._loaded: dict[str, LoadedCapture | None] = {}

    def get(self, node: str) -> LoadedCapture | None:
        if node not in self._loaded:
            capture = self._captures.get(node)
            loaded = None
            if capture is not None:
                payload = read_capture(capture, self._lenient)
                if not isinstance(payload, ReadFailure):
                    found = cached_load(payload)
                    loaded = found if isinstance(found, LoadedCapture) else None
            self._loaded[node] = loaded
        return self._loaded[node]


_SET_NAME = re.compile(r"--(?:match-set|add-set|del-set|map-set) (\S+)")


MemberKey = tuple[tuple[Any, ...], bool]


def _members(ipset: Any) -> dict[MemberKey, Any]:
    """Members by what decides a lookup (timeouts, counters and comments aside)."""
    return {(m.parts, m.nomatch): m for m in ipset.members} if ipset is not None else {}


def _set_difference(name: str, mine: LoadedCapture, theirs: LoadedCapture) -> str | None:
    a, b = mine.sets.get(name), theirs.sets.get(name)
    if a is None or b is None:
        return None if a is b else ("missing here" if a is None else "not on the majority")
    if a.type != b.type or a.family != b.family:
        return f"type {a.type} ({a.family_name}) here, {b.type} ({b.family_name}) on the majority"
    ma, mb = _members(a), _members(b)
    if ma.keys() == mb.keys():
        return None
    from ..ipset.elements import format_member
    from ..ipset.nodes import Member

    def show(ipset: Any, keys: Iterable[MemberKey]) -> str:
        family = ipset.family or "inet"
        items = sorted(format_member(ipset.settype, family, Member(parts))
                       + (" nomatch" if nomatch else "") for parts, nomatch in keys)
        more = f" and {len(items) - 5} more" if len(items) > 5 else ""
        return ", ".join(items[:5]) + more

    parts = []
    if mb.keys() - ma.keys():
        parts.append(f"missing here: {show(b, mb.keys() - ma.keys())}")
    if ma.keys() - mb.keys():
        parts.append(f"only here: {show(a, ma.keys() - mb.keys())}")
    return "; ".join(parts)


def _host_key(loaded: LoadedCapture) -> object:
    host = loaded.host
    return None if host is None else (host.addresses, host.routes, host.rules, host.sysctls)


# --- explaining one node -------------------------------------------------------------------

Hit = tuple[str, str, str]


def _hits(path: PathOutcome) -> list[Hit]:
    return [(h.table, h.chain, h.text) for h in path.hits]


def _prefix(a: PathOutcome, b: PathOutcome) -> int:
    n = 0
    for x, y in zip(_hits(a), _hits(b), strict=False):
        if x != y:
            break
        n += 1
    return n


def _closeness(a: PathOutcome, b: PathOutcome) -> tuple[int, int]:
    """Longer common start first, then fewer rules left over on either side."""
    n = _prefix(a, b)
    return n, 2 * n - len(a.hits) - len(b.hits)


def closeness(node: Evaluation, major: Evaluation) -> tuple[int, int]:
    """How alike two evaluations' walks are (to pick the majority node to compare with)."""
    scores = [_closeness(a, b) for a in node.paths for b in major.paths]
    return max(scores, default=(0, 0))


def _partner(path: PathOutcome, others: tuple[PathOutcome, ...]) -> PathOutcome:
    same = [o for o in others if o.conditions == path.conditions]
    return same[0] if same else max(others, key=lambda o: _closeness(path, o))


def _pair(mine: tuple[PathOutcome, ...], theirs: tuple[PathOutcome, ...]
          ) -> tuple[PathOutcome, PathOutcome]:
    """A path the node has and the majority lacks (or the reverse) with its counterpart on the
    other side; a pair whose walks differ is preferred (the others only follow from it)."""
    their_keys = {p.key for p in theirs}
    my_keys = {p.key for p in mine}
    pairs = [(p, _partner(p, theirs)) for p in mine if p.key not in their_keys]
    pairs += [(_partner(q, mine), q) for q in theirs if q.key not in my_keys]
    for p, q in pairs:
        if _hits(p) != _hits(q):
            return p, q
    return pairs[0] if pairs else (mine[0], theirs[0])


def _quote(rule: RuleHit) -> str:
    return f"{rule.where}: {rule.text}"


def _touched(ev: Evaluation) -> list[RuleHit]:
    """The rules any path of an evaluation matched, in walk order, each once."""
    seen: dict[Hit, RuleHit] = {}
    for path in ev.paths:
        for hit in path.hits:
            seen.setdefault((hit.table, hit.chain, hit.text), hit)
    return list(seen.values())


def _rule_diff(node: Evaluation, major: Evaluation, family: Family, mine: LoadedCapture,
               theirs: LoadedCapture) -> Difference | None:
    """A rule the majority's walks match that the node lacks, or the reverse."""
    extra = [b for b in _touched(node) if b.text not in theirs.chain_texts(family, b.table,
                                                                           b.chain)]
    for a in _touched(major):
        if a.text not in mine.chain_texts(family, a.table, a.chain):
            for b in extra:
                if (b.table, b.chain) == (a.table, a.chain):
                    return Difference("changed", f"{a.where} reads `{b.text}` here, `{a.text}` "
                                      "on the majority", a)
            return Difference("missing", f"missing here: {_quote(a)}", a)
    if extra:
        return Difference("extra", f"only here: {_quote(extra[0])}", extra[0])
    return None


def _at(a: RuleHit | None, b: RuleHit | None, family: Family, mine: LoadedCapture,
        theirs: LoadedCapture) -> Difference:
    """Why the walks part where the majority matched `a` and the node `b`."""
    a_missing = a is not None and a.text not in mine.chain_texts(family, a.table, a.chain)
    b_extra = b is not None and b.text not in theirs.chain_texts(family, b.table, b.chain)
    if a is not None and a_missing:
        if b is not None and b_extra and (b.table, b.chain) == (a.table, a.chain):
            return Difference("changed", f"{a.where} reads `{b.text}` here, `{a.text}` on the "
                              "majority", a)
        return Difference("missing", f"missing here: {_quote(a)}", a)
    if b is not None and b_extra:
        return Difference("extra", f"only here: {_quote(b)}", b)
    for reader in (r for r in (a, b) if r is not None):
        for name in _SET_NAME.findall(reader.text):
            diff = _set_difference(name, mine, theirs)
            if diff:
                return Difference("ipset", f"ipset {name} differs ({diff}), read by "
                                  f"{_quote(reader)}", reader)
    if a is not None and b is not None and (a.table, a.chain) == (b.table, b.chain):
        here = mine.chain_rules(family, a.table, a.chain)
        there = theirs.chain_rules(family, a.table, a.chain)
        if here.index(b.text) < here.index(a.text) and there.index(a.text) < there.index(b.text):
            return Difference("order", f"{b.where} `{b.text}` comes before `{a.text}` here, "
                              "after it on the majority", b)
    rule = a if a is not None else b
    assert rule is not None
    side = "on the majority but not here" if rule is a else "here but not on the majority"
    if _host_key(mine) != _host_key(theirs):
        return Difference("host", f"the host's addresses or routes differ: {_quote(rule)} "
                          f"matches {side}", rule)
    return Difference("matched", f"{_quote(rule)} matches {side}", rule)


def explain(node: Evaluation, major: Evaluation, mine: LoadedCapture | None,
            theirs: LoadedCapture | None) -> Difference:
    """The first place where the node's walk leaves the majority's, and why."""
    if node.error is not None:
        return Difference("error", node.error)
    if major.error is not None or not node.paths or not major.paths:
        return Difference("outcome", f"the majority could not trace it: {major.error}")
    np, mp = _pair(node.paths, major.paths)
    family = Family(node.family) if node.family else Family.INET
    i = _prefix(np, mp)
    if i < len(np.hits) or i < len(mp.hits):
        a = mp.hits[i] if i < len(mp.hits) else None
        b = np.hits[i] if i < len(np.hits) else None
        if mine is None or theirs is None:
            seen = _quote(a) if a else "no further rule"
            here = _quote(b) if b else "no further rule"
            return Difference("differs", f"the majority matches {seen}; this node {here}", a or b)
        found = _at(a, b, family, mine, theirs)
        if found.kind in ("matched", "missing", "extra"):
            # a rule of the majority's walks that reads differently here says more
            other = _rule_diff(node, major, family, mine, theirs)
            if other is not None and (other.kind == "changed" or found.kind == "matched"):
                return other
        return found
    nd, md = np.decision, mp.decision
    if nd != md and nd is not None and md is not None and nd.rule == 0 and md.rule == 0:
        return Difference("policy", f"{nd.table}:{nd.chain} policy: `{nd.text}` here, "
                          f"`{md.text}` on the majority", nd)
    for (t1, c1, p1), (t2, c2, p2) in zip(np.policies, mp.policies, strict=False):
        if (t1, c1, p1) != (t2, c2, p2):
            return Difference("policy", f"{t1}:{c1} policy {p1} here, {t2}:{c2} policy {p2} on "
                              "the majority", RuleHit(t1, c1, 0, f"-P {c1} {p1}"))
    if mine is not None and theirs is not None:
        found_rule = _rule_diff(node, major, family, mine, theirs)
        if found_rule is not None:
            return found_rule
        if _host_key(mine) != _host_key(theirs):
            return Difference("host", "the host's addresses or routes differ: "
                              f"{np.verdict} here, {mp.verdict} on the majority, with the same "
                              "rules matched", nd or md)
    return Difference("outcome", "the same rules match; the outcome differs "
                      f"({np.verdict} here, {mp.verdict} on the majority, under other "
                      "conditions)" if np.conditions != mp.conditions else
                      f"({np.verdict} here, {mp.verdict} on the majority)", nd)


# --- the summary ---------------------------------------------------------------------------

class Summariser:
    """Records in (as they stream out of `evaluate`), a Summary out."""

    def __init__(self, captures: Iterable[Capture] | None = None, *,
                 lenient: bool = False) -> None:
        """`lenient` as the batch read the captures, to read them alike for explanations."""
        self._files = _Files(captures, lenient)
        self._nodes: list[str] = []
        self._failed: list[NodeFailure] = []
        self._warned: list[NodeWarning] = []
        self._by_packet: dict[int, list[Result]] = {}
        self._errors = 0

    def add(self, record: Record) -> None:
        if isinstance(record, NodeWarning):
            self._warned.append(record)
            return
        if isinstance(record, NodeFailure):
            self._failed.append(record)
            self._nodes.append(record.node)
            return
        if not self._nodes or self._nodes[-1] != record.node:
            self._nodes.append(record.node)
        if record.evaluation.error is not None:
            self._errors += 1
        self._by_packet.setdefault(record.index, []).append(record)

    def finish(self) -> Summary:
        packets = tuple(self._packet(results) for _, results in sorted(self._by_packet.items()))
        return Summary(len(self._nodes), tuple(self._failed), packets, self._errors,
                       tuple(self._warned))

    def _packet(self, results: list[Result]) -> PacketSummary:
        groups: dict[tuple[object, ...], list[Result]] = {}
        for r in results:
            groups.setdefault(r.evaluation.signature, []).append(r)
        majority = max(groups.values(), key=len)  # max keeps the first of equals
        rep = majority[0]
        labels = Counter(verdict_label(r.evaluation) for r in results)
        first = {verdict_label(r.evaluation): i for i, r in reversed(list(enumerate(results)))}
        counts = tuple(sorted(labels.items(), key=lambda kv: (-kv[1], first[kv[0]])))
        explained: dict[tuple[object, ...], tuple[Difference, str]] = {}
        differs = []
        models: list[Result] = []  # the first majority node of each distinct capture
        for r in majority if len(groups) > 1 else ():
            if all(m.capture != r.capture for m in models):
                models.append(r)
        for r in results:
            ev = r.evaluation
            if ev.signature == rep.evaluation.signature:
                continue
            key = (ev.signature, r.capture)  # identical captures differ for the same reason
            found = explained.get(key)
            if found is None:
                model = max(models, key=lambda m: closeness(ev, m.evaluation))
                difference = explain(ev, model.evaluation, self._files.get(r.node),
                                     self._files.get(model.node))
                found = explained[key] = (difference, model.node)
            differs.append(Divergence(r.node, verdict_label(ev),
                                      tuple(p.decision for p in ev.paths),
                                      tuple(p.stopped for p in ev.paths), *found))
        return PacketSummary(rep.packet, rep.index, counts, verdict_label(rep.evaluation),
                             len(majority), rep.node,
                             tuple(p.decision for p in rep.evaluation.paths),
                             tuple(p.stopped for p in rep.evaluation.paths), tuple(differs),
                             rep.evaluation.error)


def summarise(records: Iterable[Record], captures: Iterable[Capture] | None = None, *,
              lenient: bool = False) -> Summary:
    """The fleet-wide report. With `captures` (the nodes evaluated, read `lenient` as the batch
    read them) it can say whether a rule is missing on a node or only matched differently;
    without, it names the first rules that differ."""
    summariser = Summariser(captures, lenient=lenient)
    for record in records:
        summariser.add(record)
    return summariser.finish()
