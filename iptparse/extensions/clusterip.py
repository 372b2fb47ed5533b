"""CLUSTERIP (libipt_CLUSTERIP, IPv4): share an address and a multicast MAC between nodes.

A rule either creates the cluster (`--new` with hash mode, MAC, total and local node, optional
hash init) or joins it (no options); iptables refuses anything in between. The MAC must be a
multicast one and prints in upper case. The target left the kernel in 6.3, so this machine's
kernel cannot load it; the forms here follow libipt_CLUSTERIP.c.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ._d_num import U32, xt_uint_arg
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
