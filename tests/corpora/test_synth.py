"""The synthetic ruleset generators: deterministic, in the real programs' shapes, of the
documented sizes, and loadable by the kernel (for Calico: byte for byte what iptables-save
prints back)."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

import pytest

from iptparse.sandbox import Netns
from iptparse.sandbox.oracle import kernel_canonical
from iptparse.synth import calico, ipsets, kube_proxy
from iptparse.synth.naming import (
    calico_chain_name,
    calico_iface,
    calico_set_name,
    kube_chain_hash,
    kube_endpoint_chain,
)

from ..conftest import PROJECT_CORPORA
from ._make import make_module


def _rules(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("-A ")]


# --- names --------------------------------------------------------------------------------

def test_kube_proxy_chain_names_are_kube_proxys() -> None:
    # the names upstream's proxier test expects for service ns1/svc1:p80
    assert kube_chain_hash("ns1/svc1:p80", "tcp") == "XPGD46QRK7WJZT7O"
    assert kube_endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == \
        "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_calico_names() -> None:
    # as found on a real AKS node for the metrics-server service account profile
    assert calico_chain_name("cali-pri-", "ksa.kube-system.metrics-server") == \
        "cali-pri-_CVSZITRyIpEmH8AB6H"
    assert calico_chain_name("cali-pri-", "kns.kube-system") == "cali-pri-kns.kube-system"
    assert len(calico_chain_name("cali-po-", "x" * 60)) == 28
    assert re.fullmatch(r"cali40s:[\w-]{23}", calico_set_name("s", "app == 'web'"))
    assert re.fullmatch(r"cali[0-9a-f]{11}", calico_iface("default", "web-0"))


# --- kube-proxy -----------------------------------------------------------------------------

def test_kube_proxy_is_deterministic() -> None:
    assert kube_proxy.generate(40, seed=3) == kube_proxy.generate(40, seed=3)
    assert kube_proxy.generate(40, seed=3) != kube_proxy.generate(40, seed=4)


def test_kube_proxy_shape() -> None:
    text = kube_proxy.generate(300, endpoints=(1, 3), seed=1)
    assert text.startswith("*filter\n:KUBE-SERVICES - [0:0]\n")
    assert text.count("COMMIT\n") == 2
    rules = _rules(text)
    svc_rules = Counter(r.split()[1] for r in rules if r.startswith("-A KUBE-SVC-"))
    for rule in rules:
        if rule.startswith("-A KUBE-SERVICES ") and "cluster IP" in rule:
            ip = rule.split(" -d ")[1].split()[0]
            assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
        if "-j DNAT --to-destination " in rule:
            ip = rule.rsplit(" ", 1)[1].split(":")[0]
            assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.0.0/16")
    by_chain: dict[str, list[str]] = {}
    for rule in rules:
        by_chain.setdefault(rule.split()[1], []).append(rule)
    # every service chain: a masquerade rule, then 1-3 endpoint jumps (affinity adds checks)
    for chain, count in svc_rules.items():
        mine = by_chain[chain]
        jumps = [r for r in mine if "-j KUBE-SEP-" in r and "--rcheck" not in r]
        assert 1 <= len(jumps) <= 3
        assert count == 1 + len(jumps) + sum("--rcheck" in r for r in mine)
        chances = [re.search(r"--probability (\S+)", r) for r in jumps]
        assert [m[1] if m else None for m in chances] == \
            [f"{1 / (len(jumps) - i):0.10f}" for i in range(len(jumps) - 1)] + [None]
    assert rules[-1].startswith("-A KUBE-SERVICES ") and "must be the last rule" in rules[-1]


def test_kube_proxy_fixed_endpoint_count() -> None:
    rules = _rules(kube_proxy.generate(50, endpoints=4, seed=2))
    for chain in {r.split()[1] for r in rules if r.startswith("-A KUBE-SVC-")}:
        assert sum(1 for r in rules if r.split()[1] == chain and "-j KUBE-SEP-" in r
                   and "--rcheck" not in r) == 4


def test_kube_proxy_size_scales_to_85_rules_per_10_services() -> None:
    """8.5 rules per service on average: 10,000 services make ~85,000 rules (the kernel test
    below checks that size for real)."""
    text = kube_proxy.generate(1_000)
    assert 8_200 <= len(_rules(text)) <= 9_000
    assert 1_150_000 <= len(text.encode()) <= 1_400_000


def test_kube_proxy_corpus_input_is_the_generators() -> None:
    script = make_module("kube_proxy")
    assert kube_proxy.restore_text(script.SERVICES, cluster_cidr=script.CLUSTER_CIDR) == \
        (PROJECT_CORPORA / "kube-proxy" / "restore-input.txt").read_text()


@pytest.mark.kernel
def test_kube_proxy_loads(netns: Netns) -> None:
    text = kube_proxy.generate(60, seed=5)
    saved = kernel_canonical(text, netns=netns)
    assert len(_rules(saved)) == len(_rules(text))
    assert "-m statistic --mode random --probability 0.33333333349 " in saved


@pytest.mark.kernel
@pytest.mark.slow
def test_kube_proxy_ten_thousand_services_in_the_kernel(netns: Netns) -> None:
    """The documented size: 10,000 services give ~85,000 rules and ~12 MB of iptables-save."""
    netns.run(["iptables-legacy-restore"], input=kube_proxy.generate(10_000), timeout=300)
    saved = "".join(netns.run(["iptables-legacy-save", "-t", t], timeout=300).stdout
                    for t in ("filter", "nat"))
    assert 82_000 <= len(_rules(saved)) <= 90_000
    assert 11_500_000 <= len(saved.encode()) <= 14_000_000


# --- Calico ---------------------------------------------------------------------------------

def test_calico_is_deterministic() -> None:
    assert calico.generate(10, 4, seed=1) == calico.generate(10, 4, seed=1)
    assert calico.generate(10, 4, seed=1) != calico.generate(10, 4, seed=2)


def test_calico_shape() -> None:
    rules, sets = calico.generate(30, 12, seed=3)
    names = set(re.findall(r"^:(\S+) ", rules, re.M))
    assert sum(n.startswith("cali-tw-") for n in names) == 30
    assert sum(n.startswith("cali-fw-") for n in names) == 30
    assert 1 <= sum(n.startswith(("cali-pi-", "cali-po-")) for n in names) <= 12
    assert [t for t in re.findall(r"^\*(\w+)$", rules, re.M)] == ["raw", "mangle", "nat",
                                                                   "filter"]
    used = set(re.findall(r"--match-set (\S+) ", rules))
    created = set(re.findall(r"^create (\S+) hash:net ", sets, re.M))
    assert used == created  # felix creates exactly the sets its rules use
    for rule in _rules(rules):
        if rule.startswith("-A cali-"):
            assert '--comment "cali:' in rule


def test_calico_rejects_impossible_nodes() -> None:
    with pytest.raises(ValueError):
        calico.generate(300, 0)
    with pytest.raises(ValueError):
        calico.generate(0, 2)


@pytest.mark.kernel
@pytest.mark.parametrize("workloads,policies,seed", [(0, 0, 0), (1, 1, 1), (12, 6, 2),
                                                     (40, 15, 3)])
def test_calico_is_exactly_what_iptables_save_prints(netns: Netns, workloads: int,
                                                     policies: int, seed: int) -> None:
    rules, sets = calico.generate(workloads, policies, seed=seed)
    netns.run(["ipset", "restore"], input=sets)
    assert kernel_canonical(rules, netns=netns) == rules
    assert sorted(netns.run(["ipset", "save"]).stdout.splitlines()) == \
        sorted(sets.splitlines())


@pytest.mark.kernel
def test_calico_corpus_is_the_generators(netns: Netns) -> None:
    script = make_module("calico")
    rules, sets = calico.generate(script.WORKLOADS, script.POLICIES, seed=script.SEED)
    netns.run(["ipset", "restore"], input=sets)
    committed = (PROJECT_CORPORA / "calico" / "iptables-save.txt").read_text()
    assert kernel_canonical(rules, netns=netns) == "".join(
        line for line in committed.splitlines(keepends=True) if not line.startswith("#"))


# --- ipsets ---------------------------------------------------------------------------------

TYPES = [(t, f) for t in ipsets.SET_TYPES for f in ("inet", "inet6")]


def test_ipsets_deterministic_and_sized() -> None:
    for set_type, family in TYPES:
        text = ipsets.generate(500, set_type, family, seed=9)
        assert text == ipsets.generate(500, set_type, family, seed=9)
        adds = [line for line in text.splitlines() if line.startswith("add ")]
        assert len(adds) == len(set(adds)) == 500
    assert " maxelem 65536 " in text and " hashsize 1024 " in text
    big = ipsets.generate(5_000, "hash:net")
    assert " maxelem 65536 " in big and " hashsize 8192 " in big


def test_ipsets_rejects_unknown_type() -> None:
    with pytest.raises(ValueError):
        ipsets.generate(3, "bitmap:port")


@pytest.mark.kernel
@pytest.mark.parametrize("set_type,family", TYPES)
def test_ipsets_load_and_save_back(netns: Netns, set_type: str, family: str) -> None:
    text = ipsets.generate(300, set_type, family, seed=4)
    netns.run(["ipset", "restore"], input=text)
    saved = netns.run(["ipset", "save"]).stdout
    # the kernel lists members in hash order; everything else is the same
    assert saved.splitlines()[0] == text.splitlines()[0]
    assert sorted(saved.splitlines()) == sorted(text.splitlines())
