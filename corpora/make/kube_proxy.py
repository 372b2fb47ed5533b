"""A kube-proxy node (iptables mode) with a dozen services, made with the real tools.

The kubelet and kube-proxy first create their chains and the jumps from the builtin chains
with single `iptables` commands (run here one by one, as they do), then kube-proxy loads its
filter and nat chains with one `iptables-restore --noflush`. Writes corpora/kube-proxy/:
restore-input.txt (that restore input, exactly as kube-proxy writes it) and iptables-save.txt
(`iptables-legacy-save` of the node afterwards).
"""

from __future__ import annotations

from _common import Namespace, write

from iptparse.argv import split_args
from iptparse.synth import kube_proxy
from iptparse.synth.kube_proxy import Endpoint, ServicePort
from iptparse.synth.ruleset import Ruleset

CLUSTER_CIDR = "10.244.0.0/16"


def _eps(port: int, *ips: str, remote: tuple[str, ...] = ()) -> tuple[Endpoint, ...]:
    return (*(Endpoint(ip, port) for ip in ips), *(Endpoint(ip, port, False) for ip in remote))


SERVICES = (
    ServicePort("default", "kubernetes", "https", "10.96.0.1", 443,
                (Endpoint("192.168.49.2", 6443, False),)),
    ServicePort("kube-system", "kube-dns", "dns", "10.96.0.10", 53,
                _eps(53, "10.244.0.2", "10.244.0.3"), protocol="udp"),
    ServicePort("kube-system", "kube-dns", "dns-tcp", "10.96.0.10", 53,
                _eps(53, "10.244.0.2", "10.244.0.3")),
    ServicePort("kube-system", "kube-dns", "metrics", "10.96.0.10", 9153,
                _eps(9153, "10.244.0.2", "10.244.0.3")),
    ServicePort("shop", "frontend", "http", "10.96.41.17", 80,
                _eps(8080, "10.244.1.5", "10.244.2.7", "10.244.3.9"), node_port=30080),
    ServicePort("shop", "checkout", "grpc", "10.96.77.201", 9000,
                _eps(9000, "10.244.1.12", "10.244.2.14"), affinity_seconds=10800),
    ServicePort("shop", "api-gateway", "https", "10.96.130.9", 443,
                _eps(8443, "10.244.1.20", "10.244.3.21"), node_port=31443,
                lb_ips=("198.51.100.10",), source_ranges=("203.0.113.0/24", "192.0.2.0/25")),
    ServicePort("ingress-nginx", "ingress-nginx-controller", "http", "10.96.200.33", 80,
                _eps(80, "10.244.1.30", remote=("10.244.2.31",)), node_port=31080,
                lb_ips=("198.51.100.20",), local=True, health_check_node_port=32000),
    ServicePort("ingress-nginx", "ingress-nginx-controller", "https", "10.96.200.33", 443,
                _eps(443, "10.244.1.30", remote=("10.244.2.31",)), node_port=30443,
                lb_ips=("198.51.100.20",), local=True, health_check_node_port=32000),
    ServicePort("shop", "admin", "http", "10.96.9.88", 80, _eps(8080, remote=("10.244.2.40",)),
                node_port=30088, lb_ips=("198.51.100.30",), local=True,
                health_check_node_port=32001),
    ServicePort("shop", "legacy-reports", "http", "10.96.66.6", 80, node_port=30999),
    ServicePort("monitoring", "prometheus", "web", "10.96.120.5", 9090,
                _eps(9090, "10.244.3.50")),
)


def setup_commands() -> list[list[str]]:
    """The kubelet's and kube-proxy's one-off commands: the chains (their own and the ones
    they jump to, which kube-proxy creates before jumping), then the jumps, table by table."""
    rs = kube_proxy.node_jumps(Ruleset())
    commands: list[list[str]] = []
    for table in ("mangle", "nat", "filter"):
        rules = rs.table(table)
        jumps = {chain: [[a.value for a in split_args(rule)] for rule in rule_list]
                 for chain, rule_list in rules.chains.items()}
        targets = [args[args.index("-j") + 1] for rule_args in jumps.values()
                   for args in rule_args if "-j" in args]
        new = dict.fromkeys([*rules.user_chains(), *(t for t in targets if t.startswith("KUBE-"))])
        commands += [["-t", table, "-N", chain] for chain in new]
        commands += [["-t", table, "-A", chain, *args] for chain, rule_args in jumps.items()
                     for args in rule_args]
    return commands


def main() -> None:
    restore = kube_proxy.restore_text(SERVICES, cluster_cidr=CLUSTER_CIDR)
    with Namespace("kube-proxy-node") as node:
        for argv in setup_commands():
            node.run(["iptables-legacy", "-w", *argv])
        node.run(["iptables-legacy-restore", "--noflush"], input=restore)
        write("kube-proxy/restore-input.txt", restore)
        write("kube-proxy/iptables-save.txt", node.run(["iptables-legacy-save"]).stdout)


if __name__ == "__main__":
    main()
