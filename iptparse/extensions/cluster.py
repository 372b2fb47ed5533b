"""cluster match (libxt_cluster): this node's share of a cluster, by a hash of the connection.

`--cluster-local-node N` is stored as the mask bit 1 << (N-1), so iptables-save always prints
`--cluster-local-nodemask` (in %08x hex), whichever option the rule used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._a_num import U32
from ._a_opts import excl, need, once, uint
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["ClusterMatch"]

NODES_MAX = 32


@dataclass(frozen=True, slots=True)
class ClusterMatch(ExtOptions):
    """True when the connection's hash modulo `total_nodes` is a bit of `node_mask`."""

    total_nodes: int
    node_mask: int
    hash_seed: int
    invert: bool = False


@register
class Cluster(Extension):
    names = ("cluster",)
    options = (
        OptSpec("cluster-total-nodes", 1),
        OptSpec("cluster-local-node", 1, True),
        OptSpec("cluster-local-nodemask", 1, True),
        OptSpec("cluster-hash-seed", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ClusterMatch:
        opts = once(args)
        excl(opts, "cluster-local-node", "cluster-local-nodemask")
        total = uint(opts["cluster-total-nodes"], 1, NODES_MAX) \
            if "cluster-total-nodes" in opts else 0
        mask = 0
        invert = False
        if "cluster-local-node" in opts:
            arg = opts["cluster-local-node"]
            mask, invert = 1 << (uint(arg, 1, NODES_MAX) - 1), arg.invert
        elif "cluster-local-nodemask" in opts:
            arg = opts["cluster-local-nodemask"]
            mask, invert = uint(arg, 1, NODES_MAX), arg.invert
        seed = uint(opts["cluster-hash-seed"], 0, U32) if "cluster-hash-seed" in opts else 0
        complete = "cluster-total-nodes" in opts and "cluster-hash-seed" in opts
        if complete and mask and mask >= 1 << total:
            which = "local-node' must be <=" if "cluster-local-node" in opts else \
                "local-nodemask' too big for"
            raise OptionError(f"`--cluster-{which} `--cluster-total-nodes'")
        if not mask:
            raise OptionError("`--cluster-local-node' or `--cluster-local-nodemask' is missing")
        need(opts, "cluster-total-nodes")
        need(opts, "cluster-hash-seed")
        return ClusterMatch(total, mask, seed, invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ClusterMatch)
        o = options
        return (f"{' !' if o.invert else ''} --cluster-local-nodemask 0x{o.node_mask:08x}"
                f" --cluster-total-nodes {o.total_nodes} --cluster-hash-seed 0x{o.hash_seed:08x}")
