"""`sysctl -a` output read into the settings routing applies, combined as the kernel combines
`all` with each interface's (the routing they decide is checked against `ip route get` in
tests/sandbox/test_policy_routing_fuzz.py)."""

from __future__ import annotations

import pytest

from iptparse.host import Host, HostError
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.sysctl import Conf, parse_sysctls
from iptparse.trace import trace

SHOWN = """net.ipv4.conf.all.accept_local = 0
net.ipv4.conf.all.drop_unicast_in_l2_multicast = 0
net.ipv4.conf.all.forwarding = 1
net.ipv4.conf.all.rp_filter = 2
net.ipv4.conf.all.src_valid_mark = 0
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.default.forwarding = 1
net.ipv4.conf.eth0.accept_local = 1
net.ipv4.conf.eth0.forwarding = 0
net.ipv4.conf.eth0.rp_filter = 0
net.ipv4.conf.eth0/100.rp_filter = 1
net.ipv4.conf.lo.src_valid_mark = 1
net.ipv4.conf.eth0.route_localnet = 1
net.ipv4.ip_forward = 1
net.ipv4.tcp_rmem = 4096	131072	6291456
"""


def test_all_combines_with_each_interface() -> None:
    sysctls = parse_sysctls(SHOWN)
    assert sysctls.interfaces == {"eth0", "eth0.100", "lo"}
    # rp_filter: the larger of all's and the interface's; accept_local: either; forwarding:
    # the interface's own
    assert sysctls.conf("eth0") == Conf(forwarding=0, rp_filter=2, accept_local=1,
                                        src_valid_mark=0, send_redirects=1, route_localnet=1)
    assert sysctls.conf("eth0.100").rp_filter == 2
    assert sysctls.conf("lo").src_valid_mark == 1
    # an interface the file does not list takes default's; an own value nobody gives is the
    # kernel's (send_redirects 1), an `all` one the assumption made without a file (0)
    assert sysctls.conf("wg0") == Conf(forwarding=1, rp_filter=2, accept_local=0,
                                       src_valid_mark=0, send_redirects=1, route_localnet=0)


def test_ip_forward_alone_stands_for_every_interface() -> None:
    assert parse_sysctls("net.ipv4.ip_forward = 0\n").conf("eth0").forwarding == 0
    assert parse_sysctls("").conf("eth0").forwarding == 1  # as without a file


def test_a_setting_that_is_no_number_is_named() -> None:
    with pytest.raises(HostError, match=r"line 2: cannot read the setting in "
                       r"`net.ipv4.conf.eth0.rp_filter = strict'"):
        parse_sysctls("net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.eth0.rp_filter = strict\n")


FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
ROUTES = ("default via 10.0.0.1 dev eth0\n"
          "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n"
          "192.168.1.0/24 dev eth1 proto kernel scope link src 192.168.1.1\n")
ADDRS = "eth0 10.0.0.5/24\neth1 192.168.1.1/24\n"


def run(spec: str, sysctl: str) -> str:
    host = Host.from_text(ADDRS, ROUTES, sysctl)
    (path,) = trace(Ruleset([parse_iptables(FILTER)], host=host),
                    parse_packet(f"{spec} ctstate=NEW ttl=64"), "forward").paths
    return path.state.stopped or f"{path.verdict} {path.state.path}"


def test_strict_and_loose_reverse_path_filtering() -> None:
    """A packet in by eth1 from an address routed out of eth0 (the default route)."""
    spoofed = "tcp 203.0.113.9:4000 -> 10.0.0.7:22 iif=eth1"
    strict = "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.all.accept_local = 0\n"
    assert run(spoofed, strict).startswith("routing (a martian source")
    assert run(spoofed, strict.replace("= 1", "= 2")) == "ACCEPT forward"  # loose: a route
    assert run("tcp 192.168.1.9:4000 -> 10.0.0.7:22 iif=eth1", strict) == "ACCEPT forward"


