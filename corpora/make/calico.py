"""A larger Calico node from the generator (iptparse.synth.calico), through the real tools.

24 workloads and 10 network policies (seed 7): the sets go in with `ipset restore`, the rules
with `iptables-legacy-restore`, and corpora/calico/ receives what the tools print back:
iptables-save.txt (`iptables-legacy-save -t T` for raw, mangle, nat, filter), ipset-save.txt
and ipset-list.txt.
"""

from __future__ import annotations

from _common import Namespace, save_tables, write

from iptparse.synth import calico

WORKLOADS, POLICIES, SEED = 24, 10, 7


def main() -> None:
    rules, sets = calico.generate(WORKLOADS, POLICIES, seed=SEED)
    with Namespace("calico-node") as node:
        node.run(["ipset", "restore"], input=sets)
        node.run(["iptables-legacy-restore"], input=rules)
        write("calico/iptables-save.txt", save_tables(node, ("raw", "mangle", "nat", "filter")))
        write("calico/ipset-save.txt", node.run(["ipset", "save"]).stdout)
        write("calico/ipset-list.txt", node.run(["ipset", "list"]).stdout)


if __name__ == "__main__":
    main()
