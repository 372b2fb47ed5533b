"""The packets that matter to each kind of user, traced through the project's own dumps.

The seed scenario's answers are proved by the kernel in tests/corpora/test_seed_kernel.py and
by `iptparse verify` in tests/verify; here the trace must say the same, with the rules that
decide, as a user reads it.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from iptparse.host import Host, HostAddress
from iptparse.ipset import parse_ipset
from iptparse.load import load_ruleset
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.trace import PathResult, TraceResult, trace

from ..conftest import PROJECT_CORPORA

SEED = PROJECT_CORPORA / "seed"


def seed() -> Ruleset:
    return load_ruleset([SEED / "iptables-save.txt"], ipsets=[SEED / "ipset-list.txt"],
                        routes=SEED / "routes.txt", addrs=SEED / "addrs.txt")


def only(result: TraceResult) -> PathResult:
    assert len(result.paths) == 1, [(p.verdict, p.conditions) for p in result.paths]
    return result.paths[0]


def rule_text(ruleset: Ruleset, table: str, chain: str, number: int) -> str:
    compiled = ruleset.table(Family.INET, table)
    assert compiled is not None
    found = compiled.chain(chain)
    assert found is not None
    return compiled.rule(found, number - 1).text


def test_seed_default_namespace_pod_is_dropped_by_the_policy() -> None:
    rs = seed()
    path = only(trace(rs, parse_packet(
        "tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=cali17b90f98476 ctstate=NEW mark=0x0")))
    assert path.verdict == "DROP"
    table, chain, number = path.state.decision  # type: ignore[misc]
    assert (table, chain) == ("filter", "cali-tw-calid3b581beed8")
    assert "Drop if no policies passed packet" in rule_text(rs, table, chain, number)
    assert not any(h.chain == "cali-pi-_FSXf14qKl1ZqjRcvUXU" and h.rule == 1 for h in path.hits)


def test_seed_kube_system_pod_is_accepted_with_the_policy_mark() -> None:
    rs = seed()
    path = only(trace(rs, parse_packet(
        "tcp 10.13.76.17:40000 -> 10.13.76.19:8080 iif=calia9c4260d1d8 ctstate=NEW mark=0x0")))
    assert path.verdict == "ACCEPT"
    hits = [(h.chain, h.rule) for h in path.hits]
    assert ("cali-pi-_FSXf14qKl1ZqjRcvUXU", 1) in hits  # the set match marks 0x10000
    returned = [n for c, n in hits if c == "cali-tw-calid3b581beed8"]
    assert any("Return if policy accepted" in rule_text(rs, "filter",
                                                      "cali-tw-calid3b581beed8", n)
               for n in returned)
    assert path.state.current("mark").single_value() == 0x10000
    table, chain, number = path.state.decision  # type: ignore[misc]
    assert "Policy explicitly accepted packet." in rule_text(rs, table, chain, number)


def test_seed_which_pods_may_connect() -> None:
    """Issue 4's question: which TCP packets from the pod network reach 10.13.76.19:8080?"""
    rs = seed()
    result = trace(rs, parse_packet("tcp 10.13.76.0/24 -> 10.13.76.19:8080 ctstate=NEW mark=0x0"))
    accepted = IntSetUnion()
    for path in result.paths:
        for alternative in path.alternatives:
            if path.verdict == "ACCEPT":
                accepted.add(alternative.box.get("src"))
    kube_system = {7, 9, 10, 12, 13, 14, 15, 17, 20, 24, 25, 27, 29, 32, 34}
    assert accepted.values() == {0x0A0D4C00 + n for n in kube_system}
    assert {p.verdict for p in result.paths} == {"ACCEPT", "DROP"}
    # established connections are accepted (the RELATED,ESTABLISHED rules) unless the source
    # is spoofed: then Calico's reverse-path check in raw drops them
    open_ = trace(rs, parse_packet("tcp 10.13.76.0/24 -> 10.13.76.19:8080 mark=0x0 "
                                   "ctstate=ESTABLISHED"))
    assert {p.verdict for p in open_.paths} == {"ACCEPT", "DROP"}
    for path in open_.paths:
        if path.verdict == "DROP":
            table, chain, number = path.state.decision  # type: ignore[misc]
            assert "rpfilter" in rule_text(rs, table, chain, number)


class IntSetUnion:
    def __init__(self) -> None:
        self.sets: list[object] = []

    def add(self, value: object) -> None:
        self.sets.append(value)

    def values(self) -> set[int]:
        out: set[int] = set()
        for s in self.sets:
            out |= set(s)  # type: ignore[call-overload]
        return out


def node(*others: tuple[str, int, int]) -> Host:
    """A node at 192.168.1.10/24 on eth0, plus bridges (connected routes to their subnets)."""
    return Host([HostAddress("eth0", Family.INET, 0xC0A8010A, 24),
                 *(HostAddress(name, Family.INET, address, length)
                   for name, address, length in others)])


NODE = node()


def corpus(name: str, host: Host | None = NODE, sets: str | None = None) -> Ruleset:
    dump = parse_iptables((PROJECT_CORPORA / name).read_text())
    ipsets = {}
    if sets:
        ipsets = {s.name: s for s in parse_ipset((PROJECT_CORPORA / sets).read_text())}
    return Ruleset([dump], sets=ipsets, host=host)


def test_kube_proxy_cluster_ip_spreads_over_its_endpoints() -> None:
    rs = corpus("kube-proxy/iptables-save.txt", node(("cni0", 0x0AF40001, 16)))
    result = trace(rs, parse_packet(
        "tcp 10.244.9.9:40000 -> 10.96.41.17:80 iif=cni0 ctstate=NEW mark=0x0"))
    finals: dict[int | str | None, Fraction] = {}
    for path in result.paths:
        assert path.verdict == "ACCEPT"
        dst = path.state.current("dst").single_value()
        finals[dst] = finals.get(dst, Fraction(0)) + path.probability
    endpoints = {0x0AF40309, 0x0AF40105, 0x0AF40207}  # 10.244.3.9, 10.244.1.5, 10.244.2.7
    assert set(finals) == endpoints
    for share in finals.values():
        assert share == pytest.approx(1 / 3, abs=1e-9)
    assert sum(finals.values()) == 1


def test_docker_published_port_reaches_the_container() -> None:
    rs = corpus("docker/iptables-save.txt", node(("docker0", 0xAC110001, 16)))
    path = only(trace(rs, parse_packet(
        "tcp 198.51.100.7:40000 -> 192.168.1.10:8080 iif=eth0 ctstate=NEW mark=0x0")))
    assert path.verdict == "ACCEPT"
    assert path.state.current("dst").single_value() == 0xAC110002  # 172.17.0.2
    assert path.state.current("dport").single_value() == 80
    assert path.state.current("oif").single_value() is None or path.state.path == "forward"
    assert path.state.decision[:2] == ("filter", "DOCKER")  # type: ignore[index]


def test_ufw_allows_ssh_and_blocks_the_rest() -> None:
    rs = corpus("ufw/iptables-save.txt")
    ssh = only(trace(rs, parse_packet(
        "tcp 198.51.100.7:40000 -> 192.168.1.10:22 iif=eth0 ctstate=NEW mark=0x0"), "in"))
    assert ssh.verdict == "ACCEPT"
    assert ssh.state.decision[:2] == ("filter", "ufw-user-input")  # type: ignore[index]
    other = trace(rs, parse_packet(
        "tcp 198.51.100.7:40000 -> 192.168.1.10:23 iif=eth0 ctstate=NEW mark=0x0"), "in")
    assert {p.verdict for p in other.paths} == {"DROP"}