def test_a_source_of_the_hosts_own_and_forwarding_off() -> None:
    own = "tcp 10.0.0.5:4000 -> 192.168.1.7:22 iif=eth0"
    assert run(own, "net.ipv4.conf.all.accept_local = 0\n").startswith(
        "routing (a martian source")
    assert run(own, "net.ipv4.conf.all.accept_local = 1\n") == "ACCEPT forward"
    off = "net.ipv4.conf.eth1.forwarding = 0\nnet.ipv4.conf.eth0.forwarding = 1\n"
    assert run("tcp 192.168.1.9:4000 -> 10.0.0.7:22 iif=eth1", off) == (
        "routing (the input interface does not forward: sysctl forwarding)")
    assert run("tcp 10.0.0.9:4000 -> 192.168.1.7:22 iif=eth0", off) == "ACCEPT forward"
    # delivered locally: forwarding does not matter
    assert run("tcp 192.168.1.9:4000 -> 192.168.1.1:22 iif=eth1", off) == "ACCEPT in"


def test_an_open_packet_reads_why() -> None:
    host = Host.from_text(ADDRS, ROUTES, "net.ipv4.conf.all.rp_filter = 1\n"
                                         "net.ipv4.conf.all.accept_local = 0\n")
    text = format_trace(trace(Ruleset([parse_iptables(FILTER)], host=host),
                              parse_packet("tcp 0.0.0.0/0 -> 10.0.0.7:22 iif=eth1 ctstate=NEW"),
                              "forward", steps=False))
    assert "ACCEPT if src ∈ 192.168.1.0/24" in text


def test_ipv6_forwarding_is_all_or_forced() -> None:
    sysctls = parse_sysctls("net.ipv6.conf.all.forwarding = 0\n"
                            "net.ipv6.conf.eth1.force_forwarding = 1\n"
                            "net.ipv6.conf.eth0.forwarding = 1\n")
    assert not sysctls.ipv6_forwards("eth0")  # an interface's own forwarding is not asked
    assert sysctls.ipv6_forwards("eth1") and not sysctls.ipv6_forwards(None)
    assert parse_sysctls("").ipv6_forwards("eth0")  # as without a file


def test_an_open_input_interface_is_judged_interface_by_interface() -> None:
    """A source of the host's own (eth2's address) with accept_local under strict rp_filter:
    it passes in by eth2 (its local route's interface) and lo, not by eth3, though neither
    has a route of its own but its subnet's: interfaces are told apart by what routes
    through them, addresses included."""
    host = Host.from_text("eth1 10.1.0.1/24\neth2 10.2.0.1/24\neth3 10.3.0.1/24\n",
                          "default via 10.1.0.254 dev eth1\n",
                          "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.all.accept_local = 1\n")
    result = trace(Ruleset([parse_iptables(FILTER)], host=host),
                   parse_packet("tcp 10.2.0.1 -> 10.3.0.1:22 ctstate=NEW"), "forward",
                   steps=False)
    outcomes = {p.verdict: p.conditions for p in result.paths}
    assert outcomes == {"ACCEPT": ["iif ∈ {eth2, lo}"], "DROP": ["iif ∉ {eth2, lo}"]}


LOCALNET = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 30080 -j DNAT --to-destination 127.0.0.1:8080
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 30080 -j DNAT --to-destination 10.9.0.5:80
-A POSTROUTING -o eth1 -j MASQUERADE
COMMIT
"""


@pytest.mark.parametrize(("settings", "received", "sent"), [
    (None, "DROP by routing (a martian address)",
     "DROP by routing (a loopback source may leave only by lo, or an interface with the "
     "sysctl route_localnet)"),
    ("net.ipv4.conf.eth0.route_localnet = 1\nnet.ipv4.conf.eth1.route_localnet = 1\n",
     "ACCEPT by nat:PREROUTING #1", "ACCEPT by nat:POSTROUTING #1"),
])
def test_route_localnet(settings: str | None, received: str, sent: str) -> None:
    """DNAT to 127.0.0.1 in PREROUTING, and kube-proxy's node port on localhost (DNAT in
    OUTPUT sends the packet out from 127.0.0.1), need route_localnet on the interface; the
    kernel's default is off (tests/sandbox/test_route_localnet.py)."""
    host = Host.from_text("eth0 10.0.2.1/24\neth1 192.168.49.2/24\n",
                          "10.9.0.0/16 via 192.168.49.1 dev eth1\n", settings)
    rs = Ruleset([parse_iptables(LOCALNET)], host=host)
    for spec, path, verdict in (("tcp 192.0.2.7:5 -> 10.0.2.1:30080 iif=eth0", "in", received),
                                ("tcp 127.0.0.1:5 -> 127.0.0.1:30080", "out", sent)):
        result = trace(rs, parse_packet(f"{spec} ctstate=NEW"), path)
        assert len(result.paths) == 1
        assert verdict in format_trace(result).splitlines(), spec


