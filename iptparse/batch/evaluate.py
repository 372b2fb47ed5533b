"""The batch as a library function: captures × packets → a stream of records, in order.

`evaluate(captures, packets, path)` reads every node's files, hashes them, hands each distinct
capture (with the packets, in slices when there are few captures and many workers) to a runner,
and yields records in a fixed order whatever the runner: nodes in the order given (a fleet's
node folders by name), and for each node its packets in input order. A node whose files cannot
be read or parsed yields one `NodeFailure` and nothing else; the batch goes on. What parsing a
node's capture warns of (iptables-nft's notes that the node has rules the capture leaves out,
lines `lenient` skipped), and a table two of its files give, yield a `NodeWarning` each before
the node's other records.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..packet import Packet, PacketError, parse_packet
from .captures import Capture, Payload, ReadFailure, discover, read_capture, repeated_tables
from .parallel import BatchError, Runner, make_runner
from .records import NodeFailure, NodeWarning, Record, Result
from .worker import Task, TaskResult

__all__ = ["PATHS", "Progress", "auto_jobs", "evaluate", "packet_with_id", "read_packets"]

PATHS = ("in", "forward", "out")

#: Called with (evaluations done, evaluations in all) as tasks complete.
Progress = Callable[[int, int], None]


# --- packets -------------------------------------------------------------------------------

def packet_with_id(text: str) -> Packet:
    """A packet in the JSON or text form; the text form may carry `id=NAME` anywhere."""
    text = text.strip()
    if text.startswith("{"):
        return parse_packet(text)
    words = text.split()
    ids = [w for w in words if w.startswith("id=")]
    if len(ids) > 1:
        raise PacketError("id given twice")
    packet = parse_packet(" ".join(w for w in words if not w.startswith("id=")))
    if ids:
        name = ids[0][3:]
        if not name:
            raise PacketError("empty id=")
        return Packet(packet.fields, packet.family, name)
    return packet


def read_packets(lines: Iterable[str]) -> list[Packet]:
    """Packets from JSON Lines or one text form per line (blank lines and `#` comments
    skipped); a packet without an id gets `#N`, N its position. Ids must be unique."""
    out: list[Packet] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            packet = packet_with_id(stripped)
        except PacketError as exc:
            raise BatchError(f"packets line {number}: {exc}") from None
        name = packet.id if packet.id is not None else f"#{len(out) + 1}"
        if name in seen:
            raise BatchError(f"packets line {number}: id {name} already used on line "
                             f"{seen[name]}")
        seen[name] = number
        out.append(Packet(packet.fields, packet.family, name))
    return out


def _packets(packets: Iterable[Packet | str]) -> list[Packet]:
    items = list(packets)
    if all(isinstance(p, str) for p in items):
        return read_packets(p for p in items if isinstance(p, str))
    out = []
    for n, item in enumerate(items, 1):
        packet = packet_with_id(item) if isinstance(item, str) else item
        if packet.id is None:
            packet = Packet(packet.fields, packet.family, f"#{n}")
        out.append(packet)
    ids = [p.id for p in out]
    if len(set(ids)) != len(ids):
        raise BatchError("packet ids must be unique")
    return out


# --- planning ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Node:
    capture: Capture
    payload: Payload | None
    failure: str | None


def _slices(count: int, distinct: int, workers: int) -> int:
    """Slices per capture: enough for every worker to have about two tasks in all."""
    if workers <= 1 or distinct == 0:
        return 1
    return max(1, min(count, -(-2 * workers // distinct)))


def _tasks(order: list[str], packets: list[Packet], workers: int, path: str,
           assumptions: tuple[tuple[str, bool], ...], max_paths: int) -> list[Task]:
    slices = _slices(len(packets), len(order), workers)
    size = max(1, -(-len(packets) // slices))
    return [Task(digest, start, tuple(packets[start:start + size]), path, assumptions, max_paths)
            for digest in order for start in range(0, len(packets), size)]


# --- the stream ----------------------------------------------------------------------------

def evaluate(
    captures: Iterable[Capture | str | Path],
    packets: Iterable[Packet | str],
    path: str = "forward",
    *,
    jobs: int = 1,
    dask: Any = None,
    assumptions: Mapping[str, bool] | None = None,
    max_paths: int = 10_000,
    progress: Progress | None = None,
    lenient: bool = False,
) -> Iterator[Record]:
    """Yield a record per (node, packet) and one per failed node, in input order.

    `captures`: `Capture` objects (see `discover`) or paths as the CLI takes them; `packets`:
    `Packet` objects or lines of a packets file. `jobs` > 1 runs in that many processes,
    `jobs=0` in one per CPU when the batch is big enough to gain from them (`auto_jobs`);
    `dask` (a scheduler address or a `distributed.Client`) runs on a Dask cluster instead.
    `lenient` skips the lines of rules and set files that do not parse, each reported in a
    `NodeWarning`, instead of failing the node.
    """
    if path not in PATHS:
        raise BatchError(f"unknown path {path!r} (in, forward or out)")
    packet_list = _packets(packets)
    if not packet_list:
        raise BatchError("no packets to evaluate")
    nodes = _read_nodes(captures, lenient)
    payloads: dict[str, Payload] = {}
    for node in nodes:
        if node.payload is not None:
            payloads.setdefault(node.payload.digest, node.payload)
    if jobs == 0 and dask is None:
        jobs = auto_jobs([sum(len(text) for _, text in p.entries) for p in payloads.values()],
                         len(packet_list), os.cpu_count() or 1)
    return _stream(nodes, payloads, packet_list, path, jobs, dask,
                   tuple(sorted((assumptions or {}).items())), max_paths, progress)


#: What `auto_jobs` expects of a worker, measured by benchmarks/bench_batch.py on a loaded
#: 2-core VM (kept on the slow side): starting the processes and sending them the captures,
#: reading rules text, and evaluating a packet on a capture for the first time.
START_SECONDS = 1.0
PARSE_BYTES_PER_SECOND = 4e6
EVALUATIONS_PER_SECOND = 1_000


def auto_jobs(capture_sizes: list[int], packets: int, cpus: int) -> int:
    """Processes for `--jobs 0`: one per CPU when that is expected to finish first, else 1.

    A fleet of small nodes is done in this process before worker processes have started
    (200 nodes × 6 packets: 0.4 s here, 1.3 s with two processes), and one big node is parsed
    by every worker that takes a slice of its packets, so processes pay only when there is
    enough to share.
    """
    if cpus <= 1 or not capture_sizes:
        return 1
    parse = [size / PARSE_BYTES_PER_SECOND for size in capture_sizes]
    evaluations = packets * len(capture_sizes) / EVALUATIONS_PER_SECOND
    serial = sum(parse) + evaluations
    parallel = START_SECONDS + max(max(parse), sum(parse) / cpus) + evaluations / cpus
    return cpus if parallel < serial else 1


def _read_nodes(captures: Iterable[Capture | str | Path], lenient: bool) -> list[_Node]:
    items = list(captures)
    if not any(isinstance(c, Capture) for c in items):
        found = discover(c for c in items if not isinstance(c, Capture))
    else:
        found = [c for item in items
                 for c in ([item] if isinstance(item, Capture) else discover([item]))]
    nodes = []
    for capture in found:
        read = read_capture(capture, lenient)
        if isinstance(read, ReadFailure):
            nodes.append(_Node(capture, None, read.message))
        else:
            nodes.append(_Node(capture, read, None))
    return nodes


def _stream(nodes: list[_Node], payloads: dict[str, Payload], packets: list[Packet], path: str,
            jobs: int, dask: Any, assumptions: tuple[tuple[str, bool], ...], max_paths: int,
            progress: Progress | None) -> Iterator[Record]:
    runner: Runner | None = None
    try:
        runner = make_runner(jobs, dask) if payloads else None
        tasks = (_tasks(list(payloads), packets, runner.workers, path, assumptions, max_paths)
                 if runner is not None else [])
        yield from _assemble(nodes, packets, tasks, runner, payloads, progress)
    finally:
        if runner is not None:
            runner.close()


def _assemble(nodes: list[_Node], packets: list[Packet], tasks: list[Task],
              runner: Runner | None, payloads: Mapping[str, Payload],
              progress: Progress | None) -> Iterator[Record]:
    expected: dict[str, int] = {}
    sizes: dict[tuple[str, int], int] = {}
    for task in tasks:
        expected[task.digest] = expected.get(task.digest, 0) + 1
        sizes[(task.digest, task.start)] = len(task.packets)
    parts: dict[str, list[TaskResult]] = {}
    done: dict[str, TaskResult] = {}
    results = runner.run(tasks, payloads) if runner is not None else iter(())
    total = sum(sizes.values())
    finished = 0
    if progress is not None:
        progress(0, total)
    last_use = {node.payload.digest: i for i, node in enumerate(nodes) if node.payload}
    for i, node in enumerate(nodes):
        digest = node.payload.digest if node.payload is not None else None
        while digest is not None and digest not in done:
            result = next(results)
            finished += sizes[(result.digest, result.start)]
            if progress is not None:
                progress(finished, total)
            parts.setdefault(result.digest, []).append(result)
            if len(parts[result.digest]) == expected[result.digest]:
                done[result.digest] = _join(parts.pop(result.digest))
        yield from _node_records(node, packets, done.get(digest) if digest else None)
        if digest is not None and last_use[digest] == i:
            del done[digest]  # no later node needs these evaluations
    for _ in results:  # nothing left, but let the runner finish cleanly
        pass


def _join(results: list[TaskResult]) -> TaskResult:
    """The slices of one capture's packets as one result (or the failure to load it)."""
    for r in results:
        if r.failure is not None:
            return r
    ordered = sorted(results, key=lambda r: r.start)
    return TaskResult(ordered[0].digest, 0, tuple(e for r in ordered for e in r.evaluations),
                      warnings=ordered[0].warnings)


def _node_records(node: _Node, packets: list[Packet],
                  outcome: TaskResult | None) -> Iterator[Record]:
    names = tuple(f.display for f in node.capture.files)
    digest = node.payload.digest[:12] if node.payload is not None else None
    found = repeated_tables(node.payload, names) if node.payload is not None else []
    if outcome is not None:
        found += outcome.warnings  # parsing's: iptables-nft's notes, lines --lenient skipped
    for index, line, warning in sorted(found):
        yield NodeWarning(node.capture.name, names[index], line, warning, digest)
    if node.failure is not None:
        yield NodeFailure(node.capture.name, node.failure, names, digest)
        return
    assert outcome is not None and digest is not None
    if outcome.failure is not None:
        yield NodeFailure(node.capture.name, outcome.failure.format(names), names, digest)
        return
    evaluations = outcome.evaluations
    for index, (packet, evaluation) in enumerate(zip(packets, evaluations, strict=True)):
        assert packet.id is not None
        yield Result(node.capture.name, packet.id, index, digest, evaluation)
