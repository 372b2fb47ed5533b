"""Build the seed node (AKS + Calico + kube-proxy) in namespaces and save what the tools print.

Writes corpora/seed/: iptables-save.txt (`iptables-legacy-save -t T` for raw, mangle, nat,
filter, concatenated), ipset-list.txt, ipset-save.txt, routes.txt (`ip route`) and addrs.txt
(`ip addr`) of the node namespace. The scenario itself lives in iptparse/synth/seed.py.
"""

from __future__ import annotations

from _common import save_tables, write
from nodelab import NodeLab

from iptparse.synth import seed

TABLES = ("raw", "mangle", "nat", "filter")


def main() -> None:
    workloads = [(w.interface, w.ip) for w in seed.WORKLOADS]
    with NodeLab(workloads, node_ip=seed.NODE_IP, prefix=seed.NODE_PREFIX,
                 gateway=seed.GATEWAY) as lab:
        lab.load(seed.restore_text(), seed.ipset_text())
        node = lab.node
        write("seed/iptables-save.txt", save_tables(node, TABLES))
        write("seed/ipset-save.txt", node.run(["ipset", "save"]).stdout)
        write("seed/ipset-list.txt", node.run(["ipset", "list"]).stdout)
        write("seed/routes.txt", node.run(["ip", "route"]).stdout)
        write("seed/addrs.txt", node.run(["ip", "addr"]).stdout)


if __name__ == "__main__":
    main()
