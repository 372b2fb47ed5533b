"""A Calico node (felix in iptables mode, v3.2x) as data, and its iptables-save / ipset text.

`render` turns a `CalicoNode` (workloads, network policies, the ipsets their selectors became)
into the rules felix programs: the static chains of the raw, mangle, nat and filter tables, the
workload dispatch tree (`cali-from-wl-dispatch-d` when two interfaces share `calid`), one
`cali-fw-*`/`cali-tw-*` chain per workload with its policies and profiles, and the policy and
profile chains. Rules are written in the order iptables-save prints their parts, so the result
is exactly what `iptables-legacy-save` prints after loading it (checked by the kernel tests).
`generate` makes a random node of any size for tests and benchmarks.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Literal

from ._calico_chains import render_filter, render_static
from ._felix import Felix
from .ipsets import SetSpec, render_save
from .naming import calico_chain_name, calico_iface, calico_set_name
from .ruleset import Ruleset

__all__ = [
    "CalicoNode",
    "Policy",
    "PolicyRule",
    "Workload",
    "generate",
    "pool_sets",
    "random_node",
    "render",
    "render_sets",
]

Direction = Literal["ingress", "egress"]


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod with its host-side veth (computed from namespace and pod name when not given)."""

    namespace: str
    pod: str
    ip: str
    service_account: str = "default"
    iface: str = ""

    @property
    def interface(self) -> str:
        return self.iface or calico_iface(self.namespace, self.pod)

    @property
    def profiles(self) -> tuple[str, str]:
        """The namespace and service-account profiles every Kubernetes pod gets."""
        return (f"kns.{self.namespace}", f"ksa.{self.namespace}.{self.service_account}")


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One rule of a policy: what it matches and whether it allows or denies."""

    action: Literal["allow", "deny"] = "allow"
    protocol: str | None = None
    ports: tuple[int, ...] = ()
    src_set: str | None = None
    dst_set: str | None = None
    src_net: str | None = None
    dst_net: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """A Kubernetes NetworkPolicy as felix sees it (`namespace/knp.default.<name>`).

    It applies to the pods named in `pods` (all pods of `namespace` when empty). `chain`
    overrides the computed `cali-pi-`/`cali-po-` chain name.
    """

    namespace: str
    name: str
    direction: Direction
    rules: tuple[PolicyRule, ...]
    pods: tuple[str, ...] = ()
    chain: str = ""

    @property
    def chain_name(self) -> str:
        prefix = "cali-pi-" if self.direction == "ingress" else "cali-po-"
        return self.chain or calico_chain_name(prefix, f"{self.namespace}/knp.default.{self.name}")

    def selects(self, w: Workload) -> bool:
        return w.namespace == self.namespace and (not self.pods or w.pod in self.pods)


@dataclass(frozen=True, slots=True)
class CalicoNode:
    """What felix needs to render a node: its workloads, the policies, the selector sets."""

    workloads: tuple[Workload, ...]
    policies: tuple[Policy, ...] = ()
    sets: tuple[SetSpec, ...] = ()
    pools: tuple[str, ...] = ("10.244.0.0/16",)


def pool_sets(pools: tuple[str, ...]) -> tuple[SetSpec, ...]:
    """The two sets felix keeps for its IP pools (used by the nat-outgoing rule)."""
    return tuple(SetSpec(name, "hash:net", members=pools, maxelem=1048576)
                 for name in ("cali40all-ipam-pools", "cali40masq-ipam-pools"))


def render(node: CalicoNode, ruleset: Ruleset | None = None) -> Ruleset:
    """Add the node's Calico rules to `ruleset` (a new one by default) and return it."""
    rs = ruleset if ruleset is not None else Ruleset()
    felix = Felix(rs)
    render_static(felix)
    render_filter(felix, node.workloads, node.policies)
    return rs


def render_sets(node: CalicoNode) -> str:
    """The node's sets as `ipset save` prints them: pools first, then selector sets."""
    return render_save([*pool_sets(node.pools), *node.sets])


# --- random nodes ----------------------------------------------------------------------------

