"""The seed scenario, proved by the kernel: real TCP connections between pod namespaces.

The node namespace is built the way Calico builds a node (corpora/make/nodelab.py) and loaded
with the committed dumps corpora/seed/iptables-save.txt and ipset-save.txt. Then:
- 10.13.76.17 (kube-system) connects to 10.13.76.19:8080: the connection completes, the policy
  chain's MARK rule and "Return if policy accepted" each count the SYN once, and the FORWARD
  rule "Policy explicitly accepted packet." accepts it;
- 10.13.76.26 (default) tries the same: no connection, "Drop if no policies passed packet"
  counts its SYN(s) and the policy's MARK rule counts nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from iptparse.synth import seed

from ..conftest import PROJECT_CORPORA, require_kernel
from ._make import make_module

SEED = PROJECT_CORPORA / "seed"
TW = "cali-tw-calid3b581beed8"
_COUNTED = re.compile(r"^\[(\d+):\d+\] -A (\S+) (.*)$")

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    require_kernel()
    nodelab = make_module("nodelab")
    tag = f"-t{os.getpid()}"
    node = nodelab.NodeLab([(w.interface, w.ip) for w in seed.WORKLOADS], node_ip=seed.NODE_IP,
                           prefix=seed.NODE_PREFIX, gateway=seed.GATEWAY, tag=tag)
    try:
        node.__enter__()
        node.load((SEED / "iptables-save.txt").read_text(),
                  (SEED / "ipset-save.txt").read_text())
        yield node
    finally:
        node.close()
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert tag not in names, "a namespace of the seed lab was left behind"


def _packets(lab: Any, chain: str, text: str) -> int:
    """Packets counted by the one rule of `chain` whose text contains `text`."""
    save = lab.node.run(["iptables-legacy-save", "-c", "-t", "filter"]).stdout
    hits = [int(m[1]) for m in map(_COUNTED.match, save.splitlines())
            if m and m[2] == chain and text in m[3]]
    assert len(hits) == 1, f"{len(hits)} rules of {chain} contain {text!r}"
    return hits[0]


def _zero(lab: Any) -> None:
    lab.node.run(["iptables-legacy", "-t", "filter", "-Z"])


def test_kube_system_pod_is_accepted_by_the_policy(lab: Any) -> None:
    _zero(lab)
    listener = lab.listen(seed.SERVER.ip, 8080, seconds=30)
    try:
        assert lab.connect(seed.CLIENT_KUBE_SYSTEM.ip, seed.SERVER.ip, 8080, timeout=5)
    finally:
        listener.kill()
        listener.wait()
    assert _packets(lab, seed.POLICY_CHAIN, "--match-set cali40s:d0vaXDV0OjdKq6czssWe9SI src") \
        == 1
    assert _packets(lab, TW, '"Return if policy accepted"') == 1
    assert _packets(lab, TW, '"Drop if no policies passed packet"') == 0
    assert _packets(lab, "FORWARD", '"Policy explicitly accepted packet."') == 1


def test_default_namespace_pod_is_dropped(lab: Any) -> None:
    _zero(lab)
    listener = lab.listen(seed.SERVER.ip, 8080, seconds=30)
    try:
        # a SYN is retransmitted after 1 s: 0.6 s lets exactly one through
        assert not lab.connect(seed.CLIENT_DEFAULT.ip, seed.SERVER.ip, 8080, timeout=0.6)
    finally:
        listener.kill()
        listener.wait()
    assert _packets(lab, TW, '"Drop if no policies passed packet"') >= 1
    assert _packets(lab, seed.POLICY_CHAIN, "--match-set cali40s:d0vaXDV0OjdKq6czssWe9SI src") \
        == 0
    assert _packets(lab, TW, '"Return if policy accepted"') == 0
    assert _packets(lab, "FORWARD", '"Policy explicitly accepted packet."') == 0
