"""Running a verification: one kernel lab per dump, every packet sent and compared.

`verify_dump` is what the `verify` command and the tests call: the dump (restore text), its
ipsets, and either the user's packets or a number of packets to sample from the rules. The lab
is a context manager, so its namespaces go whatever happens (a disagreement, a refused ruleset,
Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ParseWarning
from ..ipset import IpSet, parse_ipset
from ..ipset.render import render_set
from ..load import TablesRead
from ..nodes import Dump, Family
from ..packet import Packet
from ..parser import parse_iptables
from ..render import render
from ..ruleset import Ruleset
from ..sandbox.frames import KernelPacket
from ..sandbox.lab import Backend, Lab, LabError, LabPath
from ..sandbox.netns import missing_tools
from .compare import Comparison, compare
from .model import LabSetup, kernel_packet, lab_host, model_packet
from .report import VerifyReport
from .samples import sample_packets, setup_for

__all__ = ["LabPacket", "lab_requirements", "load_ipsets", "packets_from", "verify_dump"]

#: A packet for the lab and the path it is to take (`in`, `forward` or `out`).
LabPacket = tuple[KernelPacket, str]
Progress = Callable[[int, int], None]


def lab_requirements(family: Family, backend: Backend, ipsets: bool) -> list[str]:
    """What this machine lacks to run the lab: 'root' and/or tool names (empty: nothing)."""
    prefix = "ip6tables" if family is Family.INET6 else "iptables"
    tools = ["ip", f"{prefix}-{backend}-restore", f"{prefix}-{backend}-save"]
    return missing_tools([*tools, *(["ipset"] if ipsets else [])])


def load_ipsets(texts: Sequence[tuple[str, str]]) -> tuple[dict[str, IpSet], str]:
    """Sets by name from `ipset save`/`ipset list` texts, and ipset-restore input for all."""
    sets: dict[str, IpSet] = {}
    restore: list[str] = []
    for name, text in texts:
        for ipset in parse_ipset(text, filename=name):
            sets[ipset.name] = ipset
            restore.append(render_set(ipset, "save"))
    return sets, "".join(restore)


def packets_from(packets: Sequence[Packet], family: Family, paths: Sequence[str]
                 ) -> list[LabPacket]:
    """The user's packets of this family as lab packets, each on every path asked for; when
    several are, a packet that names its output interface is not sent on the `in` path, one
    that names its input interface not on the `out` path."""
    out: list[LabPacket] = []
    for packet in packets:
        if (packet.family or Family.INET) is not family:
            continue
        for path in paths:
            named = {"in": "oif", "out": "iif"}.get(path)
            if len(paths) > 1 and named is not None and packet.value(named):
                continue
            out.append((kernel_packet(packet, path), path))
    return out


@dataclass(frozen=True)
class _Prepared:
    dump: Dump
    packets: list[LabPacket]
    setup: LabSetup


def _prepare(dump: Dump, sets: Mapping[str, Any], packets: Sequence[LabPacket] | None,
             samples: int, seed: int, paths: Sequence[str]) -> _Prepared:
    if packets is not None:
        return _Prepared(dump, list(packets), setup_for(dump, [p for p, _ in packets]))
    out: list[LabPacket] = []
    addresses: list[tuple[str, str]] = []
    share = [samples // len(paths) + (1 if i < samples % len(paths) else 0)
             for i in range(len(paths))]
    for path, count in zip(paths, share, strict=True):
        sample = sample_packets(dump, sets, path, count, seed)
        out.extend((p, path) for p in sample.packets)
        addresses.extend(a for a in sample.setup.addresses if a not in addresses)
    return _Prepared(dump, out, LabSetup(tuple(_unique_by_interface(addresses))))


def _unique_by_interface(addresses: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for iface, address in addresses:
        seen.setdefault(iface, address)
    return list(seen.items())


def _as_read(text: str) -> str:
    """The text as iptparse reads it, for iptables-restore: without Windows line ends (restore
    would take `*nat\\r` for a table name) and with lines of only spaces empty (restore fails
    on them; a copied dump often ends with one)."""
    lines = text.split("\n")
    return "\n".join(line.removesuffix("\r") if line.strip() else "" for line in lines)


def _read(rules: str, name: str, warnings: list[ParseWarning] | None) -> tuple[Dump, str]:
    """One file: what iptparse reads, and the text iptables-restore is to be given.

    With `warnings` (lenient mode) lines that do not parse are skipped and listed there, and
    the kernel is given what iptparse read, printed as iptables-save prints it; otherwise it
    gets the text itself, so a misreading by the parser shows up as a disagreement."""
    if warnings is not None:
        dump = parse_iptables(rules, filename=name, errors="skip", warnings=warnings)
        return dump, render(dump.printed_as("save"))
    dump = parse_iptables(rules, filename=name)
    # `iptables -S` output: iptables-restore reads the same tables in save layout
    return dump, (_as_read(rules) if all(t.form == "save" for t in dump.tables)
                  else render(dump.printed_as("save")))


def _one_node(files: Sequence[tuple[str, str]], warnings: list[ParseWarning] | None,
              notes: list[ParseWarning] | None) -> tuple[Dump, str]:
    """Several files of one family as one node, as `trace` reads them: the tables in force
    (a table in two files is the later one's, with a note) and one restore input holding
    every file in turn. The kernel reads that input as it reads the files one after the
    other (each table's COMMIT replaces the table), so it judges the model's reading too."""
    dumps: list[Dump] = []
    texts: list[str] = []
    tables = TablesRead()
    for name, text in files:
        dump, restore = _read(text, name, warnings)
        if dumps and dump.family is not dumps[0].family:
            raise ValueError(f"{name}: {dump.family.value} rules, where {files[0][0]} holds "
                             f"{dumps[0].family.value} rules: one lab per family")
        dumps.append(dump)
        texts.append(restore if restore.endswith("\n") or not restore else restore + "\n")
        tables.add(dump, name, text, notes if notes is not None else [])
    if len(dumps) == 1:
        return dumps[0], texts[0]
    return Dump(dumps[0].family, tables.in_force(dumps[0].family)), "".join(texts)


def verify_dump(rules: str, *, name: str = "<rules>", ipsets: Sequence[tuple[str, str]] = (),
                packets: Sequence[LabPacket] | None = None, samples: int = 50, seed: int = 0,
                paths: Sequence[str] = ("in", "forward"), backend: Backend = "legacy",
                progress: Progress | None = None,
                warnings: list[ParseWarning] | None = None,
                more: Sequence[tuple[str, str]] = (),
                notes: list[ParseWarning] | None = None) -> VerifyReport:
    """Send packets through `rules` in a kernel lab and compare each with iptparse's trace.

    `packets` (lab packets with their paths) or else `samples` packets drawn from the rules,
    shared out between `paths`, deterministic for `seed`. Raises SandboxUnavailable when the
    machine cannot host the lab and KernelRejected when the kernel refuses the rules or sets.

    With `warnings` (lenient mode) lines that do not parse are skipped and listed there, and
    the kernel is given what iptparse read, printed as iptables-save prints it; otherwise it
    gets the text itself, so a misreading by the parser shows up as a disagreement. `more`
    (name, text) are further files of the node, of the same family, read after `rules` as
    iptables-restore reads files in turn; a table given twice is noted in `notes`.
    """
    files = [(name, rules), *more]
    dump, rules = _one_node(files, warnings, notes)
    name = " ".join(file for file, _ in files)  # as the reproductions give them to iptparse
    sets, restore = load_ipsets(ipsets)
    prepared = _prepare(dump, sets, packets, samples, seed, paths)
    comparisons: list[Comparison] = []
    interfaces = sorted({p.iif for p, path in prepared.packets if path != "out"})
    setup = prepared.setup

    def open_lab(setup: LabSetup) -> Lab:
        return Lab(rules, dump.family, path="forward", ipsets=restore or None,
                   backend=backend, interfaces=interfaces, addresses=setup.addresses)

    try:
        lab = open_lab(setup).__enter__()
    except LabError:
        if not setup.addresses or dump.family is not Family.INET6:
            raise
        # IPv6 addresses make R report MLD through OUTPUT, which the lab waits out before
        # counting; rules that drop the reports make that wait fail: go without addresses
        # (MASQUERADE then finds none, which is checked too)
        setup = LabSetup()
        lab = open_lab(setup).__enter__()
    changes_sets = _changes_sets(dump)
    try:
        for number, (packet, path) in enumerate(prepared.packets, 1):
            if changes_sets and number > 1:
                lab.reset_ipsets()  # the previous packet may have been added to a set
            lab_path: LabPath = "in" if path == "in" else "out" if path == "out" else "forward"
            result = lab.send(packet, path=lab_path)
            ruleset = Ruleset([dump], sets=sets, host=lab_host(packet, path, setup),
                              implied_builtins=backend == "legacy")
            comparisons.append(compare(ruleset, packet, model_packet(packet, path), path,
                                       result))
            if progress is not None:
                progress(number, len(prepared.packets))
    finally:
        lab.close()
    return VerifyReport.build(name, dump, backend, comparisons, seed=seed if packets is None
                              else None)


def _changes_sets(dump: Dump) -> bool:
    """Whether a rule adds packets to ipsets or deletes them (SET --add-set / --del-set)."""
    return any(rule.target is not None and rule.target.name == "SET"
               and (getattr(rule.target.options, "add", None) is not None
                    or getattr(rule.target.options, "delete", None) is not None)
               for table in dump.tables for chain in table.chains for rule in chain.rules)
