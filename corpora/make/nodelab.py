"""A Calico node built for real in network namespaces, wired the way Calico wires it.

One namespace is the node: it holds the rules and sets, `eth0` with the node address (its
peer sits in a namespace standing for the cloud network, holding only the gateway address, so
nothing is ever routed to the host), and one `cali*` veth per pod with Calico's conventions:
MAC ee:ee:ee:ee:ee:ee, proxy_arp on and proxy_delay 0, a /32 route to the pod. Each pod is its
own namespace with `eth0` holding the pod address as a /32 and a default route via
169.254.1.1, which the node answers by proxy ARP. Forwarding is on and rp_filter off, so only
the rules decide. Used by corpora/make/seed.py (routes.txt, addrs.txt) and by the seed kernel
test, which sends real TCP connections between pods.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from _common import Namespace

__all__ = ["NodeLab", "Pod"]

CALICO_MAC = "ee:ee:ee:ee:ee:ee"
ETH0_MAC = "00:22:48:6e:1a:3c"

_CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
s.close()
"""

_LISTEN = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    try:
        c, _ = s.accept()
        c.close()
    except OSError:
        pass
"""


@dataclass(frozen=True, slots=True)
class Pod:
    iface: str
    ip: str
    ns: Namespace


class NodeLab:
    """`with NodeLab(workloads, ...) as lab:` builds everything; leaving the block deletes it.

    `workloads` are (host-side interface, pod address) pairs. `tag` is appended to every
    namespace name: empty for the corpus script (so `ip addr` shows stable `cni-...` names),
    unique per run in tests.
    """

    def __init__(self, workloads: Sequence[tuple[str, str]], *, node_ip: str, prefix: int,
                 gateway: str, tag: str = "") -> None:
        self.workloads = list(workloads)
        self.node_ip, self.prefix, self.gateway = node_ip, prefix, gateway
        self.node = Namespace(f"aks-node{tag}")
        self.vnet = Namespace(f"azure-vnet{tag}")
        self.pods: dict[str, Pod] = {}
        self._made: list[Namespace] = []
        self._tag = tag

    def __enter__(self) -> NodeLab:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for ns in reversed(self._made):
            ns.close()
        self._made.clear()

    def _enter(self, ns: Namespace) -> Namespace:
        ns.__enter__()
        self._made.append(ns)
        return ns

    def _build(self) -> None:
        node, vnet = self._enter(self.node), self._enter(self.vnet)
        # no duplicate address detection: link-local addresses are final at once, so that
        # `ip addr` prints no transient "tentative" flags
        node.sysctl(net__ipv4__ip_forward=1, net__ipv4__conf__all__rp_filter=0,
                    net__ipv4__conf__default__rp_filter=0, net__ipv6__conf__all__accept_dad=0,
                    net__ipv6__conf__default__accept_dad=0)
        node.run(["ip", "link", "add", "eth0", "address", ETH0_MAC, "type", "veth", "peer",
                  "name", "eth0", "netns", vnet.name])
        vnet.run(["ip", "addr", "add", f"{self.gateway}/{self.prefix}", "dev", "eth0"])
        vnet.run(["ip", "link", "set", "eth0", "up"])
        node.run(["ip", "addr", "add", f"{self.node_ip}/{self.prefix}", "brd", "+", "dev",
                  "eth0", "metric", "100"])
        node.run(["ip", "link", "set", "eth0", "up"])
        dhcp = ["via", self.gateway, "dev", "eth0", "proto", "dhcp", "src", self.node_ip,
                "metric", "100"]
        for dest in ("default", "168.63.129.16", "169.254.169.254"):
            node.run(["ip", "route", "add", dest, *dhcp])
        for iface, ip in self.workloads:
            name = f"cni-{uuid.uuid5(uuid.NAMESPACE_DNS, iface)}{self._tag}"
            pod = self._enter(Namespace(name))
            pod.sysctl(net__ipv4__conf__all__rp_filter=0)
            node.run(["ip", "link", "add", iface, "address", CALICO_MAC, "type", "veth",
                      "peer", "name", "eth0", "netns", pod.name])
            node.sysctl(**{f"net__ipv4__conf__{iface}__proxy_arp": 1,
                           f"net__ipv4__neigh__{iface}__proxy_delay": 0})
            node.run(["ip", "link", "set", iface, "up"])
            node.run(["ip", "route", "add", ip, "dev", iface, "scope", "link"])
            pod.run(["ip", "addr", "add", f"{ip}/32", "dev", "eth0"])
            pod.run(["ip", "link", "set", "eth0", "up"])
            pod.run(["ip", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"])
            pod.run(["ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"])
            self.pods[ip] = Pod(iface, ip, pod)

    def load(self, rules: str, sets: str) -> None:
        """Sets first (rules refer to them), then the rules, with the real tools."""
        self.node.run(["ipset", "restore"], input=sets)
        self.node.run(["iptables-legacy-restore"], input=rules)

    def listen(self, ip: str, port: int, seconds: float) -> subprocess.Popen[str]:
        """A TCP listener in the pod with address `ip`, gone after `seconds` at most."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.pods[ip].ns.name, sys.executable, "-c", _LISTEN, ip,
             str(port), str(seconds)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise RuntimeError(f"listener on {ip}:{port} did not start")
        return proc

    def connect(self, src: str, dst: str, port: int, timeout: float) -> bool:
        """Whether a TCP connection from the pod `src` to `dst:port` completes in time."""
        result = self.pods[src].ns.run(
            [sys.executable, "-c", _CONNECT, dst, str(port), str(timeout)], check=False,
            timeout=timeout + 30)
        return result.returncode == 0
