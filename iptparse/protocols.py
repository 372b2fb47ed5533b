"""IP protocol names and numbers, as iptables reads and prints them.

iptables-save prints `-p` with getprotobynumber() (the netbase /etc/protocols that Debian and
most distributions ship), falling back to its own small table; -p accepts a number, any name or
alias from either, in any letter case. A copy of netbase's table is kept here so formatting does
not depend on the machine it runs on.
"""

from __future__ import annotations

__all__ = ["protocol_name", "protocol_number"]

# (name, number, aliases) from netbase's /etc/protocols
_NETBASE: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ('ip', 0, ('IP',)),
    ('hopopt', 0, ('HOPOPT',)),
    ('icmp', 1, ('ICMP',)),
    ('igmp', 2, ('IGMP',)),
    ('ggp', 3, ('GGP',)),
    ('ipencap', 4, ('IP-ENCAP',)),
    ('st', 5, ('ST',)),
    ('tcp', 6, ('TCP',)),
    ('egp', 8, ('EGP',)),
    ('igp', 9, ('IGP',)),
    ('pup', 12, ('PUP',)),
    ('udp', 17, ('UDP',)),
    ('hmp', 20, ('HMP',)),
    ('xns-idp', 22, ('XNS-IDP',)),
    ('rdp', 27, ('RDP',)),
    ('iso-tp4', 29, ('ISO-TP4',)),
    ('dccp', 33, ('DCCP',)),
    ('xtp', 36, ('XTP',)),
    ('ddp', 37, ('DDP',)),
    ('idpr-cmtp', 38, ('IDPR-CMTP',)),
    ('ipv6', 41, ('IPv6',)),
    ('ipv6-route', 43, ('IPv6-Route',)),
    ('ipv6-frag', 44, ('IPv6-Frag',)),
    ('idrp', 45, ('IDRP',)),
    ('rsvp', 46, ('RSVP',)),
    ('gre', 47, ('GRE',)),
    ('esp', 50, ('IPSEC-ESP',)),
    ('ah', 51, ('IPSEC-AH',)),
    ('skip', 57, ('SKIP',)),
    ('ipv6-icmp', 58, ('IPv6-ICMP',)),
    ('ipv6-nonxt', 59, ('IPv6-NoNxt',)),
    ('ipv6-opts', 60, ('IPv6-Opts',)),
    ('rspf', 73, ('RSPF', 'CPHB')),
    ('vmtp', 81, ('VMTP',)),
    ('eigrp', 88, ('EIGRP',)),
    ('ospf', 89, ('OSPFIGP',)),
    ('ax.25', 93, ('AX.25',)),
    ('ipip', 94, ('IPIP',)),
    ('etherip', 97, ('ETHERIP',)),
    ('encap', 98, ('ENCAP',)),
    ('pim', 103, ('PIM',)),
    ('ipcomp', 108, ('IPCOMP',)),
    ('vrrp', 112, ('VRRP',)),
    ('l2tp', 115, ('L2TP',)),
    ('isis', 124, ('ISIS',)),
    ('sctp', 132, ('SCTP',)),
    ('fc', 133, ('FC',)),
    ('mobility-header', 135, ('Mobility-Header',)),
    ('udplite', 136, ('UDPLite',)),
    ('mpls-in-ip', 137, ('MPLS-in-IP',)),
    ('manet', 138, ()),
    ('hip', 139, ('HIP',)),
    ('shim6', 140, ('Shim6',)),
    ('wesp', 141, ('WESP',)),
    ('rohc', 142, ('ROHC',)),
    ('ethernet', 143, ('Ethernet',)),
    ('mptcp', 262, ('MPTCP',)),
)

# libxtables' xtables_chain_protos: accepted even where /etc/protocols lacks them
_XTABLES = (
    ("tcp", 6), ("sctp", 132), ("udp", 17), ("udplite", 136), ("icmp", 1),
    ("icmpv6", 58), ("ipv6-icmp", 58), ("esp", 50), ("ah", 51), ("ipv6-mh", 135),
    ("mh", 135), ("all", 0),
)

_BY_NAME: dict[str, int] = {}
_BY_NUMBER: dict[int, str] = {}
for _name, _num, _aliases in _NETBASE:
    _BY_NUMBER.setdefault(_num, _name)
    for _n in (_name, *_aliases):
        _BY_NAME.setdefault(_n.lower(), _num)
for _name, _num in _XTABLES:
    _BY_NAME.setdefault(_name, _num)
    _BY_NUMBER.setdefault(_num, _name)


def protocol_number(text: str) -> int | None:
    """The number for `-p TEXT` (a number 0-255, or a name in any case), None if unknown."""
    if text.isdigit():
        value = int(text)
        return value if value <= 255 else None
    return _BY_NAME.get(text.lower())


def protocol_name(number: int) -> str | None:
    """The name iptables-save prints for a protocol number, None when it prints the number."""
    if number == 0:
        return None
    return _BY_NUMBER.get(number)
