"""ipvs match (libxt_ipvs): properties of the IPVS connection a packet belongs to.

Every option but --ipvs implies --ipvs, so `--ipvs` is only printed when it is the sole test;
`! --ipvs` cannot be combined with the others. --vdir is not negatable: REPLY is stored as the
negation of ORIGINAL. --vproto is printed as a number, --vaddr as an XTTYPE_HOSTMASK (address
as written, /32 omitted), ports as numbers (getaddrinfo's service parser reads them, so names
from /etc/services and wrapping numbers are accepted).

This kernel (and many others) lack xt_ipvs, so these rules cannot be loaded in the test
sandbox; the printing follows libxt_ipvs.so of iptables 1.8.9 (" --vproto %u" and so on).

Semantics (xt_ipvs). Field `ipvs`: IPVS handles the packet (skb->ipvs_property). A lone
`--ipvs` tests just that (`!` inverts). Every other option needs it, then: --vproto compares
the packet's protocol; the protocol must be one IPVS knows (TCP, UDP, SCTP, AH, ESP); the
IPVS connection must exist and have the given virtual address, port, forwarding method and
controlling connection's port, which no dump shows (the assumption `ipvs`, pinned per rule);
--vdir needs a conntrack entry (INVALID and UNTRACKED packets have none) and compares the
packet's direction (field `ctdir`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..fields import CT_DIRECTIONS, CT_STATES
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ..protocols import protocol_name
from ._c_host import HostMask, format_hostmask, parse_hostmask
from ._cnum import getaddrinfo_port, xt_parse_protocol
from ._pred import conj, flag, invert
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

__all__ = ["IpvsMatch", "IpvsMethod"]


class IpvsMethod(enum.IntEnum):
    """IP_VS_CONN_F_* forwarding methods."""

    MASQ = 0
    GATE = 3  # IP_VS_CONN_F_DROUTE
    IPIP = 2  # IP_VS_CONN_F_TUNNEL


@dataclass(frozen=True, slots=True)
class IpvsMatch(ExtOptions):
    """None fields are not tested. `ipvs` is True for a lone --ipvs, False for `! --ipvs`,
    None otherwise (any other option implies it)."""

    ipvs: bool | None = None
    vproto: int | None = None
    vproto_invert: bool = False
    vaddr: HostMask | None = None
    vaddr_invert: bool = False
    vport: int | None = None
    vport_invert: bool = False
    reply: bool | None = None  # --vdir: False for ORIGINAL, True for REPLY
    vmethod: IpvsMethod | None = None
    vmethod_invert: bool = False
    vportctl: int | None = None
    vportctl_invert: bool = False

    @property
    def ipvs_property(self) -> bool:
        """Whether the packet must belong to an IPVS connection (stated or implied)."""
        return self.ipvs is not False


def _port(arg: OptArg) -> int:
    port = getaddrinfo_port(arg.value)
    if port is None:
        raise OptionError(f"port `{arg.value}' does not resolve to anything",
                          arg.value_column())
    return port


def _case_fold(text: str) -> str:
    return text.translate(str.maketrans("abcdefghijklmnopqrstuvwxyz",
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@register
class Ipvs(Extension):
    """Field `ipvs`; assumption kind `ipvs` (holds = the packet has an IPVS connection with
    the given properties)."""

    names = ("ipvs",)
    options = (
        OptSpec("ipvs", 0, True),
        OptSpec("vproto", 1, True),
        OptSpec("vaddr", 1, True),
        OptSpec("vport", 1, True),
        OptSpec("vdir", 1),
        OptSpec("vmethod", 1, True),
        OptSpec("vportctl", 1, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> IpvsMatch:
        opts = one_of(args)
        if not opts:
            raise OptionError("at least one option is required")
        ipvs = opts.get("ipvs")
        if ipvs is not None and ipvs.invert and len(opts) > 1:
            raise OptionError("! --ipvs cannot be together with other options", ipvs.column)
        proto = opts.get("vproto")
        vproto = None
        if proto is not None:
            vproto = xt_parse_protocol(proto.value)
            if vproto is None:
                raise OptionError(f"unknown protocol `{proto.value}'", proto.value_column())
        vdir = opts.get("vdir")
        reply = None
        if vdir is not None:
            if _case_fold(vdir.value) not in ("ORIGINAL", "REPLY"):
                raise OptionError(f"bad value `{vdir.value}' for --vdir (ORIGINAL or REPLY)",
                                  vdir.value_column())
            reply = _case_fold(vdir.value) == "REPLY"
        method = opts.get("vmethod")
        vmethod = None
        if method is not None:
            name = _case_fold(method.value)
            if name not in IpvsMethod.__members__:
                raise OptionError(f"bad value `{method.value}' for --vmethod (GATE, IPIP or "
                                  f"MASQ)", method.value_column())
            vmethod = IpvsMethod[name]
        vaddr = opts.get("vaddr")
        vport, vportctl = opts.get("vport"), opts.get("vportctl")
        # --ipvs beside other options adds nothing: they imply it (iptables prints none)
        ipvs_flag = None
        if ipvs is not None and (ipvs.invert or len(opts) == 1):
            ipvs_flag = not ipvs.invert
        return IpvsMatch(
            ipvs_flag,
            vproto,
            bool(proto and proto.invert),
            None if vaddr is None else parse_hostmask(vaddr.value, ctx.family, "vaddr",
                                                      vaddr.value_column()),
            bool(vaddr and vaddr.invert),
            None if vport is None else _port(vport),
            bool(vport and vport.invert),
            reply,
            vmethod,
            bool(method and method.invert),
            None if vportctl is None else _port(vportctl),
            bool(vportctl and vportctl.invert),
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, IpvsMatch)

        def neg(flag: bool) -> str:
            return " !" if flag else ""

        o = options
        only_ipvs = all(v is None for v in (o.vproto, o.vaddr, o.vport, o.reply, o.vmethod,
                                            o.vportctl))
        out = ""
        if only_ipvs:
            out += f"{neg(o.ipvs is False)} --ipvs"
        if o.vproto is not None:
            out += f"{neg(o.vproto_invert)} --vproto {o.vproto}"
        if o.vaddr is not None:
            out += f"{neg(o.vaddr_invert)} --vaddr {format_hostmask(o.vaddr)}"
        if o.vport is not None:
            out += f"{neg(o.vport_invert)} --vport {o.vport}"
        if o.reply is not None:
            out += f" --vdir {'REPLY' if o.reply else 'ORIGINAL'}"
        if o.vmethod is not None:
            out += f"{neg(o.vmethod_invert)} --vmethod {o.vmethod.name}"
        if o.vportctl is not None:
            out += f"{neg(o.vportctl_invert)} --vportctl {o.vportctl}"
        return out

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, IpvsMatch)
        return _ipvs_predicate(options, ctx)


#: Protocols ip_vs_proto_get() knows: TCP, UDP, SCTP, AH, ESP.
IPVS_PROTOCOLS = (6, 17, 132, 51, 50)


def _ipvs_predicate(o: IpvsMatch, ctx: Any) -> Pred:
    handled = flag("ipvs", 1, "IPVS handles the packet", "IPVS does not handle the packet")
    if o.ipvs is not None:
        return invert(handled, not o.ipvs)
    parts: list[Pred] = [handled]
    if o.vproto is not None:
        name = protocol_name(o.vproto) or str(o.vproto)
        parts.append(invert(Test("proto", IntSet.single(o.vproto, 255), f"proto = {name}",
                                 f"proto ≠ {name}"), o.vproto_invert))
    parts.append(Test("proto", IntSet.values(IPVS_PROTOCOLS, 255),
                      "IPVS knows the packet's protocol", "IPVS does not know the protocol"))
    details: list[str] = []
    for label, value, inverted in (
            ("virtual address", None if o.vaddr is None else format_hostmask(o.vaddr),
             o.vaddr_invert),
            ("virtual port", o.vport, o.vport_invert),
            ("forwarding method", None if o.vmethod is None else o.vmethod.name,
             o.vmethod_invert),
            ("controlling connection's virtual port", o.vportctl, o.vportctl_invert)):
        if value is not None:
            details.append(f"{label} {'not ' if inverted else ''}{value}")
    text = "the packet belongs to an IPVS connection" + (
        f" with {', '.join(details)}" if details else "")
    parts.append(ctx.assume("ipvs", text, f"not: {text}"))
    if o.reply is not None:
        tracked = Test("ctstate", IntSet.values(
            (CT_STATES.index("INVALID"), CT_STATES.index("UNTRACKED")), len(CT_STATES) - 1),
            "the packet has no conntrack entry", "the packet has a conntrack entry")
        direction = "REPLY" if o.reply else "ORIGINAL"
        parts.append(conj(invert(tracked, True), Test(
            "ctdir", IntSet.single(CT_DIRECTIONS.index(direction), len(CT_DIRECTIONS) - 1),
            f"ctdir = {direction}", f"ctdir ≠ {direction}")))
    return conj(*parts)
