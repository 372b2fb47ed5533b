"""The work itself, wherever it runs (this process, a `--jobs` process, a Dask worker).

A task names a capture by its content hash, carries its texts and a slice of the packets; the
worker parses the capture once (a small per-process cache keyed by the hash, so later slices
and identical nodes cost nothing) and traces each packet. Everything a task returns is plain
picklable data: results are the same bytes whichever way the batch runs.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..concrete_memo import evaluate as evaluate_concrete
from ..errors import IptparseError, ParseError, ParseWarning
from ..inputs import InputError
from ..interp import RuleRef
from ..logic import fork_negations
from ..nodes import Dump, Family
from ..packet import Packet, PacketError
from ..trace import TraceError, choose_family, simplify, trace
from .captures import Payload
from .records import Evaluation, PathOutcome, RuleHit

__all__ = ["LoadFailure", "LoadedCapture", "Task", "TaskResult", "load_payload", "run_task"]

_COUNTERS = "["  # a rule text with `-c` counters starts with `[packets:bytes] `


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """Why a capture cannot be evaluated. `file` is the index of the guilty file in the
    node's files (its name is filled in per node by the caller), `line` a line in it."""

    message: str
    file: int | None = None
    line: int | None = None
    parse_error: ParseError | None = None
    #: what the load warned of before it failed (`LoadedCapture.warnings`)
    warnings: tuple[tuple[int, int, str], ...] = ()

    def format(self, names: Sequence[str]) -> str:
        """The message with the node's own file name (identical nodes share a failure)."""
        name = names[self.file] if self.file is not None and self.file < len(names) else None
        if self.parse_error is not None and name is not None:
            error = self.parse_error
            return ParseError(error.message, line=error.line, column=error.column,
                              line_text=error.line_text, filename=name,
                              width=error.width).format()
        if name is None:
            return self.message
        where = f"{name}:{self.line}" if self.line is not None else name
        return f"{where}: error: {self.message}"


class LoadedCapture:
    """A parsed node: its ruleset plus the lookups records and the divergence report need."""

    def __init__(self, ruleset: Any, sets: Mapping[str, Any],
                 warnings: tuple[tuple[int, int, str], ...] = ()) -> None:
        self.ruleset = ruleset
        self.sets = sets
        #: (file index, line, warning) of what parsing the files warned of: iptables-nft's notes
        #: that the node has rules the files leave out, lines a lenient load skipped
        self.warnings = warnings
        self._texts: dict[tuple[Family, str, str, int], str] = {}
        self._chains: dict[tuple[Family, str, str], tuple[str, ...]] = {}
        self._sets: dict[tuple[Family, str, str], frozenset[str]] = {}
        #: the evaluation built for an outcome list of the evaluator's memo, by the list's
        #: identity (the memo hands out the same list for every packet it answers alike); the
        #: list is kept with it so that its identity cannot be reused
        self.built: dict[int, tuple[object, Evaluation]] = {}

    def rule_text(self, family: Family, table: str, chain: str, number: int) -> str:
        key = (family, table, chain, number)
        text = self._texts.get(key)
        if text is None:
            compiled = self.ruleset.table(family, table)
            found = compiled.chain(chain) if compiled is not None else None
            if found is None:
                text = ""
            elif number == 0:  # the policy (a user chain has none)
                text = f"-P {chain} {found.policy}" if found.policy else ""
            else:
                text = compiled.rule(found, number - 1).text
                if text.startswith(_COUNTERS):
                    text = text.split(" ", 1)[1]
                text = text.rstrip()
            self._texts[key] = text
        return text

    def chain_rules(self, family: Family, table: str, chain: str) -> tuple[str, ...]:
        """A chain's rule texts in order (empty if there is no such chain)."""
        key = (family, table, chain)
        texts = self._chains.get(key)
        if texts is None:
            compiled = self.ruleset.table(family, table)
            found = compiled.chain(chain) if compiled is not None else None
            count = len(found.rules) if found is not None else 0
            texts = tuple(self.rule_text(family, table, chain, n) for n in range(1, count + 1))
            self._chains[key] = texts
        return texts

    def chain_texts(self, family: Family, table: str, chain: str) -> frozenset[str]:
        """Every rule text of a chain and its policy line (empty if there is no such chain)."""
        key = (family, table, chain)
        texts = self._sets.get(key)
        if texts is None:
            items = set(self.chain_rules(family, table, chain))
            policy = self.rule_text(family, table, chain, 0)
            if policy:
                items.add(policy)
            texts = self._sets[key] = frozenset(items)
        return texts

    @property
    def host(self) -> Any:
        return self.ruleset.host


# --- loading -------------------------------------------------------------------------------

def _set_names(dump: Dump) -> list[tuple[str, int | None]]:
    """Sets the rules name (`-m set`, `-j SET`), with the line of the first rule naming each."""
    from ..extensions.set import SetMatch
    from ..extensions.set_target import SetTarget

    out: dict[str, int | None] = {}
    for table in dump.tables:
        for chain in table.chains:
            for rule in chain.rules:
                line = rule.span.line if rule.span else None
                for match in rule.matches:
                    if isinstance(match.options, SetMatch):
                        out.setdefault(match.options.name, line)
                options = rule.target.options if rule.target is not None else None
                if isinstance(options, SetTarget):
                    for ref in (options.add, options.delete, options.map):
                        if ref is not None:
                            out.setdefault(ref.name, line)
    return list(out.items())


