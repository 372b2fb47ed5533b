"""The seed scenario: an AKS node running Calico network policy and kube-proxy (iptables mode).

A pod in namespace `ingress` (10.13.76.19, host side `calid3b581beed8`) accepts TCP 8080 only
from kube-system pods, through policy chain `cali-pi-_FSXf14qKl1ZqjRcvUXU` and the 15-member
set `cali40s:d0vaXDV0OjdKq6czssWe9SI`. A SYN from 10.13.76.26 (namespace default, on
`cali17b90f98476`) is dropped by "Drop if no policies passed packet" in
`cali-tw-calid3b581beed8`; the same SYN from 10.13.76.17 (kube-system) is marked 0x10000 by the
policy chain and accepted. The dumps in corpora/seed/ are what the real tools print for this
node; this module is the scenario's single source of facts (addresses, interfaces, rules).
"""

from __future__ import annotations

from .calico import CalicoNode, Policy, PolicyRule, Workload, pool_sets
from .calico import render as render_calico
from .ipsets import SetSpec, render_save
from .kube_proxy import Endpoint, ServicePort, node_jumps
from .kube_proxy import render as render_kube_proxy
from .naming import calico_set_name
from .ruleset import Ruleset

__all__ = [
    "CLIENT_DEFAULT",
    "CLIENT_KUBE_SYSTEM",
    "CLUSTER_CIDR",
    "GATEWAY",
    "KUBE_SYSTEM_SET",
    "NODE",
    "NODE_IP",
    "NODE_PREFIX",
    "ORDERS_API",
    "POLICIES",
    "POLICY_CHAIN",
    "SERVER",
    "SERVICES",
    "SERVICE_CIDR",
    "WORKLOADS",
    "ipset_text",
    "restore_text",
    "ruleset",
]

NODE_IP = "10.224.0.4"
NODE_PREFIX = 16
GATEWAY = "10.224.0.1"
CLUSTER_CIDR = "10.13.0.0/16"
SERVICE_CIDR = "10.0.0.0/16"
POLICY_CHAIN = "cali-pi-_FSXf14qKl1ZqjRcvUXU"
KUBE_SYSTEM_SET_NAME = "cali40s:d0vaXDV0OjdKq6czssWe9SI"
_NET = "10.13.76."


def _ks(pod: str, host: int, sa: str, iface: str = "") -> Workload:
    return Workload("kube-system", pod, f"{_NET}{host}", sa, iface)


SERVER = Workload("ingress", "ingress-nginx-controller-7d9f8c6b5-x2vqk", f"{_NET}19",
                  iface="calid3b581beed8")
CLIENT_DEFAULT = Workload("default", "web-client-5f7c9d8b6d-8k2lm", f"{_NET}26",
                          iface="cali17b90f98476")
CLIENT_KUBE_SYSTEM = _ks("ama-metrics-7c9d8b6f5-zr4kq", 17, "ama-metrics-serviceaccount")

_KUBE_SYSTEM = (
    _ks("coredns-6d8b7c9f4-2xkqp", 7, "coredns"),
    _ks("coredns-6d8b7c9f4-h7vzn", 9, "coredns"),
    _ks("coredns-autoscaler-5d9c7b8f6-qm4tl", 10, "coredns-autoscaler"),
    _ks("konnectivity-agent-7f8d6c5b9-jx2rw", 12, "konnectivity-agent"),
    _ks("konnectivity-agent-7f8d6c5b9-pl9sd", 13, "konnectivity-agent"),
    _ks("metrics-server-5c8b6d7f9-4kz8n", 14, "metrics-server"),
    _ks("metrics-server-5c8b6d7f9-wq7tm", 15, "metrics-server"),
    CLIENT_KUBE_SYSTEM,
    _ks("ama-metrics-ksm-6b8d9c7f5-m5vxp", 20, "ama-metrics-ksm"),
    _ks("ama-logs-rs-6b9f7c8d5-t2xbm", 24, "ama-logs"),
    _ks("keda-operator-8d7c6b5f9-lk3wz", 25, "keda-operator"),
    _ks("keda-operator-metrics-apiserver-6f5d8c7b9-q8rjn", 27, "keda-operator"),
    _ks("keda-admission-webhooks-7b6c9d8f5-v4xts", 29, "keda-webhook"),
    _ks("azure-policy-5f8c7d6b9-n2hkm", 32, "azure-policy"),
    _ks("azure-policy-webhook-6c7d8b9f5-z9pqw", 34, "azure-policy-webhook"),
)
ORDERS_API = Workload("default", "orders-api-6f9c8d7b5-r7mzk", f"{_NET}28", "orders-api")
WORKLOADS = (
    Workload("calico-system", "calico-kube-controllers-7b9d6c8f5-bx4lt", f"{_NET}5",
             "calico-kube-controllers"),
    *_KUBE_SYSTEM, SERVER, CLIENT_DEFAULT, ORDERS_API,
)

