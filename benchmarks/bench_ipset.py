"""Parse an `ipset save` of 200,000 hash:net members; the target is 1.0 s.

Also times the first membership test (which builds nothing: the parser's index is reused)
and then the average of many tests. Wall time depends on what else the machine runs, so the
CPU time of the process is printed too. Run: `python3 benchmarks/bench_ipset.py [members]`.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iptparse.ipset import parse_ipset, render_ipset

TARGET = 1.0


def make_dump(count: int, seed: int = 20240101) -> str:
    """`count` distinct networks, /8 to /32, as ipset save prints them."""
    rng = random.Random(seed)
    nets: set[tuple[int, int]] = set()
    while len(nets) < count:
        cidr = rng.randint(16, 32)
        value = rng.getrandbits(32) & ((0xFFFFFFFF << (32 - cidr)) & 0xFFFFFFFF)
        nets.add((value, cidr))
    lines = [f"create bench hash:net family inet hashsize 262144 maxelem {count * 2} "
             "bucketsize 12 initval 0x1f2e3d4c\n"]
    for value, cidr in nets:
        text = socket.inet_ntoa(value.to_bytes(4, "big"))
        lines.append(f"add bench {text}\n" if cidr == 32 else f"add bench {text}/{cidr}\n")
    return "".join(lines)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    text = make_dump(count)
    best = cpu = float("inf")
    dump = None
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        dump = parse_ipset(text)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    assert dump is not None
    ipset = dump["bench"]
    print(f"parse {count} hash:net members: {best:.3f} s wall, {cpu:.3f} s CPU, best of 5 "
          f"(ratio to the {TARGET:.1f} s target: {best / TARGET:.2f}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    rng = random.Random(7)
    probes = [rng.getrandbits(32) for _ in range(100_000)]
    start = time.perf_counter()
    ipset.contains(probes[0])
    print(f"first membership test: {(time.perf_counter() - start) * 1e6:.0f} us")
    start = time.perf_counter()
    hits = sum(ipset.contains(p) for p in probes)
    each = (time.perf_counter() - start) / len(probes)
    print(f"membership test: {each * 1e6:.2f} us each ({hits} of {len(probes)} in set, "
          f"{len(ipset.index.cidr_order()[0])} prefix lengths)")
    start = time.perf_counter()
    out = render_ipset(dump, "save")
    print(f"render (decodes every member): {time.perf_counter() - start:.3f} s, "
          f"round trip {'ok' if out == text else 'DIFFERS'}")


if __name__ == "__main__":
    main()
