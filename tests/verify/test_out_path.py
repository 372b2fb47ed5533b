"""`verify --path out`: packets of the router's own (its raw socket) against the model.

The kernel routes such a packet before OUTPUT and again after mangle or nat OUTPUT changed its
destination; the model must say the same counters, policies and frame (see
tests/core/test_output_routing.py for the model alone).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.sandbox.lab import Backend
from iptparse.verify.generate import generate_ruleset
from iptparse.verify.run import LabPacket, packets_from, verify_dump

from .._cli import run_cli
from ..conftest import require_kernel
from ._lab import disagreements, invert_udp_ports, lab_namespaces

pytestmark = pytest.mark.kernel

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -d 203.0.113.10/32 -p udp -j DNAT --to-destination 10.9.0.5:53
-A POSTROUTING -o eth2 -j SNAT --to-source 198.51.100.7
-A POSTROUTING -o eth1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
-A OUTPUT -o eth1 -m owner --uid-owner 0 -p udp -j ACCEPT
-A OUTPUT -o eth2 -j ACCEPT
-A OUTPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""

PACKETS = """\
udp 192.0.2.1:5000 -> 10.1.0.1:53 oif=eth1
udp 192.0.2.1:5000 -> 203.0.113.10:99 oif=eth1
udp 192.0.2.1:5000 -> 10.9.0.9:99 oif=eth2
tcp 192.0.2.1:5000 -> 10.1.0.1:22 oif=eth3
tcp 192.0.2.1:5000 -> 10.1.0.1:80 oif=eth3
"""


def lab_packets(text: str = PACKETS) -> list[LabPacket]:
    packets = [parse_packet(line) for line in text.splitlines()]
    # the DNAT destination leaves by eth2 (the lab's route for it)
    return [(replace(p, routes=(("10.9.0.0/24", "eth2"),)) if p.dst == "203.0.113.10" else p,
             path) for p, path in packets_from(packets, Family.INET, ("out",))]


def test_hand_written_rules_agree() -> None:
    """The owner's uid, `-o` in OUTPUT before and after DNAT rerouted the packet, SNAT in
    POSTROUTING by the new interface, OUTPUT's DROP policy."""
    require_kernel()
    report = verify_dump(RULES, packets=lab_packets(), paths=("out",))
    assert report.ok, disagreements(report)
    assert report.packets.agree == 5
    dnat = report.comparisons[1]
    assert dnat.kernel.hits == {("nat", "OUTPUT", 1): 1, ("filter", "OUTPUT", 1): 1,
                                ("nat", "POSTROUTING", 1): 1}
    closed = report.comparisons[4]
    assert not closed.kernel.accepted and closed.kernel.policies == {
        ("nat", "OUTPUT"): 1, ("filter", "OUTPUT"): 1}
    assert lab_namespaces() == set()


def test_a_wrong_model_is_caught_on_the_out_path(monkeypatch: pytest.MonkeyPatch) -> None:
    require_kernel()
    invert_udp_ports(monkeypatch)
    rules = RULES.replace("-A OUTPUT -o eth2 -j ACCEPT", "-A OUTPUT -o eth2 -p udp -m udp "
                          "--dport 99 -j ACCEPT")
    report = verify_dump(rules, packets=lab_packets(), paths=("out",))
    assert not report.ok


@pytest.mark.parametrize("backend", ["legacy", "nft"])
@pytest.mark.parametrize("family", [Family.INET, Family.INET6])
def test_generated_rulesets_agree_on_the_out_path(family: Family, backend: Backend) -> None:
    require_kernel(*(["iptables-nft-restore", "ip6tables-nft-restore"] if backend == "nft"
                     else []))
    agree = total = 0
    for seed in (0, 1, 2, 3):
        generated = generate_ruleset(seed, family, modelled_only=seed % 2 == 1,
                                     output_chains=True)
        ipsets = [("sets", generated.ipsets)] if generated.ipsets else []
        report = verify_dump(generated.rules, name=f"generated-{seed}", ipsets=ipsets,
                             samples=16, seed=seed, paths=("out",),
                             backend=backend)
        assert report.ok, disagreements(report)
        agree += report.packets.agree
        total += len(report.comparisons)
    assert total == 64 and agree >= 0.75 * total, f"only {agree} of {total} decided"
    assert lab_namespaces() == set()


def test_the_command_sends_on_every_path(tmp_path: Path) -> None:
    require_kernel()
    rules = tmp_path / "rules.txt"
    rules.write_text(RULES)
    packets = tmp_path / "packets.txt"
    packets.write_text("udp 192.0.2.1:5000 -> 10.1.0.1:53 oif=eth1\n"
                       "udp 192.0.2.1:5000 -> 10.1.0.1:53 iif=eth0\n")
    status, out, err = run_cli(["verify", str(rules), "--packets", str(packets), "--path",
                                "all", "--json"])
    assert (status, err) == (0, ""), out
    (report,) = json.loads(out)["reports"]
    # the first is forwarded and sent (it names its oif); the second delivered and forwarded
    # (it names its iif)
    assert [r["path"] for r in report["results"]] == ["forward", "out", "in", "forward"]


LOOPBACK = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i lo -p tcp -m tcp --dport 3129
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -p tcp -j MARK --set-xmark 0x7/0xff
-A INPUT -i lo -m mark --mark 0x7/0xff
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -j ACCEPT
-A INPUT -j ACCEPT
-A OUTPUT -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3129
-A POSTROUTING -o lo
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -p tcp -m tcp --dport 3129 -m state --state NEW -j ACCEPT
COMMIT
"""


def test_a_packet_redirected_to_the_router_comes_in_again_over_lo() -> None:
    """REDIRECT in nat OUTPUT (a transparent proxy's, Istio's): the packet leaves by lo and
    walks raw, mangle and filter of PREROUTING and INPUT with iif lo, its mark kept, nat not
    consulted again, still NEW; the kernel delivers it to R."""
    require_kernel()
    packets = [parse_packet("tcp 192.0.2.1:5000 -> 10.1.0.1:80 oif=eth1"),
               parse_packet("tcp 192.0.2.1:5000 -> 10.1.0.1:81 oif=eth1")]
    report = verify_dump(LOOPBACK, packets=packets_from(packets, Family.INET, ("out",)),
                         paths=("out",))
    assert report.ok, disagreements(report)
    assert report.packets.agree == 2
    redirected, sent = report.comparisons
    assert redirected.kernel.hits == {
        ("raw", "PREROUTING", 1): 1, ("mangle", "OUTPUT", 1): 1, ("mangle", "INPUT", 1): 1,
        ("nat", "OUTPUT", 1): 1, ("nat", "POSTROUTING", 1): 1, ("filter", "INPUT", 1): 1}
    assert redirected.kernel.accepted and redirected.chosen is not None
    assert redirected.chosen.state.current("iif").single_value() == "lo"
    assert sent.kernel.hits == {("mangle", "OUTPUT", 1): 1}
    assert lab_namespaces() == set()
