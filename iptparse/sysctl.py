"""The kernel settings routing reads on receipt: `sysctl -a` (or `sysctl net.ipv4`) output.

A bridged packet meets the tables only where br_netfilter calls them
(`net.bridge.bridge-nf-call-iptables`, `-ip6tables`). A received packet is forwarded only where
its input interface forwards (`forwarding`; for IPv6 `all.forwarding`, or the interface's
`force_forwarding`), and an IPv4 one's source is validated (fib_validate_source) by
`rp_filter`, `accept_local`, `src_valid_mark` and `send_redirects`; `route_localnet` lets
loopback addresses be routed to and from an interface. No dump holds them; without them
iptparse routes as a host with rp_filter=0, accept_local=1, route_localnet=0 and forwarding on
(the kernel lab's settings), and br_netfilter calling the tables. A file
that leaves out an `all` setting is taken so for it too; one that leaves out an interface's own
(and `default`'s) value, as the kernel makes it (0; send_redirects 1; forwarding `all`'s).

Each setting exists for `all`, `default` and every interface; the kernel combines `all` with
the interface's own: rp_filter takes the larger, accept_local, src_valid_mark, send_redirects
and route_localnet either, forwarding the interface's own (writing `all` sets every interface).
An interface the file does not list takes `default`'s values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .hostfiles import HostError

__all__ = ["Conf", "SysctlError", "Sysctls", "parse_sysctls"]

_KEY6 = re.compile(r"^\s*net\.ipv6\.conf\.([^.\s]+)\.(forwarding|force_forwarding)\s*=\s*"
                   r"(\d+)\s*$")
_KEY = re.compile(r"^\s*net\.ipv4\.conf\.([^.\s]+)\.(\w+)\s*=\s*(.*?)\s*$")
_FORWARD = re.compile(r"^\s*net\.ipv4\.ip_forward\s*=\s*(\d+)\s*$")
_BRIDGE = re.compile(r"^\s*net\.bridge\.bridge-nf-call-(iptables|ip6tables)\s*=\s*(\d+)\s*$")
#: what routing takes for a setting no file gives (as without a file)
ASSUMED = {"forwarding": 1, "rp_filter": 0, "accept_local": 1, "src_valid_mark": 0,
           "send_redirects": 0, "route_localnet": 0}
#: an interface's own value the file does not give: the kernel's default
_KERNEL = {"rp_filter": 0, "accept_local": 0, "src_valid_mark": 0, "send_redirects": 1,
           "route_localnet": 0}
_COMBINE = {"forwarding": "own", "rp_filter": "max", "accept_local": "or",
            "src_valid_mark": "or", "send_redirects": "or", "route_localnet": "or"}


class SysctlError(HostError):
    """A line of sysctl output iptparse cannot read."""


@dataclass(frozen=True, slots=True)
class Conf:
    """One interface's settings as the kernel applies them (`all` combined in)."""

    forwarding: int
    rp_filter: int
    accept_local: int
    src_valid_mark: int
    send_redirects: int
    #: loopback addresses may be routed to and from the interface (kube-proxy sets it for
    #: node ports on localhost; DNAT to 127.0.0.1 needs it)
    route_localnet: int


class Sysctls:
    """The per-interface settings a capture gave: IPv4's, and IPv6's forwarding."""

    def __init__(self, values: dict[tuple[str, str], int],
                 ipv6: dict[tuple[str, str], int] | None = None,
                 bridge: dict[str, int] | None = None) -> None:
        #: (interface, setting) → value; interface `all` and `default` included
        self.values = dict(values)
        #: the same for IPv6's forwarding and force_forwarding
        self.ipv6 = dict(ipv6 or {})
        #: br_netfilter's bridge-nf-call-iptables / -ip6tables ("iptables", "ip6tables")
        self.bridge = dict(bridge or {})
        #: the interfaces the file lists by name
        self.interfaces = frozenset(i for i, _ in self.values if i not in ("all", "default"))
        self.ipv6_interfaces = frozenset(i for i, _ in self.ipv6 if i not in ("all", "default"))
        # routing asks each interface's settings at every decision: made once each
        self._confs: dict[str | None, Conf] = {}
        self._hash = hash((frozenset(self.values.items()), frozenset(self.ipv6.items()),
                           frozenset(self.bridge.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sysctls) and (other.values, other.ipv6, other.bridge) == (
            self.values, self.ipv6, self.bridge)

    def bridge_calls(self, tool: str) -> bool:
        """br_netfilter calls `tool`'s tables (iptables, ip6tables) for bridged packets: as
        without the file unless it says 0 (its keys exist only with br_netfilter loaded, and
        a partial capture may leave them out)."""
        return bool(self.bridge.get(tool, 1))

    def __hash__(self) -> int:
        return self._hash

    def ipv6_forwards(self, interface: str | None) -> bool:
        """IPv6 forwards a packet that came in by `interface` (None: one the file does not
        list): `all.forwarding`, or the interface's `force_forwarding` (ip6_forward)."""
        own = interface if interface in self.ipv6_interfaces else "default"
        return bool(self.ipv6.get(("all", "forwarding"), ASSUMED["forwarding"])
                    or self.ipv6.get((own, "force_forwarding"), 0))

    def conf(self, interface: str | None) -> Conf:
        """The settings of `interface` (None, or one the file does not list: `default`'s)."""
        own = interface if interface in self.interfaces else "default"
        made = self._confs.get(own)
        if made is None:
            made = self._confs[own] = self._combined(own)
        return made

    def _combined(self, own: str) -> Conf:
        values = {}
        for setting, how in _COMBINE.items():
            every = self.values.get(("all", setting))
            mine = self.values.get((own, setting), self.values.get(("default", setting)))
            if mine is None:  # writing `all` writes every interface's forwarding too
                mine = every if how == "own" and every is not None else (
                    ASSUMED[setting] if how == "own" else _KERNEL[setting])
            every = ASSUMED[setting] if every is None else every
            values[setting] = (mine if how == "own" else max(mine, every) if how == "max"
                               else int(bool(mine or every)))
        return Conf(**values)


def parse_sysctls(text: str) -> Sysctls:
    """The settings in `sysctl -a` output (`net.ipv4.conf.IFACE.KEY = VALUE` lines; an
    interface name's dots are printed as slashes, `eth0/100`); other lines are ignored,
    and `net.ipv4.ip_forward` stands for `all.forwarding`."""
    values: dict[tuple[str, str], int] = {}
    ipv6: dict[tuple[str, str], int] = {}
    bridge: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        bridged = _BRIDGE.match(line)
        if bridged:
            bridge[bridged.group(1)] = int(bridged.group(2))
            continue
        v6 = _KEY6.match(line)
        if v6:
            ipv6[v6.group(1).replace("/", "."), v6.group(2)] = int(v6.group(3))
            continue
        forward = _FORWARD.match(line)
        if forward:
            values.setdefault(("all", "forwarding"), int(forward.group(1)))
            continue
        m = _KEY.match(line)
        if m is None or m.group(2) not in _COMBINE:
            continue
        if not re.fullmatch(r"-?\d+", m.group(3)):
            raise SysctlError(f"line {number}: cannot read the setting in `{line.strip()}' "
                              "(give `sysctl -a` output)")
        values[m.group(1).replace("/", "."), m.group(2)] = int(m.group(3))
    return Sysctls(values, ipv6, bridge)
