"""`model_packet` against the kernel: every value it claims the lab's packet has, a rule
testing exactly that value must count the packet.

One lab per family; each packet has its own source address and its own block of rules in
mangle PREROUTING (after conntrack), one rule per claimed field, so the block must count 1
everywhere and nothing else may move. This checks the model's fixed fields with modules
whose iptparse semantics are not needed (the kernel alone judges).
"""

from __future__ import annotations

import pytest

from iptparse.extensions.tcpudp import format_tcp_flags
from iptparse.fields import CT_STATES
from iptparse.nodes import Family
from iptparse.sandbox.frames import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.verify.model import LAB_SRC_MAC, model_packet

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

HEAD = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")


def packets(family: Family) -> list[KernelPacket]:
    v4 = family is Family.INET
    icmp = "icmp" if v4 else "icmpv6"
    kinds: list[dict[str, object]] = [
        {"tcp_flags": TCP_SYN}, {"tcp_flags": TCP_ACK | TCP_PSH, "ttl": 3, "tos": 0x10},
        {"tcp_flags": TCP_SYN | TCP_ACK}, {"tcp_flags": TCP_RST}, {"tcp_flags": TCP_FIN},
        {"tcp_flags": 0}, {"tcp_flags": TCP_SYN | 0xC0, "length": 333},
        {"tcp_flags": TCP_SYN, "tcp_options": bytes([2, 4, 5, 0xB4, 1, 3, 3, 7])},
        {"protocol": "udp", "length": 1, "tos": 0xFF}, {"protocol": "udp", "ttl": 255},
        {"protocol": icmp}, {"protocol": icmp, "icmp_type": 0 if v4 else 129},
        {"protocol": icmp, "icmp_type": 3 if v4 else 1, "icmp_code": 1},
        {"protocol": icmp, "icmp_type": 13 if v4 else 135},
        {"protocol": "sctp", "length": 12}, {"protocol": 47},
    ]
    out = []
    for index, extra in enumerate(kinds, 1):
        src, dst = (f"10.77.0.{index}", "10.78.0.1") if v4 else (f"fd77::{index}", "fd78::1")
        args: dict[str, object] = {"src": src, "dst": dst, "iif": "eth0", "oif": "eth1",
                                   "src_mac": LAB_SRC_MAC}
        out.append(KernelPacket(**(args | extra)))  # type: ignore[arg-type]
    return out


def claims(packet: KernelPacket) -> list[str]:
    """One rule per claimed field (after `-s SRC`), in iptables' own syntax."""
    model = model_packet(packet, "forward")

    def value(name: str) -> int:
        found = model.value(name)
        assert isinstance(found, int), name
        return found

    v4 = packet.family is Family.INET
    out = [f"-m length --length {value('length')}",
           f"-m ttl --ttl-eq {value('ttl')}" if v4 else f"-m hl --hl-eq {value('ttl')}",
           f"-m tos --tos {value('tos'):#x}/0xff",
           f"-m conntrack --ctstate {CT_STATES[value('ctstate')]}",
           f"-m mark --mark {value('mark'):#x}",
           "-m pkttype --pkt-type unicast",
           f"-m mac --mac-source {LAB_SRC_MAC}",
           f"-p {value('proto')}"]
    if value("proto") == 6:
        flags = format_tcp_flags(value("tcp_flags") & 0x3F)  # iptables names no ECE, CWR
        out.append(f"-p tcp -m tcp --tcp-flags ALL {flags}")
        kinds = value("tcp_options")
        out += [f"-p tcp -m tcp --tcp-option {k}" for k in range(1, 256) if kinds >> k & 1]
        out += [f"-p tcp -m tcp --sport {value('sport')} --dport {value('dport')}"]
    if value("proto") in (1, 58):
        kind = f"{value('icmp_type')}/{value('icmp_code')}"
        out.append(f"-p icmp -m icmp --icmp-type {kind}" if v4 else
                   f"-p ipv6-icmp -m icmp6 --icmpv6-type {kind}")
    return out


@pytest.mark.parametrize("family", [Family.INET, Family.INET6], ids=["ipv4", "ipv6"])
def test_the_kernel_sees_what_the_model_claims(family: Family) -> None:
    require_kernel()
    sent = packets(family)
    blocks = [(p, claims(p)) for p in sent]
    bits = 32 if family is Family.INET else 128
    lines = [f"-A PREROUTING -s {p.src}/{bits} {rule}\n" for p, rules in blocks for rule in rules]
    starts, number = [], 1
    for _, rules in blocks:
        starts.append(number)
        number += len(rules)
    with Lab(HEAD + "".join(lines) + "COMMIT\n", family, path="forward") as lab:
        for (packet, rules), first in zip(blocks, starts, strict=True):
            result = lab.send(packet)
            expected = {("mangle", "PREROUTING", first + i): 1 for i in range(len(rules))}
            missing = [rules[k[2] - first] for k in expected if k not in result.hits]
            assert not missing, f"{packet}: the kernel did not count {missing}"
            assert result.hits == expected
