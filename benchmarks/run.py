"""Every benchmark of the performance issue, each beside its reference measured in the same run.

    python3 benchmarks/run.py [--quick] [--no-50k]

For each target: iptparse's figure, the reference's (the real tool where there is one, run on
the same file in this run; else the target itself), and their ratio — for times both wall and
CPU (user + system), since the machine is shared and often loaded. Inputs are made once and
cached under benchmarks/out/ (benchmarks/inputs.py); loading a 50,000-service node into a
namespace takes minutes the first time.

1. parse: a kube-proxy node of 10,000 service ports (the kernel's own iptables-save text) read
   into typed nodes, against `iptables-legacy-restore --test` on the same file in a throwaway
   namespace; and the peak memory of both processes.
2. ipset: benchmarks/bench_ipset.py (200,000 hash:net members, target 1 s).
3. trace: the first trace after load (it indexes the big chains), then one concrete packet
   through that node (median; target 1 ms), by `trace` and by the concrete evaluator.
4. batch: concrete packets per second per core (CPU time; target 100,000) through the
   evaluator's memo (`iptparse.concrete_memo`): a stream of packets to random services of the
   node, then the same stream again; and by the batch worker (`iptparse batch`'s unit of
   work: the same memo plus the records it writes) in a process of its own, as `--jobs`
   runs it (benchmarks/worker_child.py).
5. calico: a Calico node of 250 workloads and 1,000 policies (`iptparse.synth.calico`, felix's
   rules and selector ipsets): parse against `iptables-legacy-restore --test` after
   `ipset restore` in a throwaway namespace (the set matches look their sets up), ipset parse
   against `ipset restore`, and pod-to-pod packets by `trace()` and the concrete evaluator.
6. abstract: a packet with every field unknown through the TUM firewall, the largest dumps of
   ../shared/corpora (its IPv4 and IPv6 rules; lenient parse; target 10 s), on each path; and
   the whole `iptparse trace` command for the same question, which also prints the answer.
7. growth: parse time per rule and trace time per packet for 1k, 10k and 50k services.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from inputs import calico_dump, kube_dump, tum_firewalls  # noqa: E402
from measure import Figure, best, run_process, timed  # noqa: E402

from iptparse import concrete_memo  # noqa: E402
from iptparse.concrete import evaluate  # noqa: E402
from iptparse.ipset import parse_ipset  # noqa: E402
from iptparse.nodes import Family  # noqa: E402
from iptparse.packet import Packet, parse_packet  # noqa: E402
from iptparse.parser import parse_iptables  # noqa: E402
from iptparse.ruleset import Ruleset  # noqa: E402
from iptparse.sandbox.netns import Netns  # noqa: E402
from iptparse.synth import calico  # noqa: E402
from iptparse.trace import trace  # noqa: E402

ROWS: list[tuple[str, str, str, str, str]] = []


def row(name: str, ours: str, reference: str, ratio: str, target: str) -> None:
    ROWS.append((name, ours, reference, ratio, target))
    print(f"  {name}: iptparse {ours} | reference {reference} | ratio {ratio} | {target}",
          flush=True)


def seconds(figure: Figure) -> str:
    return f"{figure.wall:.3f} s wall, {figure.cpu:.3f} s CPU"


def ratios(ours: Figure, reference: Figure) -> str:
    return f"{ours.wall / reference.wall:.2f}x wall, {ours.cpu / reference.cpu:.2f}x CPU"


# --- 1. parse ------------------------------------------------------------------------------

def bench_parse(path: Path, repeat: int) -> None:
    print(f"parse {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
    child = [sys.executable, str(HERE / "parse_child.py"), str(path)]
    calls, processes, tools = [], [], []
    with Netns("iptp-bench") as ns:
        tool = ["ip", "netns", "exec", ns.name, "iptables-legacy-restore", "--test"]
        for _ in range(repeat):  # interleaved, so both see the same load
            tools.append(run_process(tool, path))
            process = run_process(child)
            processes.append(process)
            inner = json.loads(process.output)
            calls.append(Figure(inner["wall"], inner["cpu"]))
    tool_best, call_best, process_best = best(tools), best(calls), best(processes)
    row("parse (call: text to typed nodes)", seconds(call_best), seconds(tool_best),
        ratios(call_best, tool_best), "target <= 1.0x")
    row("parse (whole process: start, imports, read, parse)", seconds(process_best),
        seconds(tool_best), ratios(process_best, tool_best), "for information")
    row("parse peak memory (max RSS)", f"{process_best.rss / 1024:.1f} MiB",
        f"{tool_best.rss / 1024:.1f} MiB", f"{process_best.rss / tool_best.rss:.2f}x",
        "target <= 2.0x")


# --- 2. ipset ------------------------------------------------------------------------------

def bench_ipset() -> None:
    print("ipset: benchmarks/bench_ipset.py")
    out = subprocess.run([sys.executable, str(HERE / "bench_ipset.py")], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        print(f"    {line}")
    m = re.search(r"([\d.]+) s wall, ([\d.]+) s CPU", out)
    if m is None:
        row("ipset save of 200,000 hash:net", "unreadable output", "1.0 s", "-", "<= 1.0 s")
        return
    wall, cpu = float(m.group(1)), float(m.group(2))
    row("ipset parse, 200,000 hash:net members", f"{wall:.3f} s wall, {cpu:.3f} s CPU",
        "target 1.0 s", f"{wall:.2f}x wall, {cpu:.2f}x CPU", "target <= 1.0x")
    member = re.search(r"membership test: ([\d.]+) us each", out)
    if member:
        row("ipset membership test", f"{member.group(1)} us", "(O(prefix lengths))", "-",
            "for information")


# --- 3 and 4. concrete packets -------------------------------------------------------------

_SERVICE = re.compile(r"-A KUBE-SERVICES -d (\S+?)/32 -p (tcp|udp) .*?--dport (\d+)")


def service_packets(text: str, count: int, seed: int = 1) -> list[Packet]:
    """Packets to the node's service ports (one in ten to an address no service has), every
    field the kube-proxy rules read given."""
    targets = _SERVICE.findall(text)
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 10 == 9:
            dst, proto, port = f"10.{rng.randrange(1, 90)}.0.{rng.randrange(1, 250)}", "tcp", "80"
        else:
            dst, proto, port = rng.choice(targets)
        src = f"10.244.{rng.randrange(0, 256)}.{rng.randrange(2, 250)}"
        out.append(parse_packet(f"{proto} {src}:{rng.randrange(1024, 65535)} -> {dst}:{port} "
                                "iif=eth0 oif=eth1 ctstate=NEW mark=0x0"))
    return out


def load(path: Path) -> tuple[str, Ruleset, Figure]:
    text = path.read_text()
    figure, dump = timed(lambda: parse_iptables(text))
    return text, Ruleset([dump]), figure


def per_packet(ruleset: Ruleset, packets: list[Packet],
               run: Callable[[Ruleset, Packet], object]) -> tuple[float, float]:
    """(median CPU seconds of one packet, CPU seconds of all) after one warm-up pass."""
    for packet in packets[: min(20, len(packets))]:
        run(ruleset, packet)  # build the indexes and compile the chains the walks enter
    each = []
    for packet in packets:
        figure, _ = timed(lambda p=packet: run(ruleset, p))  # type: ignore[misc]
        each.append(figure.cpu)
    return statistics.median(each), sum(each)


def by_trace(ruleset: Ruleset, packet: Packet) -> object:
    return trace(ruleset, packet, "forward", steps=False)


def by_evaluator(ruleset: Ruleset, packet: Packet) -> object:
    result = evaluate(ruleset, packet, "forward")
    return result if result is not None else by_trace(ruleset, packet)


def by_memo(ruleset: Ruleset, packet: Packet) -> object:
    result = concrete_memo.evaluate(ruleset, packet, "forward")
    return result if result is not None else by_trace(ruleset, packet)


def rate(ruleset: Ruleset, packets: list[Packet]) -> tuple[float, float]:
    """Packets per second of CPU time and of wall time, one process."""
    figure, _ = timed(lambda: [by_memo(ruleset, p) for p in packets])
    return len(packets) / figure.cpu, len(packets) / figure.wall


def bench_packets(path: Path, count: int, batch: int) -> None:
    print(f"concrete packets on {path.name}")
    text, ruleset, _ = load(path)
    packets = service_packets(text, count)
    first, _ = timed(lambda: by_trace(ruleset, packets[0]))
    row("first trace after load (indexes the big chains)", f"{first.cpu:.3f} s CPU", "-", "-",
        "for information")
    median, _ = per_packet(ruleset, packets, by_trace)
    row("one concrete trace (trace(), median)", f"{median * 1e3:.3f} ms CPU", "target 1 ms",
        f"{median * 1e3:.2f}x", "target < 1.0x")
    median, _ = per_packet(ruleset, packets, by_evaluator)
    row("one concrete packet (concrete evaluator, median)", f"{median * 1e3:.3f} ms CPU",
        "target 1 ms", f"{median * 1e3:.2f}x", "for information")
    fallbacks = sum(evaluate(ruleset, p, "forward") is None for p in packets)
    print(f"    {fallbacks} of {len(packets)} packets needed the interpreter")
    stream = service_packets(text, batch, seed=2)
    services = len(_SERVICE.findall(text))
    cold_cpu, cold_wall = rate(ruleset, stream)
    row(f"batch, {batch:,} packets to {services:,} services (memo grows)",
        f"{cold_cpu:,.0f}/s CPU, {cold_wall:,.0f}/s wall", "target 100,000/s per core",
        f"{cold_cpu / 100_000:.3f}x", "target >= 1.0x")
    warm_cpu, warm_wall = rate(ruleset, stream)
    row("batch, the same packets again (every outcome remembered)",
        f"{warm_cpu:,.0f}/s CPU, {warm_wall:,.0f}/s wall", "target 100,000/s per core",
        f"{warm_cpu / 100_000:.3f}x", "target >= 1.0x")
    # what `iptparse batch` runs: its unit of work (the same memo, plus the records it writes
    # and its handling of the collector), in a process of its own as `--jobs` runs it
    child = [sys.executable, str(HERE / "worker_child.py"), str(path), str(batch)]
    figures = json.loads(subprocess.run(child, check=True, capture_output=True,
                                        text=True).stdout)
    for label, key in (("records, first time", "first"), ("records, again", "again")):
        cpu, wall = figures[key]
        row(f"batch worker, a process of its own ({label})",
            f"{batch / cpu:,.0f}/s CPU, {batch / wall:,.0f}/s wall",
            "target 100,000/s per core", f"{batch / cpu / 100_000:.3f}x", "target >= 1.0x")


# --- 5. a Calico node ----------------------------------------------------------------------

def bench_calico(workloads: int, policies: int, repeat: int, count: int) -> None:
    """A Calico node (felix's rules and selector ipsets): parse against the kernel's tools
    loading the same files, and concrete packets from pod to pod."""
    rules_path, sets_path = calico_dump(workloads, policies)
    rules, sets_text = rules_path.read_text(), sets_path.read_text()
    print(f"calico node: {workloads} workloads, {policies} policies, "
          f"{rules.count(chr(10) + '-A '):,} rules in {rules.count(chr(10) + ':'):,} chains, "
          f"{sets_text.count('create '):,} ipsets with {sets_text.count(chr(10) + 'add '):,} "
          f"members ({len(rules) / 1e6:.1f} + {len(sets_text) / 1e6:.1f} MB)")
    child = [sys.executable, str(HERE / "parse_child.py"), str(rules_path)]
    calls, tools, set_tools = [], [], []
    with Netns("iptp-bench") as ns:
        exec_in = ["ip", "netns", "exec", ns.name]
        # the rules' set matches look their sets up when loaded, --test too: sets first
        set_tools.append(run_process([*exec_in, "ipset", "restore"], sets_path))
        for _ in range(repeat):
            tools.append(run_process([*exec_in, "iptables-legacy-restore", "--test"],
                                     rules_path))
            inner = json.loads(run_process(child).output)
            calls.append(Figure(inner["wall"], inner["cpu"]))
    tool_best, call_best = best(tools), best(calls)
    row("calico: parse rules", seconds(call_best), seconds(tool_best),
        ratios(call_best, tool_best), "target <= 1.0x (as for kube-proxy)")
    set_figure, parsed_sets = timed(lambda: parse_ipset(sets_text))
    row("calico: parse ipsets (reference: ipset restore into the kernel)", seconds(set_figure),
        seconds(best(set_tools)), ratios(set_figure, best(set_tools)), "for information")
    # no host routes are given (a capture without `ip route`): the reverse-path check felix
    # puts before the workload chains is an assumption, and each packet takes both sides
    ruleset = Ruleset([parse_iptables(rules)], sets={s.name: s for s in parsed_sets})
    node = calico.random_node(workloads, policies)
    rng = random.Random(3)
    packets = []
    for _ in range(count):
        a, b = rng.sample(node.workloads, 2)
        proto, port = rng.choice([("tcp", 80), ("tcp", 443), ("tcp", 5432), ("udp", 53)])
        packets.append(parse_packet(
            f"{proto} {a.ip}:{rng.randrange(1024, 65535)} -> {b.ip}:{port} "
            f"iif={a.interface} oif={b.interface} ctstate=NEW mark=0x0"))
    median, _ = per_packet(ruleset, packets, by_trace)
    row("calico: one concrete trace, pod to pod (trace(), median)", f"{median * 1e3:.3f} ms CPU",
        "target 1 ms", f"{median * 1e3:.2f}x", "target < 1.0x (as for kube-proxy)")
    median, _ = per_packet(ruleset, packets, by_evaluator)
    row("calico: one concrete packet (concrete evaluator, median)",
        f"{median * 1e3:.3f} ms CPU", "target 1 ms", f"{median * 1e3:.2f}x", "for information")
    verdicts: dict[str, int] = {}
    for packet in packets:
        for path in trace(ruleset, packet, "forward", steps=False).paths:
            verdicts[path.verdict] = verdicts.get(path.verdict, 0) + 1
    print(f"    paths by verdict: {verdicts}")


# --- 6. abstract ---------------------------------------------------------------------------

def bench_abstract() -> None:
    for path in tum_firewalls():
        bench_abstract_dump(path)


def bench_abstract_dump(path: Path) -> None:
    print(f"abstract trace on {path.name}")
    text = path.read_text(errors="surrogateescape")
    warnings: list[object] = []
    dump = parse_iptables(text, errors="skip", warnings=warnings)  # type: ignore[arg-type]
    rules = sum(len(c.rules) for t in dump.tables for c in t.chains)
    family = "IPv6" if dump.family is Family.INET6 else "IPv4"
    print(f"    {rules} {family} rules read, {len(warnings)} lines skipped (anonymised MACs)")
    for path_kind in ("in", "forward", "out"):
        figure, result = timed(lambda k=path_kind: trace(Ruleset([dump]), Packet(), k,  # type: ignore[misc]
                                                         steps=False))
        note = f", {len(result.paths)} paths" + (" (stopped at the path bound)"
                                                   if result.truncated else "")
        row(f"abstract trace, every field unknown, TUM {family}, {path_kind}",
            seconds(figure) + note, "target 10 s",
            f"{figure.wall / 10:.2f}x wall, {figure.cpu / 10:.2f}x CPU", "target < 1.0x")
        # what a user waits for: `iptparse trace` from start to the last line of its answer
        # (the walk with its steps, and the paths as text)
        command = run_process([sys.executable, "-m", "iptparse.cli", "trace", "--lenient",
                               "--packet", "", "--path", path_kind, str(path)],
                              cwd=HERE.parent)  # the checkout's iptparse, installed or not
        row(f"  the same as `iptparse trace` (whole command, text answer), {path_kind}",
            seconds(command) + f", {len(command.output) / 1e6:.1f} MB of text", "target 10 s",
            f"{command.wall / 10:.2f}x wall, {command.cpu / 10:.2f}x CPU", "for information")


# --- 7. growth -----------------------------------------------------------------------------

def bench_growth(sizes: list[int], count: int) -> None:
    print("growth")
    per_rule, per_trace, tool_rule = {}, {}, {}
    for size in sizes:
        path = kube_dump(size)
        text, ruleset, figure = load(path)
        rules = text.count("\n-A ")
        per_rule[size] = figure.cpu / rules
        with Netns("iptp-bench") as ns:
            tool = run_process(["ip", "netns", "exec", ns.name, "iptables-legacy-restore",
                                "--test"], path)
        tool_rule[size] = tool.cpu / rules
        per_trace[size], _ = per_packet(ruleset, service_packets(text, count, seed=size),
                                        by_trace)
        print(f"    {size} services: {rules} rules, parse {figure.cpu:.2f} s CPU "
              f"({per_rule[size] * 1e6:.1f} us/rule; iptables-restore --test "
              f"{tool_rule[size] * 1e6:.1f} us/rule), trace median "
              f"{per_trace[size] * 1e3:.3f} ms", flush=True)
    first, last = sizes[0], sizes[-1]
    row(f"parse time per rule, {last} vs {first} services",
        f"{per_rule[last] / per_rule[first]:.2f}x ({per_rule[last] * 1e6:.1f} us/rule)",
        f"iptables-restore {tool_rule[last] / tool_rule[first]:.2f}x",
        f"{per_rule[last] / per_rule[first]:.2f}x", "linear: about 1.0x")
    row(f"trace time per packet, {last} vs {first} services",
        f"{per_trace[last] * 1e3:.3f} ms", f"{per_trace[first] * 1e3:.3f} ms",
        f"{per_trace[last] / per_trace[first]:.2f}x", "flat: about 1.0x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and packets")
    parser.add_argument("--no-50k", action="store_true", help="growth up to 10k services")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; Python "
          f"{sys.version.split()[0]}")
    repeat, count = (2, 100) if args.quick else (3, 300)
    bench_parse(kube_dump(10_000), repeat)
    bench_ipset()
    bench_packets(kube_dump(10_000), count, 5_000 if args.quick else 30_000)
    bench_calico(250, 1_000, repeat, count)
    bench_abstract()
    bench_growth([1_000, 10_000] if args.no_50k else [1_000, 10_000, 50_000], count // 3)
    print("\nsummary")
    width = max(len(r[0]) for r in ROWS)
    for name, ours, reference, ratio, target in ROWS:
        print(f"  {name:<{width}}  {ours:<34}  {reference:<34}  {ratio:<26}  {target}")


if __name__ == "__main__":
    main()