KUBE_SYSTEM_SET = SetSpec(KUBE_SYSTEM_SET_NAME, members=tuple(w.ip for w in _KUBE_SYSTEM),
                          maxelem=1048576)
_WEB_CLIENTS_SET = SetSpec(
    calico_set_name("s", "projectcalico.org/namespace == 'default' && app == 'web-client'"),
    members=(CLIENT_DEFAULT.ip,), maxelem=1048576)

POLICIES = (
    Policy("ingress", "allow-kube-system", "ingress",
           (PolicyRule("allow", "tcp", (8080,), src_set=KUBE_SYSTEM_SET.name),),
           chain=POLICY_CHAIN),
    Policy("kube-system", "konnectivity-agent", "egress", (PolicyRule("allow"),),
           pods=tuple(w.pod for w in _KUBE_SYSTEM if w.pod.startswith("konnectivity"))),
    Policy("default", "orders-api-from-web", "ingress",
           (PolicyRule("allow", "tcp", (8080,), src_set=_WEB_CLIENTS_SET.name),),
           pods=(ORDERS_API.pod,)),
)

NODE = CalicoNode(WORKLOADS, POLICIES, (KUBE_SYSTEM_SET, _WEB_CLIENTS_SET),
                  pools=(CLUSTER_CIDR,))


def _ep(w: Workload, port: int) -> Endpoint:
    return Endpoint(w.ip, port)


_COREDNS = _KUBE_SYSTEM[:2]
SERVICES = (
    ServicePort("default", "kubernetes", "https", "10.0.0.1", 443,
                (Endpoint("10.224.0.250", 443, local=False),)),
    ServicePort("kube-system", "kube-dns", "dns", "10.0.0.10", 53,
                tuple(_ep(w, 53) for w in _COREDNS), protocol="udp"),
    ServicePort("kube-system", "kube-dns", "dns-tcp", "10.0.0.10", 53,
                tuple(_ep(w, 53) for w in _COREDNS)),
    ServicePort("kube-system", "metrics-server", "", "10.0.151.214", 443,
                tuple(_ep(w, 4443) for w in _KUBE_SYSTEM[5:7])),
    ServicePort("ingress", "ingress-nginx-controller", "http", "10.0.88.140", 80,
                (_ep(SERVER, 8080),), node_port=31380, lb_ips=("203.0.113.40",), local=True,
                health_check_node_port=32150),
    ServicePort("ingress", "ingress-nginx-controller", "https", "10.0.88.140", 443,
                (_ep(SERVER, 8443),), node_port=31443, lb_ips=("203.0.113.40",), local=True,
                health_check_node_port=32150),
    ServicePort("default", "orders-api", "http", "10.0.212.17", 80, (_ep(ORDERS_API, 8080),),
                affinity_seconds=10800),
    ServicePort("default", "legacy-billing", "http", "10.0.34.201", 80),
)

_MASQ = "ip-masq-agent: "


def ruleset() -> Ruleset:
    """The node's whole ruleset: kubelet and kube-proxy first, then what AKS adds, then
    felix, which puts its jumps above everyone else's (ChainInsertMode: insert)."""
    rs = Ruleset()
    for table in ("filter", "nat", "mangle", "raw"):  # the order the node first touched them
        rs.table(table)
    node_jumps(rs)
    render_kube_proxy(SERVICES, cluster_cidr=CLUSTER_CIDR, ruleset=rs)
    rs.table("filter").append("FORWARD", "-d 168.63.129.16/32 -p tcp -m tcp --dport 80 -j DROP")
    nat = rs.table("nat")
    nat.append("POSTROUTING", f'-m comment --comment "{_MASQ}ensure nat POSTROUTING directs all '
               'non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! '
               "--dst-type LOCAL -j IP-MASQ-AGENT")
    for net in (CLUSTER_CIDR, f"{NODE_IP.rsplit('.', 2)[0]}.0.0/{NODE_PREFIX}", SERVICE_CIDR):
        nat.append("IP-MASQ-AGENT", f'-d {net} -m comment --comment "{_MASQ}local traffic is '
                   'not subject to MASQUERADE" -j RETURN')
    nat.append("IP-MASQ-AGENT", f'-m comment --comment "{_MASQ}outbound traffic is subject to '
               'MASQUERADE (must be last in chain)" -j MASQUERADE')
    render_calico(NODE, rs)
    return rs


def restore_text() -> str:
    """iptables-restore input that builds the node (tables in the order the node made them)."""
    return ruleset().restore()


def ipset_text() -> str:
    """`ipset restore` input for the node's sets."""
    return render_save([*pool_sets(NODE.pools), *NODE.sets])