def load_payload(payload: Payload) -> LoadedCapture | LoadFailure:
    """Parse a capture; a bad one becomes a LoadFailure naming the file (by index) and line."""
    from ..host import Host, HostError  # HostError: a ValueError, reported below
    from ..inputs import detect_kind
    from ..ipset import parse_ipset
    from ..parser import ErrorMode, parse_iptables
    from ..ruleset import Ruleset

    dumps: dict[Family, list[tuple[int, Dump]]] = {}
    sets: dict[str, Any] = {}
    routes: list[tuple[int, str]] = []
    addrs: list[tuple[int, str]] = []
    sysctls: list[tuple[int, str]] = []
    has_ipset = False
    current: int | None = None
    mode: ErrorMode = "skip" if payload.lenient else "raise"
    warned: list[tuple[int, int, str]] = []  # the warnings, by file index
    try:
        for index, (role, text) in enumerate(payload.entries):
            current = index
            if role in ("v4", "v6"):
                if detect_kind(text) != "iptables":
                    return LoadFailure("an ipset dump, not iptables-save output", index)
                family = Family.INET6 if role == "v6" else Family.INET
                warnings: list[ParseWarning] = []
                dump = parse_iptables(text, filename=f"#{index}", family=family, errors=mode,
                                      warnings=warnings)
                warned += [(index, w.line, w.message) for w in warnings]
                dumps.setdefault(family, []).append((index, dump))
            elif role == "ipset":
                has_ipset = True
                warnings = []
                for ipset in parse_ipset(text, filename=f"#{index}", errors=mode,
                                         warnings=warnings):
                    sets[ipset.name] = ipset
                warned += [(index, w.line, w.message) for w in warnings]
            elif role == "routes":
                routes.append((index, text))
            elif role == "addrs":
                addrs.append((index, text))
            elif role == "sysctl":
                sysctls.append((index, text))
        current = None
        merged = []
        for family, items in dumps.items():
            for index, dump in items:
                for name, line in _set_names(dump):
                    if name not in sets:
                        where = ("which is not in the node's ipset files" if has_ipset
                                 else "and the node has no ipset file")
                        return LoadFailure(f"a rule uses ipset {name}, {where}", index, line,
                                           warnings=tuple(warned))
            items_all = tuple(item for _, d in items for item in d.items)
            merged.append(Dump(family, items_all))
        host = None
        if routes or addrs or sysctls:
            try:
                host = Host.from_text("\n".join(t for _, t in addrs) or None,
                                      "\n".join(t for _, t in routes) or None,
                                      "\n".join(t for _, t in sysctls) or None)
            except HostError:
                for index, text in addrs:  # which file: read each alone
                    current = index
                    Host.from_text(text, None)
                for index, text in routes:
                    current = index
                    Host.from_text(None, text)
                for index, text in sysctls:
                    current = index
                    Host.from_text(None, None, text)
                current = None  # only the files together fail
                raise
        return LoadedCapture(Ruleset(merged, sets=sets, host=host), sets, tuple(warned))
    except ParseError as exc:
        return LoadFailure(exc.message, current, exc.line, exc, tuple(warned))
    except (IptparseError, InputError, ValueError) as exc:
        return LoadFailure(str(exc), current, warnings=tuple(warned))


# --- the cache -----------------------------------------------------------------------------

_CACHE_SIZE = 16
#: records kept per capture for the memo's outcomes (beyond it they are built again)
_BUILT_SIZE = 65_536
_cache: OrderedDict[str, LoadedCapture | LoadFailure] = OrderedDict()
#: One task at a time per process. Dask may run tasks in threads of one process; rulesets
#: compile lazily and parsers keep caches, and the GIL would serialise the work anyway.
_lock = threading.RLock()


def cached_load(payload: Payload) -> LoadedCapture | LoadFailure:
    """The parsed capture for this content, parsed at most once per process while cached."""
    with _lock:
        found = _cache.get(payload.digest)
        if found is not None:
            _cache.move_to_end(payload.digest)
            return found
        loaded = load_payload(payload)
        _cache[payload.digest] = loaded
        # An evicted capture is freed by reference counting, frozen or not: nothing in it
        # refers back to it (its memo holds the ruleset weakly), so no collection of the
        # whole heap is needed per node beyond the cache's size (tests/batch/test_worker.py)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        # A parsed capture is millions of long-lived objects; every full collection would walk
        # them all again, which halved the packet rate of a 10k-service node. Freezing moves
        # them out of the collector's sight (reference counting still frees them).
        gc.freeze()
        return loaded


# --- tasks ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Task:
    """Trace `packets` (positions `start`…) on the capture with this digest."""

    digest: str
    start: int
    packets: tuple[Packet, ...]
    path: str
    assumptions: tuple[tuple[str, bool], ...] = ()
    max_paths: int = 10_000


