"""What the IPv6 extension-header matches mean: frag, rt, hbh, dst, mh, ipv6header, eui64.

The kernel finds a header with ipv6_find_hdr(), which walks the chain from the fixed header and
gives up at a non-first fragment's Fragment header: only that header and those before it are
visible. The packet model says which headers the chain holds with `ipv6_headers`, the mask
ip6t_ipv6header builds (0x80 hop-by-hop, 0x40 destination options, 0x20 routing, 0x10
fragment, 0x08 AH, 0x04 ESP, 0x02 no next header, 0x01 an upper-layer protocol). For a
non-first fragment (`fragment=1`) it should list what precedes the payload of the fragment:
the kernel reads what follows the Fragment header as payload, and ipv6header's own walk reads
that payload as headers, which no model can know.

Kinds of assumption introduced (pin them with `--assume KIND=true|false` or per rule
`KIND@table:chain:N`): `hbh-opts` / `dst-opts` ("the options header begins with these
options"), `rt-0-res` ("the type-0 routing header's reserved field is zero"), `rt-0-addrs`
("the type-0 routing header lists these addresses"), and `eui64` (the source address is the
EUI-64 of the source MAC, when either is not known exactly or the packet has no Ethernet
header).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..addresses import format_ip
from ..domain import BitSet
from ..logic import Custom, Pred, Test
from ..nodes import Family
from ..semantics import CompileContext
from ._pred import bit_present, conj, first_fragment, flag, in_range, invert, when

if TYPE_CHECKING:
    from .ipv6ext import FragMatch, HeaderMatch, MhMatch, OptsMatch, RtMatch

__all__ = [
    "HEADER_BITS",
    "eui64_of",
    "eui64_predicate",
    "frag_predicate",
    "header_present",
    "ipv6header_predicate",
    "mh_predicate",
    "opts_predicate",
    "rt_predicate",
]

#: next-header number (255: any upper-layer protocol) → (bit of `ipv6_headers`, name)
HEADER_BITS: dict[int, tuple[int, str]] = {
    0: (7, "hop-by-hop"), 60: (6, "destination options"), 43: (5, "routing"),
    44: (4, "fragment"), 51: (3, "AH"), 50: (2, "ESP"), 59: (1, "no-next-header"),
    255: (0, "upper-layer protocol"),
}


def header_present(number: int) -> Test:
    bit, name = HEADER_BITS[number]
    article = "an" if name[0] in "AEIOU" or name.startswith("upper") else "a"
    return bit_present("ipv6_headers", bit, f"the packet has {article} {name} header",
                       f"the packet has no {name} header")


def frag_predicate(options: FragMatch) -> Pred:
    """ip6t_frag: the Fragment header's identification, reserved bits, offset and M flag.
    --fraglen is stored but the kernel has not looked at it since 2.6.10."""
    parts = [header_present(44), invert(in_range("frag_id", *options.ids), options.ids_invert)]
    if options.reserved:
        parts.append(flag("frag_reserved", 0, "the Fragment header's reserved bits are 0",
                          "a reserved bit of the Fragment header is set"))
    if options.first:
        parts.append(first_fragment())
    if options.more:
        parts.append(flag("frag_more", 1, "the M (more fragments) flag is set",
                          "the M (more fragments) flag is clear"))
    if options.last:
        parts.append(flag("frag_more", 0, "the M (more fragments) flag is clear",
                          "the M (more fragments) flag is set"))
    return conj(*parts)


def rt_predicate(options: RtMatch, ctx: CompileContext) -> Pred:
    """ip6t_rt: segments left, length and type, then (type 0) reserved field and addresses."""
    parts = [header_present(43),
             invert(in_range("rt_segsleft", *options.segsleft), options.segsleft_invert)]
    if options.length is not None:
        parts.append(invert(in_range("rt_len", options.length, options.length),
                            options.length_invert))
    if options.type is not None:
        parts.append(invert(in_range("rt_type", options.type, options.type),
                            options.type_invert))
    if options.reserved:
        parts.append(ctx.assume("rt-0-res", "the routing header's reserved field is 0",
                                "the routing header's reserved field is not 0"))
    if options.addrs is not None:
        parts.append(_rt_addresses(options.addrs, options.not_strict, ctx))
    return conj(*parts)


def _rt_addresses(addrs: tuple[int, ...], not_strict: bool, ctx: CompileContext) -> Pred:
    """The header holds (length - 8) / 16 addresses: at least as many as listed (not strict:
    the listed ones in this order among them), or exactly these (strict)."""
    count = len(addrs)
    shown = ",".join(format_ip(a, Family.INET6) for a in addrs)
    if not_strict:
        room = in_range("rt_len", 8 + 16 * count, 0xFFFF)
        text = f"the routing header lists {shown} in this order"
    else:
        room = in_range("rt_len", 8 + 16 * count, 8 + 16 * count + 15)
        text = f"the routing header lists exactly {shown}"
    return conj(room, ctx.assume("rt-0-addrs", text, f"not: {text}"))


def opts_predicate(options: OptsMatch, ctx: CompileContext, hop_by_hop: bool) -> Pred:
    """ip6t_hbh (hbh and dst): the header's length in bytes, then its options in order."""
    number, field, kind = (0, "hbh_len", "hbh-opts") if hop_by_hop else (
        60, "dstopts_len", "dst-opts")
    parts: list[Pred] = [header_present(number)]
    if options.length is not None:
        parts.append(invert(in_range(field, options.length, options.length),
                            options.length_invert))
    if options.opts is not None:
        what = "hop-by-hop" if hop_by_hop else "destination"
        listed = ",".join(str(t) if n is None else f"{t}:{n}" for t, n in options.opts)
        parts.append(ctx.assume(kind, f"the {what} options begin with {listed}",
                                f"the {what} options do not begin with {listed}"))
    return conj(*parts)


