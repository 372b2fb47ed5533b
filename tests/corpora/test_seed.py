"""The committed seed files agree with the scenario (iptparse.synth.seed) and with the facts
the issue states: chain and set names, the 15 kube-system addresses, the pods' interfaces and
routes, and the rule sequence of the protected pod's chain."""

from __future__ import annotations

import re

import pytest

from iptparse.sandbox import Netns
from iptparse.sandbox.oracle import strip_save_comments
from iptparse.synth import seed

from ..conftest import PROJECT_CORPORA

SEED = PROJECT_CORPORA / "seed"
KUBE_SYSTEM = {f"10.13.76.{n}" for n in (7, 9, 10, 12, 13, 14, 15, 17, 20, 24, 25, 27, 29, 32,
                                         34)}


def _rules(chain: str) -> list[str]:
    text = (SEED / "iptables-save.txt").read_text()
    return [line[len(f"-A {chain} "):] for line in text.splitlines()
            if line.startswith(f"-A {chain} ")]


def test_kube_system_set_holds_the_fifteen_pods() -> None:
    lines = (SEED / "ipset-save.txt").read_text().splitlines()
    name = "cali40s:d0vaXDV0OjdKq6czssWe9SI"
    assert f"create {name} hash:net family inet hashsize 1024 maxelem 1048576" in "\n".join(lines)
    assert {line.split()[2] for line in lines if line.startswith(f"add {name} ")} == KUBE_SYSTEM
    assert seed.CLIENT_KUBE_SYSTEM.ip in KUBE_SYSTEM
    assert seed.CLIENT_DEFAULT.ip not in KUBE_SYSTEM


def test_protected_pod_chain_in_calico_order() -> None:
    comments = [re.findall(r'--comment "([^"]*)"', rule)[1:] for rule in
                _rules("cali-tw-calid3b581beed8")]
    assert comments == [[], [], [], ["Start of policies"], [], ["Return if policy accepted"],
                        ["Drop if no policies passed packet"], [], ["Return if profile accepted"],
                        [], ["Return if profile accepted"], ["Drop if no profiles matched"]]
    rules = _rules("cali-tw-calid3b581beed8")
    assert rules[0].endswith("-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    assert rules[1].endswith("-m conntrack --ctstate INVALID -j DROP")
    assert rules[2].endswith("-j MARK --set-xmark 0x0/0x10000")
    assert rules[4].endswith("-m mark --mark 0x0/0x20000 -j cali-pi-_FSXf14qKl1ZqjRcvUXU")
    assert rules[6].endswith("-m mark --mark 0x0/0x20000 -j DROP")
    assert rules[7].endswith("-j cali-pri-kns.ingress")
    assert rules[9].endswith("-j cali-pri-ksa.ingress.default")


def test_policy_chain_marks_kube_system_sources_to_8080() -> None:
    first, second = _rules(seed.POLICY_CHAIN)
    assert first.startswith("-p tcp -m comment --comment \"cali:")
    assert "-m set --match-set cali40s:d0vaXDV0OjdKq6czssWe9SI src -m multiport --dports 8080 " \
        "-j MARK --set-xmark 0x10000/0x10000" in first
    assert second.endswith("-m mark --mark 0x10000/0x10000 -j RETURN")


def test_dispatch_goes_through_the_d_children() -> None:
    assert any(r.startswith("-o calid+ ") and r.endswith("-g cali-to-wl-dispatch-d")
               for r in _rules("cali-to-wl-dispatch"))
    assert any(r.startswith("-i calid+ ") and r.endswith("-g cali-from-wl-dispatch-d")
               for r in _rules("cali-from-wl-dispatch"))
    assert any(r.startswith("-o calid3b581beed8 ") and r.endswith("-g cali-tw-calid3b581beed8")
               for r in _rules("cali-to-wl-dispatch-d"))
    forward = _rules("FORWARD")
    assert any('"Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT'
               in r for r in forward)


def test_every_calico_rule_starts_with_its_id() -> None:
    text = (SEED / "iptables-save.txt").read_text()
    calico = [line for line in text.splitlines() if line.startswith("-A cali-")]
    assert len(calico) > 300
    id_first = re.compile(r'^-A \S+ (?:-[sdio] \S+ |-p \w+ )*-m comment --comment "cali:[\w-]{16}"')
    assert [line for line in calico if not id_first.match(line)] == []


def test_routes_and_addresses_match_the_pods() -> None:
    routes = (SEED / "routes.txt").read_text().splitlines()
    addrs = (SEED / "addrs.txt").read_text()
    assert routes[0].startswith(f"default via {seed.GATEWAY} dev eth0 ")
    assert f"inet {seed.NODE_IP}/{seed.NODE_PREFIX} " in addrs
    for w in seed.WORKLOADS:
        assert f"{w.ip} dev {w.interface} scope link " in routes
        assert re.search(rf"^\d+: {w.interface}@if\d+: <BROADCAST,MULTICAST,UP,LOWER_UP>.*\n"
                         r"    link/ether ee:ee:ee:ee:ee:ee ", addrs, re.M), w.interface
    assert len([r for r in routes if "scope link" in r and "/" not in r.split()[0]]) == 19


@pytest.mark.kernel
def test_committed_dump_is_what_the_scenario_builds(netns: Netns) -> None:
    """Guards against the scenario module and corpora/seed drifting apart."""
    netns.run(["ipset", "restore"], input=seed.ipset_text())
    netns.run(["iptables-legacy-restore"], input=seed.restore_text())
    saved = "".join(netns.run(["iptables-legacy-save", "-t", t]).stdout
                    for t in ("raw", "mangle", "nat", "filter"))
    assert strip_save_comments(saved) == strip_save_comments(
        (SEED / "iptables-save.txt").read_text())
    assert netns.run(["ipset", "save"]).stdout == (SEED / "ipset-save.txt").read_text()
