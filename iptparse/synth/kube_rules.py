"""The rules kube-proxy writes for one service port, in its order and with its spelling.

Kept apart from the data model so that each reads in one sitting. `render_service` follows
kube-proxy's syncProxyRules: the KUBE-SERVICES / KUBE-NODEPORTS entries, the KUBE-SVC chain
(masquerade for off-cluster clients, affinity checks, one jump per endpoint with statistic
probabilities 1/n, 1/(n-1), ... for all but the last), KUBE-EXT / KUBE-FW / KUBE-SVL for
external traffic, and one KUBE-SEP chain per endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .naming import kube_chain_hash, kube_endpoint_chain
from .ruleset import Ruleset, TableRules

if TYPE_CHECKING:
    from .kube_proxy import Endpoint, ServicePort

__all__ = ["render_service", "render_static"]


def _comment(text: str) -> str:
    """kube-proxy quotes a comment only when it has a space in it."""
    return f'-m comment --comment "{text}"' if " " in text else f"-m comment --comment {text}"


def render_static(rs: Ruleset) -> None:
    f = rs.table("filter")
    for chain in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS",
                  "KUBE-PROXY-FIREWALL"):
        f.chain(chain)
    n = rs.table("nat")
    for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        n.chain(chain)
    n.extend("KUBE-POSTROUTING", [
        "-m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-j MARK --xor-mark 0x4000",
        '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
    ])
    n.append("KUBE-MARK-MASQ", "-j MARK --or-mark 0x4000")


def _jumps_to_endpoints(n: TableRules, chain: str, svc: ServicePort,
                        endpoints: tuple[Endpoint, ...]) -> None:
    p = svc.protocol
    if svc.affinity_seconds is not None:
        for ep in endpoints:
            sep = kube_endpoint_chain(svc.key, p, str(ep))
            n.append(chain, f'{_comment(f"{svc.key} -> {ep}")} -m recent --name {sep} --rcheck '
                            f"--seconds {svc.affinity_seconds} --reap -j {sep}")
    for i, ep in enumerate(endpoints):
        sep = kube_endpoint_chain(svc.key, p, str(ep))
        left = len(endpoints) - i
        chance = f"-m statistic --mode random --probability {1.0 / left:0.10f} " if left > 1 \
            else ""
        n.append(chain, f'{_comment(f"{svc.key} -> {ep}")} {chance}-j {sep}')


def _endpoint_chains(n: TableRules, svc: ServicePort) -> None:
    p = svc.protocol
    for ep in svc.endpoints:
        sep = kube_endpoint_chain(svc.key, p, str(ep))
        n.append(sep, f"{_comment(svc.key)} -s {ep.ip} -j KUBE-MARK-MASQ")
        recent = f"-m recent --name {sep} --set " if svc.affinity_seconds is not None else ""
        n.append(sep, f"{_comment(svc.key)} {recent}-m {p} -p {p} -j DNAT --to-destination {ep}")


def _no_endpoints(rs: Ruleset, svc: ServicePort) -> None:
    f = rs.table("filter")
    p = svc.protocol
    why = _comment(f"{svc.key} has no endpoints")
    f.append("KUBE-SERVICES", f"{why} -m {p} -p {p} -d {svc.cluster_ip} --dport {svc.port} "
                              "-j REJECT")
    for ip in (*svc.external_ips, *svc.lb_ips):
        f.append("KUBE-EXTERNAL-SERVICES", f"{why} -m {p} -p {p} -d {ip} --dport {svc.port} "
                                           "-j REJECT")
    if svc.node_port:
        f.append("KUBE-EXTERNAL-SERVICES", f"{why} -m addrtype --dst-type LOCAL -m {p} -p {p} "
                                           f"--dport {svc.node_port} -j REJECT")


def _external(rs: Ruleset, svc: ServicePort, cluster_cidr: str, svc_chain: str,
              ext: str) -> None:
    n = rs.table("nat")
    key = svc.key
    if not svc.local:
        n.append(ext, f'{_comment(f"masquerade traffic for {key} external destinations")} '
                      "-j KUBE-MARK-MASQ")
        n.append(ext, f"-j {svc_chain}")
        return
    svl = "KUBE-SVL-" + kube_chain_hash(key, svc.protocol)
    n.append(ext, f'{_comment(f"pod traffic for {key} external destinations")} '
                  f"-s {cluster_cidr} -j {svc_chain}")
    n.append(ext, f'{_comment(f"masquerade LOCAL traffic for {key} external destinations")} '
                  "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
    n.append(ext, f'{_comment(f"route LOCAL traffic for {key} external destinations")} '
                  f"-m addrtype --src-type LOCAL -j {svc_chain}")
    local = tuple(ep for ep in svc.endpoints if ep.local)
    if local:
        n.append(ext, f"-j {svl}")
        _jumps_to_endpoints(n, svl, svc, local)
    else:  # external traffic would find no endpoint here: dropped before it gets to nat
        f, p = rs.table("filter"), svc.protocol
        why = _comment(f"{key} has no local endpoints")
        for ip in (*svc.external_ips, *svc.lb_ips):
            f.append("KUBE-EXTERNAL-SERVICES",
                     f"{why} -m {p} -p {p} -d {ip} --dport {svc.port} -j DROP")
        if svc.node_port:
            f.append("KUBE-EXTERNAL-SERVICES", f"{why} -m addrtype --dst-type LOCAL -m {p} "
                                               f"-p {p} --dport {svc.node_port} -j DROP")
    if svc.health_check_node_port:
        rs.table("filter").append(
            "KUBE-NODEPORTS", f'{_comment(f"{key} health check node port")} -m tcp -p tcp '
                              f"--dport {svc.health_check_node_port} -j ACCEPT")


def render_service(rs: Ruleset, svc: ServicePort, cluster_cidr: str) -> None:
    """Append one service port's rules to kube-proxy's filter and nat chains."""
    if not svc.endpoints:
        _no_endpoints(rs, svc)
        return
    n = rs.table("nat")
    p, key = svc.protocol, svc.key
    hashed = kube_chain_hash(key, p)
    svc_chain, ext, fw = f"KUBE-SVC-{hashed}", f"KUBE-EXT-{hashed}", f"KUBE-FW-{hashed}"
    n.chain(svc_chain)
    if svc.external:
        n.chain(ext)
    if svc.source_ranges:
        n.chain(fw)
    if svc.local and any(ep.local for ep in svc.endpoints):
        n.chain(f"KUBE-SVL-{hashed}")
    for ep in svc.endpoints:
        n.chain(kube_endpoint_chain(key, p, str(ep)))
    dest = f"-m {p} -p {p} -d {svc.cluster_ip} --dport {svc.port}"
    n.append("KUBE-SERVICES", f'{_comment(f"{key} cluster IP")} {dest} -j {svc_chain}')
    for ip in svc.external_ips:
        n.append("KUBE-SERVICES", f'{_comment(f"{key} external IP")} -m {p} -p {p} -d {ip} '
                                  f"--dport {svc.port} -j {ext}")
    for ip in svc.lb_ips:
        n.append("KUBE-SERVICES", f'{_comment(f"{key} loadbalancer IP")} -m {p} -p {p} '
                                  f"-d {ip} --dport {svc.port} -j "
                                  f"{fw if svc.source_ranges else ext}")
        if svc.source_ranges:
            for cidr in svc.source_ranges:
                n.append(fw, f'{_comment(f"{key} loadbalancer IP")} -s {cidr} -j {ext}')
            n.append(fw, _comment(f"other traffic to {key} will be dropped by "
                                  "KUBE-PROXY-FIREWALL"))
            rs.table("filter").append(
                "KUBE-PROXY-FIREWALL", f'{_comment(f"{key} traffic not accepted by {fw}")} '
                                       f"-m {p} -p {p} -d {ip} --dport {svc.port} -j DROP")
    if svc.node_port:
        n.append("KUBE-NODEPORTS", f"{_comment(key)} -m {p} -p {p} --dport {svc.node_port} "
                                   f"-j {ext}")
    n.append(svc_chain, f'{_comment(f"{key} cluster IP")} {dest} ! -s {cluster_cidr} '
                        "-j KUBE-MARK-MASQ")
    _jumps_to_endpoints(n, svc_chain, svc, svc.endpoints)
    if svc.external:
        _external(rs, svc, cluster_cidr, svc_chain, ext)
    _endpoint_chains(n, svc)
