"""Run the batch worker's unit of work in a process of its own, print its rates.

`iptparse batch --jobs N` runs each worker in a process that loads the node (`cached_load`:
parsed once, the heap frozen) and nothing else; in run.py's own process the worker would walk
beside the other benchmarks' nodes and memos, which the collector walks too. Run by run.py as
`python3 benchmarks/worker_child.py FILE COUNT`; prints one JSON object: for the task run the
first time and again, its CPU and wall seconds, and the number of packets.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import service_packets

from iptparse.batch.captures import Payload
from iptparse.batch.worker import LoadedCapture, Task, cached_load, run_task


def main() -> None:
    path, count = Path(sys.argv[1]), int(sys.argv[2])
    text = path.read_text()
    stream = service_packets(text, count, seed=2)  # the stream of run.py's batch rows
    payload = Payload(path.name, (("v4", text),))
    assert isinstance(cached_load(payload), LoadedCapture)
    task = Task(path.name, 0, tuple(stream), "forward")
    figures = {}
    for label in ("first", "again"):
        start, cpu = time.perf_counter(), time.process_time()
        result = run_task(task, payload)
        figures[label] = (time.process_time() - cpu, time.perf_counter() - start)
        assert len(result.evaluations) == len(stream)
    print(json.dumps({"packets": len(stream), **figures}))


if __name__ == "__main__":
    main()
