"""A generated fleet of 200 node folders made from the project's corpora.

Most nodes (the `f2b` pool) are a small host firewall with fail2ban's ipset action
(corpora/fail2ban/ipset): the same rules and sets, captured on different days (other dates in
the `#` lines, other chain counters, some files gzip-compressed or named `rules.v4`). A few of
them are changed on purpose, each in one way the summary must explain; a few are broken; the
rest of the fleet are nodes of other kinds (seed, kube-proxy, Docker, ufw, Calico, fail2ban
multiport), so every corpus is read and evaluated.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import PROJECT_CORPORA

F2B = PROJECT_CORPORA / "fail2ban" / "ipset"

SSH_ACCEPT = "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"
BAN_RULE = ("-A INPUT -p tcp -m multiport --dports 22 -m set --match-set f2b-sshd src -j REJECT "
            "--reject-with icmp-port-unreachable")
WEB_RULE = "-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT"
EXTRA_RULE = "-A INPUT -s 10.9.9.0/24 -j DROP"
BANNED = "198.51.100.23"

#: The packets every node is asked about (path "in").
PACKETS = """\
# the fleet's questions
tcp 198.51.100.23:40000 -> 10.0.0.1:22 ctstate=NEW iif=eth0 id=banned
tcp 10.9.9.9:40000 -> 10.0.0.1:22 ctstate=NEW iif=eth0 id=ssh
{"id": "web", "proto": "tcp", "src": "10.9.9.9", "sport": 40000, "dst": "10.0.0.1", \
"dport": 8080, "ctstate": "NEW", "iif": "eth0"}
tcp 10.7.7.7:40000 -> 10.0.0.1:443 ctstate=NEW iif=eth0 id=https
tcp [2001:db8:4f2::17]:40000 -> [2001:db8::1]:22 ctstate=NEW iif=eth0 id=banned6
tcp 10.9.9.9 -> 10.0.0.1 iif=eth0
"""

ADDRS = "eth0 10.0.0.1/24\neth0 2001:db8::1/64\n"
ROUTES = ("default via 10.0.0.254 dev eth0\n10.0.0.0/24 dev eth0 scope link\n"
          "2001:db8::/64 dev eth0 proto kernel metric 256\n")


@dataclass
class Fleet:
    root: Path
    nodes: list[str] = field(default_factory=list)
    #: node → (kind of difference the summary must report, a text the reason must contain,
    #: the packet that shows it)
    designed: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: node → texts its failure message must contain
    broken: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _write(path: Path, text: str, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def _redate(text: str, n: int) -> str:
    """Another capture of the same rules: other dates, other builtin chain counters."""
    text = re.sub(r"on \w+ \w+ +\d+ [\d:]+ \d+", f"on Mon Jan {1 + n} 10:{n:02d}:00 2024", text)
    return re.sub(r"^(:(?:INPUT|FORWARD|OUTPUT) \w+) \[\d+:\d+\]$", rf"\1 [{n * 7}:{n * 911}]",
                  text, flags=re.M)


def _f2b_node(folder: Path, n: int, v4: str, v6: str, sets: str, style: int) -> None:
    compress = style % 5 == 3
    v4_name = "rules.v4" if style % 7 == 2 else "iptables-save.txt"
    _write(folder / v4_name, _redate(v4, n % 4), compress)
    _write(folder / "ip6tables-save.txt", _redate(v6, n % 4), compress)
    _write(folder / "ipset-save.txt", sets)
    _write(folder / "addrs.txt", ADDRS)
    _write(folder / "routes.txt", ROUTES)


def _copy_corpus(folder: Path, source: Path, names: tuple[str, ...]) -> None:
    for name in names:
        _write(folder / name, (source / name).read_text())


def build(root: Path) -> Fleet:
    fleet = Fleet(root)
    v4 = (F2B / "iptables-save.txt").read_text()
    v6 = (F2B / "ip6tables-save.txt").read_text()
    sets = (F2B / "ipset-save.txt").read_text()
    assert BAN_RULE in v4 and SSH_ACCEPT in v4 and WEB_RULE in v4 and BANNED in sets

    variants: dict[int, tuple[str, str, str, tuple[str, str, str] | None]] = {
        # node number: (v4, v6, sets, (kind, reason text, packet))
        7: (v4.replace(BAN_RULE + "\n", ""), v6, sets, ("missing", BAN_RULE, "banned")),
        19: (v4.replace(":INPUT ACCEPT", ":INPUT DROP"), v6, sets,
             ("policy", "-P INPUT DROP", "web")),
        23: (v4, v6,
             sets.replace(f"add f2b-sshd {BANNED} timeout 599\n", ""),
             ("ipset", f"missing here: {BANNED}", "banned")),
        31: (v4, v6, sets.replace("add f2b-sshd ", "add f2b-sshd 10.9.9.9 timeout 599\n"
                                  "add f2b-sshd ", 1),
             ("ipset", "only here: 10.9.9.9", "ssh")),
        42: (v4.replace(":OUTPUT ACCEPT [0:0]\n", f":OUTPUT ACCEPT [0:0]\n{EXTRA_RULE}\n"),
             v6, sets, ("extra", EXTRA_RULE, "ssh")),
        57: (v4.replace(WEB_RULE, "-A INPUT -p tcp -m multiport --dports 80 -j ACCEPT"), v6,
             sets, ("missing", WEB_RULE, "https")),
    }
    for n in range(150):
        name = f"f2b-{n:03d}"
        folder = root / name
        fleet.nodes.append(name)
        if n in variants:
            a, b, c, designed = variants[n]
            _f2b_node(folder, n, a, b, c, n)
            if designed is not None:
                fleet.designed[name] = designed
        elif n == 90:  # an unparseable line
            bad = v4.replace(SSH_ACCEPT, "-A INPUT -p tcp -m tcp --dport -j ACCEPT")
            _f2b_node(folder, n, bad, v6, sets, 0)
            line = bad.splitlines().index("-A INPUT -p tcp -m tcp --dport -j ACCEPT") + 1
            fleet.broken[name] = (f"{folder}/iptables-save.txt:{line}:", "error")
        elif n == 91:  # no rules file at all
            _write(folder / "ipset-save.txt", sets)
            fleet.broken[name] = ("missing rules file",)
        elif n == 92:  # a set the rules use is not in the ipset file
            no6 = "".join(line + "\n" for line in sets.splitlines() if "f2b-sshd6" not in line)
            _f2b_node(folder, n, v4, v6, no6, 0)
            fleet.broken[name] = (f"{folder}/ip6tables-save.txt:", "f2b-sshd6")
        elif n == 93:  # a corrupt compressed file
            _f2b_node(folder, n, v4, v6, sets, 0)
            (folder / "iptables-save.txt").unlink()
            (folder / "iptables-save.txt.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
            fleet.broken[name] = ("bad gzip data",)
        else:
            _f2b_node(folder, n, v4, v6, sets, n)

    others = [
        ("seed", PROJECT_CORPORA / "seed",
         ("iptables-save.txt", "ipset-list.txt", "routes.txt", "addrs.txt"), 12),
        ("kube", PROJECT_CORPORA / "kube-proxy", ("iptables-save.txt",), 10),
        ("docker", PROJECT_CORPORA / "docker", ("iptables-save.txt", "ip6tables-save.txt"), 8),
        ("ufw", PROJECT_CORPORA / "ufw", ("iptables-save.txt", "ip6tables-save.txt"), 8),
        ("calico", PROJECT_CORPORA / "calico", ("iptables-save.txt", "ipset-save.txt"), 6),
        ("multiport", PROJECT_CORPORA / "fail2ban" / "multiport", ("iptables-save.txt",), 6),
    ]
    for prefix, source, names, count in others:
        for n in range(count):
            name = f"{prefix}-{n:02d}"
            _copy_corpus(root / name, source, names)
            fleet.nodes.append(name)
    assert len(fleet.nodes) == 200
    fleet.nodes.sort()
    return fleet
