"""kube-proxy (iptables mode, v1.28 shape) as data, and the restore text it writes.

kube-proxy writes one `iptables-restore --noflush` input holding its `filter` and `nat` chains
(chain lines first, then rules, arguments in its own order: `-m comment ... -m tcp -p tcp -d IP
--dport N`); the jumps from the builtin chains and the kubelet's chains are installed one by one
with `iptables -I`/`-A`, which `node_jumps` reproduces. Chain names are kube-proxy's own hashes,
so a service generated here gets the chain names kube-proxy would give it.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from .kube_rules import render_service, render_static
from .ruleset import Ruleset

__all__ = ["Endpoint", "ServicePort", "generate", "node_jumps", "node_restore", "render",
           "restore_text"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A backend `ip:port`; `local` says whether it runs on this node (for Local policies)."""

    ip: str
    port: int
    local: bool = True

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One port of a Service, with what kube-proxy needs to write its rules."""

    namespace: str
    name: str
    port_name: str
    cluster_ip: str
    port: int
    endpoints: tuple[Endpoint, ...] = ()
    protocol: str = "tcp"
    node_port: int | None = None
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    local: bool = False  # externalTrafficPolicy: Local
    health_check_node_port: int | None = None
    affinity_seconds: int | None = None  # sessionAffinity: ClientIP

    @property
    def key(self) -> str:
        """kube-proxy's ServicePortName string: `namespace/name:port`."""
        return f"{self.namespace}/{self.name}:{self.port_name}" if self.port_name \
            else f"{self.namespace}/{self.name}"

    @property
    def external(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)


def render(services: tuple[ServicePort, ...] | list[ServicePort], *,
           cluster_cidr: str = "10.244.0.0/16", ruleset: Ruleset | None = None) -> Ruleset:
    """kube-proxy's chains and rules for these services, in the order it writes them."""
    rs = ruleset if ruleset is not None else Ruleset()
    render_static(rs)
    for svc in services:
        render_service(rs, svc, cluster_cidr)
    rs.table("nat").append("KUBE-SERVICES", '-m comment --comment "kubernetes service '
                           'nodeports; NOTE: this must be the last rule in this chain" '
                           "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    rs.table("filter").extend("KUBE-FORWARD", [
        "-m conntrack --ctstate INVALID -j DROP",
        '-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 '
        "-j ACCEPT",
        '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
        "RELATED,ESTABLISHED -j ACCEPT",
    ])
    return rs


def restore_text(services: tuple[ServicePort, ...] | list[ServicePort], *,
                 cluster_cidr: str = "10.244.0.0/16") -> str:
    """Exactly what kube-proxy feeds to `iptables-restore --noflush`: filter, then nat."""
    return render(services, cluster_cidr=cluster_cidr).restore(("filter", "nat"),
                                                               builtins=False)


