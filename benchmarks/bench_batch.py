"""Batch throughput: concrete packets per second per core, on a kube-proxy-scale node and on
the generated fleet of tests/batch. The performance issue targets 100,000 packets/s/core.

1. kube-proxy: `iptparse.synth.kube_proxy.generate(N)` (kube-proxy's restore input) plus the
   jumps the kubelet and kube-proxy add from the builtin chains (`node_restore`), merged into one
   restore text. As root with iptables installed, the node is what iptables-legacy-save prints
   after loading that text into a namespace (benchmarks/inputs.py; a captured node looks like
   this); otherwise the restore text itself is parsed (slower: it is not in save layout).
   The capture is loaded as a batch worker loads it (`cached_load`). Packets go to random
   service ports (and a few to nowhere) on the forward path. Prints the load time and the rate
   of `run_task` (what a batch worker runs: records built, the heap frozen as it grows), then
   the profile's top items by own time.
2. fleet: tests/batch/fleet.py's 200 nodes, 6 packets each, with `--jobs 1` and `--jobs 2`:
   (node, packet) records per second and distinct evaluations per second.

Wall time depends on what else the machine runs; CPU time of this process is printed too.
Run: `python3 benchmarks/bench_batch.py [--services N] [--packets N] [--no-fleet]`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from iptparse.batch import Result, evaluate, read_packets
from iptparse.batch.captures import Payload
from iptparse.batch.worker import LoadedCapture, Task, cached_load, evaluate_packet, run_task
from iptparse.synth import kube_proxy

TARGET = 100_000  # concrete packets per second per core


def node_text(services: int) -> tuple[str, str]:
    """The node's rules and which layout they are in: the kernel's save text when this machine
    can make it, else kube-proxy's restore text."""
    if os.geteuid() == 0 and shutil.which("iptables-legacy-restore"):
        from inputs import kube_dump  # imports this module: only when called

        return kube_dump(services).read_text(), "iptables-legacy-save layout"
    return kube_proxy.node_restore(services), "kube-proxy restore layout (no kernel here)"


def service_packets(dump: str, count: int, seed: int = 1) -> list[str]:
    """Packets to random service ports: the restore layout says `-p P -d D`, the save layout
    `-d D/32 -p P`."""
    targets = re.findall(r"-A KUBE-SERVICES .*?-p (tcp|udp) -d (\S+?)(?:/32)? --dport (\d+)",
                         dump)
    targets += [(proto, dst, port) for dst, proto, port in re.findall(
        r"-A KUBE-SERVICES -d (\S+?)/32 -p (tcp|udp) .*?--dport (\d+)", dump)]
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        if i % 10 == 9:  # now and then a destination no service has
            proto, dst, port = "tcp", f"10.{rng.randrange(1, 90)}.0.{rng.randrange(1, 250)}", "80"
        else:
            proto, dst, port = rng.choice(targets)
        src = f"10.244.{rng.randrange(0, 256)}.{rng.randrange(2, 250)}"
        lines.append(f"{proto} {src}:{rng.randrange(1024, 65535)} -> {dst}:{port} iif=eth0 "
                     f"ctstate=NEW mark=0x0 id=p{i}")
    return lines


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_kube_proxy(services: int, packets: int) -> None:
    start = time.perf_counter()
    dump, layout = node_text(services)
    print(f"kube-proxy node: {services} services, {dump.count(chr(10) + '-A '):,} rules, "
          f"{len(dump) / 1e6:.1f} MB, {layout} (made in {time.perf_counter() - start:.1f} s)")
    lines = service_packets(dump, packets)
    parsed = read_packets(lines)
    start, cpu = time.perf_counter(), time.process_time()
    payload = Payload("bench", (("v4", dump),))
    loaded = cached_load(payload)
    assert isinstance(loaded, LoadedCapture), loaded
    print(f"  load: {time.perf_counter() - start:.2f} s wall, "
          f"{time.process_time() - cpu:.2f} s CPU")
    task = Task("bench", 0, tuple(parsed), "forward")
    for packet in read_packets(service_packets(dump, 20, seed=3)):  # the common chains compiled
        evaluate_packet(loaded, packet, task)
    for label in ("first time", "again (outcomes remembered)"):
        start, cpu = time.perf_counter(), time.process_time()
        result = run_task(task, payload)  # what a batch worker runs
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        verdicts: dict[str, int] = {}
        for ev in result.evaluations:
            for path in ev.paths:
                verdicts[path.verdict] = verdicts.get(path.verdict, 0) + 1
        print(f"  {packets} packets, {label}: {_rate(packets, used)} per core "
              f"({_rate(packets, wall)} wall); {100 * packets / used / TARGET:.1f}% of the "
              f"{TARGET:,}/s target; paths by verdict {verdicts}")
    profile = cProfile.Profile()
    fresh = read_packets(service_packets(dump, 50, seed=4))
    profile.enable()
    for packet in fresh:
        evaluate_packet(loaded, packet, task)
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
    print("  profile of 50 packets not seen before, top 15 by own time:")
    body = text.getvalue()
    table = body[body.index("ncalls"):] if "ncalls" in body else body
    for line in table.rstrip().splitlines():
        print("   ", line.replace(str(Path(__file__).resolve().parent.parent) + "/", ""))


def bench_fleet() -> None:
    sys_path_root = str(Path(__file__).resolve().parent.parent)
    if sys_path_root not in sys.path:
        sys.path.insert(0, sys_path_root)
    from tests.batch.fleet import PACKETS, build

    packets = read_packets(PACKETS.splitlines())
    with tempfile.TemporaryDirectory() as tmp:
        fleet = build(Path(tmp))
        for jobs in (1, 2):
            start, cpu = time.perf_counter(), time.process_time()
            records = list(evaluate([fleet.root], packets, "in", jobs=jobs))
            wall, used = time.perf_counter() - start, time.process_time() - cpu
            results = [r for r in records if isinstance(r, Result)]
            distinct = len({r.capture for r in results}) * len(packets)
            print(f"fleet: 200 nodes × {len(packets)} packets, --jobs {jobs}: {len(results)} "
                  f"records in {wall:.2f} s wall ({_rate(len(results), wall)} records, "
                  f"{_rate(distinct, wall)} distinct evaluations; this process used "
                  f"{used:.2f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--packets", type=int, default=100,
                        help="packets for the kube-proxy node (each walks its service list)")
    parser.add_argument("--no-fleet", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    bench_kube_proxy(args.services, args.packets)
    if not args.no_fleet:
        bench_fleet()


if __name__ == "__main__":
    main()
