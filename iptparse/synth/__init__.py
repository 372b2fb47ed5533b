"""Synthetic rulesets in the exact shapes real programs write, for tests and benchmarks.

Pure functions of their arguments and a seed (no I/O): `kube_proxy.generate` (kube-proxy's
iptables-restore input), `calico.generate` (a Calico node's iptables-save and ipset save text),
`ipsets.generate` (`ipset save` text of any size), and `seed`, the project's reference scenario.
The kernel tests in tests/corpora check that the real tools load all of them.
"""

from __future__ import annotations

from . import calico, ipsets, kube_proxy, seed

__all__ = ["calico", "ipsets", "kube_proxy", "seed"]