def node_jumps(rs: Ruleset) -> Ruleset:
    """What the kubelet and kube-proxy add with single iptables commands, as restore rules.

    The jumps from the builtin chains (kube-proxy prepends them, so later ones end up first),
    the canary chains both create in mangle, nat and filter, and the kubelet's KUBE-FIREWALL.
    """
    new = "-m conntrack --ctstate NEW "
    lb = new + '-m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'
    portals = new + '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
    external = (new + '-m comment --comment "kubernetes externally-visible service portals" '
                "-j KUBE-EXTERNAL-SERVICES")
    f = rs.table("filter")
    f.extend("INPUT", [
        lb, '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        external, "-j KUBE-FIREWALL"])
    f.extend("FORWARD", [
        lb, '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD', portals,
        external])
    f.extend("OUTPUT", [lb, portals, "-j KUBE-FIREWALL"])
    f.append("KUBE-FIREWALL",
        '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet '
        'connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')
    n = rs.table("nat")
    for chain in ("PREROUTING", "OUTPUT"):
        n.append(chain, '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES')
    n.append("POSTROUTING",
             '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')
    for table in ("mangle", "nat", "filter"):
        rs.table(table).chain("KUBE-KUBELET-CANARY")
        rs.table(table).chain("KUBE-PROXY-CANARY")
    return rs


def node_restore(services: int, seed: int = 0) -> str:
    """A whole node as one restore text: `generate`'s tables with `node_jumps` merged in
    (declarations first, then rules, per table), what a node holds once kube-proxy and the
    kubelet have run. Benchmarks load it into a namespace; tests parse it."""
    generated = generate(services, seed=seed)
    jumps = node_jumps(Ruleset()).restore(("mangle", "filter", "nat"))
    blocks: dict[str, tuple[list[str], list[str]]] = {}
    for text in (jumps, generated):
        table = ""
        for line in text.splitlines():
            if line.startswith("*"):
                table = line[1:]
                blocks.setdefault(table, ([], []))
            elif line.startswith(":"):
                blocks[table][0].append(line)
            elif line.startswith("-A"):
                blocks[table][1].append(line)
    out = []
    for table, (chains, rules) in blocks.items():
        out += [f"*{table}", *dict.fromkeys(chains), *rules, "COMMIT"]
    return "\n".join(out) + "\n"


# --- random clusters ------------------------------------------------------------------------

_PORTS = (("http", 80, 8080), ("https", 443, 8443), ("grpc", 9000, 9000),
          ("metrics", 9090, 9090), ("", 80, 80), ("redis", 6379, 6379))
_TEAMS = ("pay", "search", "web", "data", "core", "ml", "mobile", "ads", "infra")


def generate(services: int, endpoints: int | tuple[int, int] = (1, 3), seed: int = 0, *,
             cluster_cidr: str = "10.244.0.0/16") -> str:
    """kube-proxy's restore input for `services` random service ports.

    Cluster IPs are distinct addresses of 10.96.0.0/12, endpoints come from `cluster_cidr`,
    each service has `endpoints` backends (or a number drawn from the inclusive range). About
    one in six is a NodePort (until the 30000-32767 range runs out), some of those are
    LoadBalancers (a few with source ranges and externalTrafficPolicy Local), one in twenty
    has ClientIP session affinity, and one in fifty has no endpoints at all.
    """
    if services < 0:
        raise ValueError("services must be >= 0")
    lo, hi = (endpoints, endpoints) if isinstance(endpoints, int) else endpoints
    if lo < 0 or hi < lo:
        raise ValueError("endpoints must be >= 0, or a (low, high) range")
    rng = random.Random(f"kube-proxy:{seed}")
    pod_net = ipaddress.IPv4Network(cluster_cidr)
    cluster_ips = rng.sample(range(1, 2 ** 20 - 1), services)
    node_ports = iter(rng.sample(range(30000, 32768), 32768 - 30000))
    out: list[ServicePort] = []
    for i in range(services):
        port_name, port, target = rng.choice(_PORTS)
        count = 0 if rng.random() < 0.02 else rng.randint(lo, hi)
        eps = tuple(Endpoint(str(pod_net[rng.randrange(2, pod_net.num_addresses - 1)]),
                             target, local=rng.random() < 0.3) for _ in range(count))
        kind = rng.random()
        node_port = next(node_ports, None) if kind < 1 / 6 else None
        lb = node_port is not None and kind < 1 / 18
        local = lb and rng.random() < 0.3
        out.append(ServicePort(
            namespace=rng.choice(_TEAMS), name=f"svc-{i}", port_name=port_name,
            cluster_ip=str(ipaddress.IPv4Address((10 << 24) | (96 << 16) + cluster_ips[i])),
            port=port, endpoints=tuple(sorted({str(e): e for e in eps}.values(), key=str)),
            node_port=node_port,
            lb_ips=(f"203.0.{113 + i % 2}.{i % 250 + 1}",) if lb else (),
            source_ranges=("198.51.100.0/24",) if lb and rng.random() < 0.4 else (),
            local=local, health_check_node_port=next(node_ports, None) if local else None,
            affinity_seconds=10800 if rng.random() < 0.05 else None,
        ))
    return restore_text(out, cluster_cidr=cluster_cidr)