def test_bridge_nf_call_keys() -> None:
    """Absent keys (br_netfilter not loaded, or a capture of net.ipv4 alone) leave the tables
    called, as without a file; only a 0 says they are not."""
    off = parse_sysctls("net.bridge.bridge-nf-call-iptables = 0\n"
                        "net.bridge.bridge-nf-call-ip6tables = 1\n")
    assert not off.bridge_calls("iptables") and off.bridge_calls("ip6tables")
    assert parse_sysctls("net.ipv4.conf.all.rp_filter = 1\n").bridge_calls("iptables")
    assert off != parse_sysctls("net.bridge.bridge-nf-call-ip6tables = 1\n")


BRIDGED = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"


def test_a_bridges_own_switch_calls_the_tables_whatever_the_sysctl() -> None:
    """br_netfilter calls the tables for a bridge's packets when the sysctl or the bridge's
    own nf_call_iptables is on (br_nf_pre_routing): with the sysctl at 0, br0's switch on and
    br1's off, FORWARD's policy drops on br0 only; an unknown bridge forks on which it is
    (the kernel lab checks br0's case in tests/sandbox/test_bridge.py)."""
    host = Host.from_text(
        "2: br0: <UP> mtu 1500\n    bridge stp_state 0 nf_call_iptables 1 nf_call_ip6tables 0\n"
        "3: br1: <UP> mtu 1500\n    bridge stp_state 0 nf_call_iptables 0 nf_call_ip6tables 0\n",
        None, "net.bridge.bridge-nf-call-iptables = 0\n")
    assert host.bridges_calling("iptables") == {"br0"} and not host.bridges_calling("ip6tables")
    rs = Ruleset([parse_iptables(BRIDGED)], host=host)
    bridged = "udp 10.0.0.1:5 -> 10.0.0.2:53 physin=veth1 physout=veth2 bridged=1"
    verdicts = {}
    for bridge in ("br0", "br1"):
        (path,) = trace(rs, parse_packet(f"{bridged} iif={bridge} oif={bridge}"),
                        "forward").paths
        verdicts[bridge] = (path.verdict, path.state.stopped is None)
    assert verdicts == {"br0": ("DROP", True), "br1": ("ACCEPT", False)}
    either = trace(rs, parse_packet(bridged), "forward")
    assert sorted(p.verdict for p in either.paths) == ["ACCEPT", "DROP"]
    assert "DROP if iif = br0 (its own nf_call_iptables is on)" in format_trace(either)
    six = Ruleset([parse_iptables(BRIDGED, family=Family.INET6)], host=Host.from_text(
        "2: br0: <UP> mtu 1500\n    bridge nf_call_iptables 1 nf_call_ip6tables 0\n", None,
        "net.bridge.bridge-nf-call-ip6tables = 0\n"))
    (path,) = trace(six, parse_packet("udp [2001:db8::1]:5 -> [2001:db8::2]:53 iif=br0 oif=br0 "
                                      "physin=veth1 physout=veth2 bridged=1"), "forward").paths
    assert path.verdict == "ACCEPT" and path.state.stopped is not None  # its ip6tables switch