_NAMESPACES = ("default", "kube-system", "payments", "web", "monitoring", "ingress", "batch")
_APPS = ("api", "web", "worker", "cache", "db-proxy", "frontend", "exporter", "scheduler",
         "auth", "search", "billing", "queue")
_PORTS = (80, 443, 5432, 6379, 8080, 8443, 9090, 9093, 3000, 53)
_HASH = "bcdfghjklmnpqrstvwxz2456789"


def _pod_name(rng: random.Random, app: str) -> str:
    rs = "".join(rng.choice(_HASH) for _ in range(10))
    return f"{app}-{rs}-{''.join(rng.choice(_HASH) for _ in range(5))}"


def _random_rule(rng: random.Random, direction: Direction, set_key: str,
                 sets: list[SetSpec]) -> PolicyRule:
    """One allow/deny rule whose peer is a set of pod addresses (sometimes a CIDR)."""
    peer: dict[str, str]
    if rng.random() < 0.75:
        members = tuple(sorted({str(ipaddress.IPv4Address(0x0AF40000 | rng.getrandbits(16)))
                                for _ in range(rng.randint(1, 40))}))
        name = calico_set_name("s", set_key)
        sets.append(SetSpec(name, members=members, maxelem=1048576))
        peer = {"src_set": name} if direction == "ingress" else {"dst_set": name}
    else:
        net = f"{rng.choice((10, 172, 192))}.{rng.randrange(256)}.0.0/16"
        peer = {"src_net": net} if direction == "ingress" else {"dst_net": net}
    proto = rng.choice(("tcp", "tcp", "udp", None))
    ports = tuple(sorted(rng.sample(_PORTS, rng.randint(1, 3)))) if proto else ()
    return PolicyRule("deny" if rng.random() < 0.15 else "allow", proto, ports, **peer)


def generate(workloads: int, policies: int, seed: int = 0) -> tuple[str, str]:
    """(iptables-save text, ipset save text) of a random Calico node (`random_node`)."""
    node = random_node(workloads, policies, seed)
    return render(node).save(), render_sets(node)


def random_node(workloads: int, policies: int, seed: int = 0) -> CalicoNode:
    """A random Calico node: what `generate` renders, with its pods' addresses and interfaces.

    `workloads` pods get addresses from one /24 of 10.244.0.0/16 (chosen by the seed);
    `policies` network policies, each in a namespace that has pods on the node (felix only
    renders policies that apply to a local pod, and only the sets those policies use), select
    some or all pods of their namespace and allow or deny traffic from (ingress) or to
    (egress) a set of pod addresses, cluster-wide, or a CIDR.
    """
    if workloads < 0 or policies < 0:
        raise ValueError("workloads and policies must be >= 0")
    if policies and not workloads:
        raise ValueError("policies need at least one workload to apply to")
    rng = random.Random(f"calico:{seed}")
    block = ipaddress.IPv4Network(f"10.244.{rng.randrange(256)}.0/24")
    hosts = list(block.hosts())[1:]
    if workloads > len(hosts):
        raise ValueError(f"at most {len(hosts)} workloads fit in a node's /24")
    pods = tuple(
        Workload(ns, _pod_name(rng, rng.choice(_APPS)), str(hosts[i]),
                 service_account=rng.choice(("default", "default", "app")))
        for i, ns in enumerate(rng.choice(_NAMESPACES) for _ in range(workloads))
    )
    sets: list[SetSpec] = []
    pols: list[Policy] = []
    for i in range(policies):
        ns = rng.choice(sorted({w.namespace for w in pods}))
        local = [w.pod for w in pods if w.namespace == ns]
        chosen = tuple(sorted(rng.sample(local, rng.randint(1, len(local))))) \
            if rng.random() < 0.6 else ()
        direction: Direction = "ingress" if rng.random() < 0.7 else "egress"
        rules = tuple(_random_rule(rng, direction, f"{seed}/{i}/{k}", sets)
                      for k in range(rng.randint(1, 3)))
        pols.append(Policy(ns, f"policy-{i}", direction, rules, chosen))
    return CalicoNode(pods, tuple(pols), tuple(sets), pools=("10.244.0.0/16",))