def mh_predicate(options: MhMatch) -> Pred:
    """ip6t_mh: no later fragment, then the Mobility Header type `^ !`. (A header whose
    payload protocol is not 59, which the kernel drops, is not modelled.)"""
    return conj(first_fragment(),
                invert(in_range("mh_type", *options.types), options.invert))


def ipv6header_predicate(options: HeaderMatch) -> Pred:
    """ip6t_ipv6header: exactly these headers (`!`: any other set), or with --soft all of them
    (`!`: none of them)."""
    mask = sum(1 << HEADER_BITS[n][0] for n in options.headers)
    names = ", ".join(HEADER_BITS[n][1] for n in sorted(options.headers,
                                                         key=lambda n: -HEADER_BITS[n][0]))
    if options.soft:
        if options.invert:
            return Test("ipv6_headers", BitSet.cube(0, mask, 8),
                        f"the packet has none of the headers {names}",
                        f"the packet has one of the headers {names}")
        return Test("ipv6_headers", BitSet.cube(mask, mask, 8),
                    f"the packet has all of the headers {names}",
                    f"the packet lacks one of the headers {names}")
    exact = Test("ipv6_headers", BitSet.single(mask, 8),
                 f"the packet's headers are exactly {names}",
                 f"the packet's headers are not exactly {names}")
    return invert(exact, options.invert)


def eui64_of(mac: int) -> int:
    """The interface identifier the kernel derives from a MAC: ff:fe in the middle and the
    universal/local bit flipped."""
    high, low = mac >> 24, mac & 0xFFFFFF
    return ((high ^ 0x020000) << 40) | (0xFFFE << 24) | low


def eui64_predicate(ctx: CompileContext) -> Pred:
    """ip6t_eui64: the low 64 bits of the source address are the EUI-64 of the Ethernet source
    MAC. Without an Ethernet header (`ether=0`) the kernel reads whatever precedes the IPv6
    header, which iptparse cannot know: an assumption."""
    text = "the source address ends with the EUI-64 of the source MAC"
    neg_text = "the source address does not end with the EUI-64 of the source MAC"

    def decide(values: tuple[int | str, ...]) -> bool:
        src, mac = values
        assert isinstance(src, int) and isinstance(mac, int)
        return src & ((1 << 64) - 1) == eui64_of(mac)

    exact = Custom(("src", "src_mac"), decide, ctx.key("eui64"), "eui64", text, neg_text)
    ethernet = flag("ether", 1, "the packet came in with an Ethernet header",
                    "the packet came in without an Ethernet header")
    return when(ethernet, exact, ctx.assume("eui64", text, neg_text))
