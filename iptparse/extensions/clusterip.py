"""CLUSTERIP (libipt_CLUSTERIP, IPv4): share an address and a multicast MAC between nodes.

A rule either creates the cluster (`--new` with hash mode, MAC, total and local node, optional
hash init) or joins it (no options); iptables refuses anything in between. The MAC must be a
multicast one and prints in upper case. The target left the kernel in 6.3, so this machine's
kernel cannot load it; the forms here follow libipt_CLUSTERIP.c.

Semantics (ipt_CLUSTERIP.c of kernels before 6.3, read, not run here): a packet without a
connection is dropped; an ICMP error RELATED to a connection goes on untouched. Otherwise the
node number `hash(source address[, ports]) % total + 1` is computed; a NEW connection stores it
as its mark, the packet becomes link-layer unicast, and it goes on only when this node is
responsible for that number, else it is dropped. Which numbers this node answers for can change
at run time (/proc/net/ipt_CLUSTERIP), and the hash's byte order could not be checked against a
kernel, so responsibility is an assumption of kind `clusterip` and the stored mark a fresh value
among the node numbers (1-16 for a rule that joins a cluster made elsewhere).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..fields import PKT_TYPES
from ..logic import And, Not, Test
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect, SetValue
from ._a_sem import NEW, RELATED, has_connection, states
from ._cnum import U32
from ._d_sem import range_bits
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    one_of,
    register,
)

__all__ = ["ClusteripTarget", "HashMode", "parse_mac"]

_MAX_NODES = 16
# An octet as xtables' ethermac reader takes it: at most two characters consumed by strtoul.
_OCTET = re.compile(r"[0-9a-fA-F]{0,2}|[ \t\n\v\f\r+-][0-9a-fA-F]")


class HashMode(enum.Enum):
    SOURCEIP = "sourceip"
    SOURCEIP_SOURCEPORT = "sourceip-sourceport"
    SOURCEIP_SOURCEPORT_DESTPORT = "sourceip-sourceport-destport"


@dataclass(frozen=True, slots=True)
class ClusteripTarget(ExtOptions):
    """`new` False: join an existing cluster (no other field is used)."""

    new: bool = False
    hashmode: HashMode = HashMode.SOURCEIP
    clustermac: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
    total_nodes: int = 0
    local_node: int = 0
    hash_init: int = 0


def parse_mac(arg: OptArg) -> tuple[int, ...]:
    parts = arg.value.split(":")
    if len(parts) != 6 or not all(_OCTET.fullmatch(p) for p in parts):
        raise OptionError(f"Invalid MAC address specified: \"{arg.value}\"",
                          arg.value_column())
    octets = []
    for part in parts:
        text = part.strip()
        value = int(text, 16) if text.lstrip("+-") else 0
        octets.append(value & 0xFF)
    return tuple(octets)


@register
class Clusterip(Extension):
    kind = "target"
    names = ("CLUSTERIP",)
    families = frozenset({Family.INET})
    options = (OptSpec("new", 0), OptSpec("hashmode", 1), OptSpec("clustermac", 1),
               OptSpec("total-nodes", 1), OptSpec("local-node", 1), OptSpec("hash-init", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ClusteripTarget:
        opts = one_of(args)
        if not opts:
            return ClusteripTarget()
        hashmode = HashMode.SOURCEIP
        if "hashmode" in opts:
            arg = opts["hashmode"]
            try:
                hashmode = HashMode(arg.value)
            except ValueError:
                raise OptionError(f"Unknown hashmode \"{arg.value}\"",
                                  arg.value_column()) from None
        mac: tuple[int, ...] = (0,) * 6
        if "clustermac" in opts:
            mac = parse_mac(opts["clustermac"])
            if not mac[0] & 1:
                raise OptionError("MAC has to be a multicast ethernet address",
                                  opts["clustermac"].value_column())
        total = xt_uint_arg(opts["total-nodes"], 0, _MAX_NODES) if "total-nodes" in opts else 0
        local = xt_uint_arg(opts["local-node"], 0, _MAX_NODES) if "local-node" in opts else 0
        hash_init = xt_uint_arg(opts["hash-init"], 0, U32) if "hash-init" in opts else 0
        needed = ("new", "hashmode", "clustermac", "total-nodes", "local-node")
        if not all(name in opts for name in needed):
            raise OptionError("CLUSTERIP target: Invalid parameter combination")
        return ClusteripTarget(True, hashmode, mac, total, local, hash_init)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ClusteripTarget)
        if not options.new:
            return ""
        mac = ":".join(f"{octet:02X}" for octet in options.clustermac)
        return (f" --new --hashmode {options.hashmode.value} --clustermac {mac}"
                f" --total-nodes {options.total_nodes} --local-node {options.local_node}"
                f" --hash-init {options.hash_init}")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, ClusteripTarget)
        total = options.total_nodes if options.new else _MAX_NODES
        node = f"node {options.local_node} of {total}" if options.new else "this node"
        responsible = ctx.assume("clusterip", f"{node} answers for the packet's hash",
                                 f"{node} does not answer for the packet's hash")
        unicast = SetValue("pkttype", IntSet.single(PKT_TYPES.index("unicast"),
                                                    len(PKT_TYPES) - 1), "unicast (CLUSTERIP)")
        marked = SetValue("ctmark", range_bits(1, max(total, 1), 32), "CLUSTERIP node number")
        dropped = Effect(verdict="DROP", note="CLUSTERIP: another node answers: dropped")
        answer = Effect(changes=(unicast,), note="CLUSTERIP: this node answers", when=responsible,
                        otherwise=dropped)
        new = Effect(changes=(marked, unicast), note="CLUSTERIP: this node answers; the "
                     "connection's mark is the node number",
                     when=And((states(NEW), responsible)), otherwise=answer)
        icmp_error = And((states(RELATED), Test("proto", IntSet.single(1, 255))))
        related = Effect(note="CLUSTERIP: an ICMP error of a connection goes on",
                         when=icmp_error, otherwise=new)
        return Effect(verdict="DROP", note="CLUSTERIP: no connection: dropped",
                      when=Not(has_connection()), otherwise=related)
