"""The worker's cache of parsed captures: what it evicts is freed, with all the walks made.

A fleet batch goes through more nodes than the cache holds; each node's ruleset, compiled
chains and memo are millions of objects, and an evicted node that something still refers to
stays in memory for the rest of the batch.
"""

from __future__ import annotations

import gc
import weakref

from iptparse.batch import worker
from iptparse.batch.captures import Payload
from iptparse.packet import parse_packet

RULES = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n"


def _payload(number: int) -> Payload:
    return Payload(f"node-{number}", (("v4", f"# node {number}\n{RULES}"),))


def test_an_evicted_capture_is_freed_with_its_memo() -> None:
    worker._cache.clear()
    try:
        first = _payload(0)
        packets = tuple(parse_packet(f"tcp 10.0.0.1:1 -> 10.0.0.2:{port} iif=eth0")
                        for port in (22, 80, 22))
        result = worker.run_task(worker.Task(first.digest, 0, packets, "in"), first)
        assert [e.paths[0].verdict for e in result.evaluations] == ["DROP", "ACCEPT", "DROP"]
        loaded = worker._cache[first.digest]
        assert isinstance(loaded, worker.LoadedCapture)
        ruleset = weakref.ref(loaded.ruleset)
        del loaded
        collecting = gc.isenabled()
        gc.disable()  # freed by reference counting: no cycle (the memo holds it weakly)
        try:
            for number in range(1, worker._CACHE_SIZE + 1):
                worker.cached_load(_payload(number))
            assert first.digest not in worker._cache
            assert ruleset() is None
        finally:
            if collecting:
                gc.enable()
    finally:
        worker._cache.clear()
        gc.unfreeze()
