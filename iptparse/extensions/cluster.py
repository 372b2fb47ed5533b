"""cluster match (libxt_cluster): this node's share of a cluster, by a hash of the connection.

`--cluster-local-node N` is stored as the mask bit 1 << (N-1), so iptables-save always prints
`--cluster-local-nodemask` (in %08x hex), whichever option the rule used.

Semantics (xt_cluster): no connection, no match (`!` or not). Otherwise the node is chosen by
jhash of the original source address of the connection's master (of the connection itself
when it has none) with the rule's seed, scaled to `total_nodes`; it matches when that node's
bit is in the mask, negated by `!`. A NEW connection has no master, so its node is computed
from `ctorigsrc`; for other states the master is unknown: an assumption of kind `cluster`
(holds = the hash picks one of this rule's nodes). The kernel also rewrites a unicast packet's
PACKET_MULTICAST link type to PACKET_HOST; that changes no match here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..jhash import jhash2, jhash_1word
from ..logic import Custom, Not, Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._a_sem import NEW, has_connection, invert_if, states
from ._cnum import U32
from ._pred import conj, disj
from ._xtopt import excl, need, once, xt_uint_arg
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
    """Assumption kind `cluster` (connections not NEW): holds = the connection hashes to one
    of this rule's nodes."""

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
        total = xt_uint_arg(opts["cluster-total-nodes"], 1, NODES_MAX) \
            if "cluster-total-nodes" in opts else 0
        mask = 0
        invert = False
        if "cluster-local-node" in opts:
            arg = opts["cluster-local-node"]
            mask, invert = 1 << (xt_uint_arg(arg, 1, NODES_MAX) - 1), arg.invert
        elif "cluster-local-nodemask" in opts:
            arg = opts["cluster-local-nodemask"]
            mask, invert = xt_uint_arg(arg, 1, NODES_MAX), arg.invert
        seed = xt_uint_arg(opts["cluster-hash-seed"], 0, U32) if "cluster-hash-seed" in opts else 0
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

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, ClusterMatch)
        o = options
        family = ctx.family
        nodes = ",".join(str(n + 1) for n in range(NODES_MAX) if o.node_mask >> n & 1)
        text = f"cluster: the connection hashes to node {nodes} of {o.total_nodes}"
        neg_text = f"cluster: the connection does not hash to node {nodes} of {o.total_nodes}"

        def ours(values: tuple[int | str, ...]) -> bool:
            (address,) = values
            assert isinstance(address, int)
            return bool(o.node_mask >> cluster_node(address, family, o) & 1)

        new = Custom(("ctorigsrc",), ours, ctx.key("cluster"), "cluster", text, neg_text)
        older = ctx.assume("cluster", text, neg_text)
        hashed = disj(conj(states(NEW), new),
                      conj(Not(states(NEW)), older))
        return conj(has_connection(), invert_if(o.invert, hashed))


def cluster_node(address: int, family: Family, options: ClusterMatch) -> int:
    """The node (0-based) xt_cluster picks for a connection's original source address.

    The kernel hashes the address as it lies in memory (network order read as a host-order
    32-bit word; x86 and arm64 hosts are little-endian) and scales the hash to the node count.
    For IPv6 it asks jhash2 for NF_CT_TUPLE_L3SIZE / 4 words, but that constant already counts
    words (4), so only the first 32 bits of the address are hashed: every address of a /32
    lands on the same node (seen on the kernel, see tests).
    """
    first = (address >> (family.bits - 32)).to_bytes(4, "big")
    word = int.from_bytes(first, "little")
    if family is Family.INET:
        value = jhash_1word(word, options.hash_seed)
    else:
        value = jhash2([word], options.hash_seed)
    return (value * options.total_nodes) >> 32