@dataclass(frozen=True, slots=True)
class TaskResult:
    digest: str
    start: int
    evaluations: tuple[Evaluation, ...] = ()
    failure: LoadFailure | None = field(default=None)
    #: what loading the capture warned of (`LoadedCapture.warnings`)
    warnings: tuple[tuple[int, int, str], ...] = ()


def evaluate_packet(loaded: LoadedCapture, packet: Packet, task: Task,
                    assumptions: dict[str, bool] | None = None) -> Evaluation:
    """A packet's outcomes on a capture: by the concrete evaluator (with its memo of earlier
    packets' answers) when the packet is exact, else by the interpreter. Both give the same
    paths; they are put in one canonical order so the records are the same either way.
    `assumptions`: the task's, as a dict (made once per task by the caller, or here)."""
    if assumptions is None:
        assumptions = dict(task.assumptions)
    try:
        # None for a family the capture lacks: the interpreter then says so
        fast = evaluate_concrete(loaded.ruleset, packet, task.path, assumptions=assumptions,
                                 max_paths=task.max_paths)
        if fast is not None:
            built = loaded.built.get(id(fast))
            if built is not None and built[0] is fast:
                return built[1]  # immutable, shared by the packets of this outcome
            family = choose_family(loaded.ruleset, packet)
            groups: dict[_OutcomeKey, list[tuple[str, ...]]] = {}
            negated = fork_negations(p.conditions for p in fast)
            for p in fast:
                key: _OutcomeKey = (p.verdict, p.probability, p.decision, p.hits, p.policies,
                                    p.stopped)
                groups.setdefault(key, []).append(tuple(c.text for c in p.conditions))
            paths = [_outcome(loaded, family, *key,
                              [" and ".join(c) for c in simplify(alternatives, negated) if c])
                     for key, alternatives in groups.items()]
            evaluation = Evaluation(family.value, _ordered(paths))
            if len(loaded.built) >= _BUILT_SIZE:
                loaded.built.clear()
            loaded.built[id(fast)] = (fast, evaluation)
            return evaluation
        result = trace(loaded.ruleset, packet, task.path, assumptions=assumptions,
                       max_paths=task.max_paths, steps=False)
    except (TraceError, PacketError) as exc:
        return Evaluation(None, error=str(exc))
    paths = [_outcome(loaded, result.family, p.verdict, p.probability, p.state.decision,
                      p.hits, p.policies, p.state.stopped, p.conditions) for p in result.paths]
    return Evaluation(result.family.value, _ordered(paths), result.truncated, result.message)


#: what makes two exact paths one outcome: they differ only in the conditions they were taken on
_OutcomeKey = tuple[str, Fraction, tuple[str, str, int] | None, tuple[RuleRef, ...],
                    tuple[tuple[str, str, str], ...], str | None]


def _outcome(loaded: LoadedCapture, family: Family, verdict: str, probability: Fraction,
             decision: tuple[str, str, int] | None, hits: Sequence[RuleRef],
             policies: tuple[tuple[str, str, str], ...], stopped: str | None,
             conditions: Sequence[str]) -> PathOutcome:
    decided = None if decision is None else RuleHit(*decision,
                                                    loaded.rule_text(family, *decision))
    rules = tuple(RuleHit(h.table, h.chain, h.rule,
                          loaded.rule_text(family, h.table, h.chain, h.rule)) for h in hits)
    return PathOutcome(verdict, probability, decided, rules, policies, tuple(conditions),
                       stopped)


def _ordered(paths: list[PathOutcome]) -> tuple[PathOutcome, ...]:
    """Most probable first, then by verdict, conditions and rules: an order that does not
    depend on how the paths were explored."""
    return tuple(sorted(paths, key=lambda p: (-p.probability, p.verdict, p.conditions,
                                              [(h.table, h.chain, h.rule) for h in p.hits])))


#: packets evaluated between two freezes of the heap (see `run_task`)
FREEZE_EVERY = 1_000


def run_task(task: Task, payload: Payload) -> TaskResult:
    """The unit of work shipped to processes and Dask workers."""
    with _lock:
        loaded = cached_load(payload)
        if isinstance(loaded, LoadFailure):
            return TaskResult(task.digest, task.start, failure=loaded, warnings=loaded.warnings)
        evaluations = []
        assumptions = dict(task.assumptions)
        for count, packet in enumerate(task.packets, 1):
            evaluations.append(evaluate_packet(loaded, packet, task, assumptions))
            if count % FREEZE_EVERY == 0:
                # The walks grow what lives as long as the capture (compiled chains, indexes,
                # the memo: a hundred objects per new service); each full collection would
                # walk all of it again, a third of a first pass over a 10k-service node. Walks
                # leave no cycles (tests/perf/test_garbage.py), and the young generations are
                # collected first, so nothing frozen is garbage that reference counting
                # cannot free.
                gc.collect(1)
                gc.freeze()
    return TaskResult(task.digest, task.start, tuple(evaluations), warnings=loaded.warnings)
