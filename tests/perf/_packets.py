"""Concrete packets for differential tests: every field a rule of the test rulesets reads.

Values come from the addresses, ports, interfaces and marks the rulesets use, plus a few no rule
names, so that packets meet rules, miss them and fall through to policies.
"""

from __future__ import annotations

import random
import re

from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet

_ADDRESS = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?:/(\d+))?")
_PORT = re.compile(r"--(?:dport|sport|dports|sports|destination-port|source-port) (\d+)")
_IFACE = re.compile(r" -[io] (\S+)")


def vocabulary(text: str) -> tuple[list[str], list[int], list[str]]:
    """Addresses (an address inside each prefix), ports and interface names of a dump."""
    rng = random.Random(len(text))
    addresses = set()
    for address, length in _ADDRESS.findall(text):
        parts = [int(p) for p in address.split(".")]
        if any(p > 255 for p in parts):
            continue
        value = int.from_bytes(bytes(parts), "big")
        bits = 32 - int(length or 32)
        if 0 < bits <= 24:
            value |= rng.getrandbits(bits)
        addresses.add(".".join(str(b) for b in value.to_bytes(4, "big")))
    ports = sorted({int(p) for p in _PORT.findall(text)} | {22, 80, 443, 53, 40000})
    ifaces = sorted({i.rstrip("+") + ("0" if i.endswith("+") else "")
                     for i in _IFACE.findall(text)} | {"eth0", "lo"})
    return sorted(addresses | {"192.0.2.7", "10.1.2.3"}), ports, ifaces


def packets(text: str, count: int, seed: int, *, extra: str = "") -> list[Packet]:
    """`count` exact IPv4 packets drawn from the dump's own values."""
    addresses, ports, ifaces = vocabulary(text)
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        proto = rng.choice(["tcp", "tcp", "udp", "icmp"])
        src, dst = rng.choice(addresses), rng.choice(addresses)
        ends = (f"{src}:{rng.choice(ports)} -> {dst}:{rng.choice(ports)}" if proto != "icmp"
                else f"{src} -> {dst} icmp_type=8 icmp_code=0")
        fields = [
            f"iif={rng.choice(ifaces)}", f"oif={rng.choice(ifaces)}",
            f"ctstate={rng.choice(['NEW', 'NEW', 'ESTABLISHED', 'RELATED', 'INVALID'])}",
            f"mark={rng.choice(['0x0', '0x4000', '0x1', '0x10'])}",
            f"ctmark={rng.choice(['0x0', '0x2', '0x4000'])}", "ctstatus=0", "ctdir=ORIGINAL",
            f"ttl={rng.choice([1, 2, 64])}", f"tos={rng.choice([0, 0xb8])}",
            f"length={rng.choice([60, 1500])}", f"tcp_flags={rng.choice(['SYN', 'ACK'])}",
            "tcp_options=0x4", f"pkttype={rng.choice(['unicast', 'broadcast'])}",
            "uid=0", "gid=0", "socket_file=1", "src_mac=0x020000000001",
        ]
        out.append(parse_packet(f"{proto} {ends} {' '.join(fields)} {extra}", Family.INET))
    return out
