"""The set match on real packets: iptables rules `-m set --match-set NAME FLAGS` in one
namespace count UDP packets sent from another over a veth pair, and match_packet must count
the same (direction flags, nomatch and --return-nomatch, interfaces, MACs, list:set)."""

from __future__ import annotations

import re
import time

import pytest

from iptparse.ipset import IpsetDump, PacketFields, match_packet, parse_ipset
from iptparse.sandbox import Netns

pytestmark = pytest.mark.kernel

SENDERS = ["10.9.0.1", "10.9.0.3", "10.9.0.5", "10.9.0.7", "10.9.0.130"]
RECEIVER = "10.9.0.2"
PORTS = [53, 80, 9999]

SETS = """\
create n hash:net
add n 10.9.0.0/24
add n 10.9.0.0/30 nomatch
add n 10.9.0.1
add n 10.9.0.128/25 nomatch
create ipport hash:ip,port
add ipport 10.9.0.3,udp:53
add ipport 10.9.0.2,udp:80
add ipport 10.9.0.5,udp:40001
create ifc hash:net,iface
add ifc 10.9.0.0/24,vb
add ifc 10.9.0.4/30,v wildcard nomatch
add ifc 10.9.0.0/29,eth0
create port bitmap:port range 0-10000
add port 53
add port 9999
create mac bitmap:ip,mac range 10.9.0.0/24
add mac 10.9.0.1,{mac}
add mac 10.9.0.3
add mac 10.9.0.5,00:00:00:00:00:01
create ip hash:ip
add ip 10.9.0.7
create lst list:set
add lst ipport
add lst ip
"""

RULES = [("n", "src", False), ("n", "src", True), ("n", "dst", False),
         ("ipport", "src,dst", False), ("ipport", "dst,dst", False),
         ("ipport", "src,src", False), ("ipport", "src", False),
         ("ifc", "src,src", False), ("ifc", "src,dst", False), ("ifc", "src,src", True),
         ("port", "dst", False), ("port", "src", False),
         ("mac", "src,src", False), ("mac", "src", False),
         ("lst", "src", False), ("lst", "src,dst", False), ("lst", "dst,dst", False)]


def mac_of(ns: Netns, device: str) -> str:
    out = ns.run(["ip", "link", "show", device]).stdout
    m = re.search(r"link/ether ([0-9a-f:]{17})", out)
    assert m is not None, out
    return m.group(1)


def test_set_match_counts_like_match_packet(netns: Netns) -> None:
    receiver = netns
    with Netns("iptp-test") as sender:
        from iptparse.sandbox import run_tool

        run_tool(["ip", "link", "add", "va", "netns", sender.name, "type", "veth", "peer",
                  "name", "vb", "netns", receiver.name])
        for address in SENDERS:
            sender.run(["ip", "addr", "add", f"{address}/24", "dev", "va"])
        receiver.run(["ip", "addr", "add", f"{RECEIVER}/24", "dev", "vb"])
        sender.run(["ip", "link", "set", "va", "up"])
        receiver.run(["ip", "link", "set", "vb", "up"])
        text = SETS.replace("{mac}", mac_of(sender, "va"))
        done = receiver.run(["ipset", "restore"], input=text, check=False)
        assert done.returncode == 0, done.stderr
        rules = "*filter\n:INPUT ACCEPT [0:0]\n" + "".join(
            f"-A INPUT -p udp -m set --match-set {name} {flags}"
            f"{' --return-nomatch' if nomatch else ''}\n" for name, flags, nomatch in RULES
        ) + "COMMIT\n"
        done = receiver.run(["iptables-legacy-restore"], input=rules, check=False)
        assert done.returncode == 0, done.stderr
        # wait for the link (bounded), then send one datagram per source and port
        for _ in range(50):
            if "state UP" in receiver.run(["ip", "link", "show", "vb"]).stdout:
                break
            time.sleep(0.1)
        script = ("import socket\n"
                  f"for i, src in enumerate({SENDERS!r}):\n"
                  f"    for port in {PORTS!r}:\n"
                  "        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "        s.bind((src, 40000 + i))\n"
                  f"        s.sendto(b'x', ({RECEIVER!r}, port))\n"
                  "        s.close()\n")
        sender.run(["python3", "-c", script])
        time.sleep(0.3)
        counts = receiver.run(["iptables-legacy", "-L", "INPUT", "-v", "-n", "-x"]).stdout
        kernel = [int(line.split()[0]) for line in counts.splitlines()[2:] if line.strip()]
        receiver.run(["iptables-legacy", "-F"], check=False)

        dump: IpsetDump = parse_ipset(text)
        sender_mac = int(mac_of(sender, "va").replace(":", ""), 16)
        receiver_mac = int(mac_of(receiver, "vb").replace(":", ""), 16)
        packets = [PacketFields("inet", _ip(src), _ip(RECEIVER), 17, 40000 + i, port,
                                src_mac=sender_mac, dst_mac=receiver_mac, in_iface="vb")
                   for i, src in enumerate(SENDERS) for port in PORTS]
        ours = [sum(match_packet(dump[name], p, flags.split(","), resolver=dump.get,
                                 return_nomatch=nomatch) for p in packets)
                for name, flags, nomatch in RULES]
        assert kernel == ours, list(zip(RULES, kernel, ours, strict=True))
        assert any(ours) and not all(ours)


def _ip(text: str) -> int:
    return int.from_bytes(bytes(int(x) for x in text.split(".")), "big")
