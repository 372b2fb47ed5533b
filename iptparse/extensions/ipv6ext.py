"""IPv6 extension header matches: frag, rt, hbh, dst, mh, ipv6header and eui64 (libip6t_*).

Ranges left at their full span are not printed by ip6tables-save even when negated (1.8.9
behaviour, kept). Options with a "was it given" flag in the kernel structure (`--rt-type`,
`--fraglen`…) are None when absent, because a given 0 and an absent option print differently.
What each match means is in `_b_ipv6` (the packet fields, the kernel's quirks, the assumption
kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..addresses import AddressError, format_ip, parse_ip
from ..logic import Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._b_ipv6 import (
    eui64_predicate,
    frag_predicate,
    ipv6header_predicate,
    mh_predicate,
    opts_predicate,
    rt_predicate,
)
from ._checks import need_protocol, only_in_chains
from ._cnum import ANY32, Range, c_lower, strtoul, xt_strtoul
from ._xtopt import format_range, parse_int_option, parse_range_option
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    one_of,
    register,
)

__all__ = [
    "HEADER_NAMES",
    "MH_TYPES",
    "Dst",
    "Eui64",
    "Eui64Match",
    "Frag",
    "FragMatch",
    "Hbh",
    "HeaderMatch",
    "Ipv6Header",
    "Mh",
    "MhMatch",
    "OptsMatch",
    "Rt",
    "RtMatch",
]

V6 = frozenset({Family.INET6})


def _inverted(options: dict[str, OptArg], name: str) -> bool:
    return name in options and options[name].invert


# frag ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FragMatch(ExtOptions):
    """Fragment header: identification range, header length (ignored by the kernel since
    2.6.10 but stored), reserved fields zero, first fragment, more fragments, last one."""

    ids: Range = ANY32
    ids_invert: bool = False
    length: int | None = None
    length_invert: bool = False
    reserved: bool = False
    first: bool = False
    more: bool = False
    last: bool = False


@register
class Frag(Extension):
    names = ("frag",)
    families = V6
    options = (
        OptSpec("fragid", 1, True), OptSpec("fraglen", 1, True), OptSpec("fragres", 0),
        OptSpec("fragfirst", 0), OptSpec("fragmore", 0), OptSpec("fraglast", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> FragMatch:
        options = one_of(args)
        if "fragmore" in options and "fraglast" in options:
            raise OptionError("--fragmore and --fraglast cannot be combined",
                              max(options["fragmore"].column, options["fraglast"].column))
        ids = parse_range_option(options["fragid"], 0xFFFFFFFF) if "fragid" in options else ANY32
        length = None
        if "fraglen" in options:
            length = parse_int_option(options["fraglen"], 0, 0xFFFFFFFF)
        return FragMatch(ids, _inverted(options, "fragid"), length, _inverted(options, "fraglen"),
                         "fragres" in options, "fragfirst" in options, "fragmore" in options,
                         "fraglast" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, FragMatch)
        out = ""
        if options.ids != ANY32:
            out += f"{' !' if options.ids_invert else ''} --fragid {format_range(options.ids)}"
        if options.length is not None:
            out += f"{' !' if options.length_invert else ''} --fraglen {options.length}"
        for flag, word in ((options.reserved, "fragres"), (options.first, "fragfirst"),
                           (options.more, "fragmore"), (options.last, "fraglast")):
            if flag:
                out += f" --{word}"
        return out

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, FragMatch)
        return frag_predicate(options)


# rt -----------------------------------------------------------------------------------------

RT_HOPS = 16  # IP6T_RT_HOPS: most type-0 addresses one rule can list


@dataclass(frozen=True, slots=True)
class RtMatch(ExtOptions):
    """Routing header: type, segments left, length, and for type 0 the reserved field and a
    list of addresses (strict unless `not_strict`)."""

    type: int | None = None
    type_invert: bool = False
    segsleft: Range = ANY32
    segsleft_invert: bool = False
    length: int | None = None
    length_invert: bool = False
    reserved: bool = False
    addrs: tuple[int, ...] | None = None
    not_strict: bool = False


def _rt_addresses(arg: OptArg) -> tuple[int, ...]:
    words = arg.value.split(",")
    if len(words) > RT_HOPS:
        raise OptionError(f"too many addresses in --rt-0-addrs (at most {RT_HOPS})",
                          arg.value_column())
    found = []
    offset = 0
    for word in words:
        try:
            found.append(parse_ip(word, Family.INET6))
        except AddressError:
            raise OptionError(f"bad IPv6 address `{word}'", arg.value_column() + offset) from None
        offset += len(word) + 1
    return tuple(found)


@register
class Rt(Extension):
    """Assumption kinds: `rt-0-res` (the type-0 header's reserved field is zero) and
    `rt-0-addrs` (it lists the given addresses), which only the header's body shows."""

    names = ("rt",)
    families = V6
    options = (
        OptSpec("rt-type", 1, True), OptSpec("rt-segsleft", 1, True), OptSpec("rt-len", 1, True),
        OptSpec("rt-0-res", 0), OptSpec("rt-0-addrs", 1), OptSpec("rt-0-not-strict", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RtMatch:
        options = one_of(args)
        rt_type: int | None = None
        type_invert = False
        addrs: tuple[int, ...] | None = None
        for arg in args:  # --rt-0-* depend on what came before them, as in ip6tables
            if arg.name == "rt-type":
                rt_type = parse_int_option(arg, 0, 0xFFFFFFFF)
                type_invert = arg.invert
            elif arg.name in ("rt-0-res", "rt-0-addrs") and (rt_type != 0 or type_invert):
                raise OptionError(f"`--rt-type 0' must come before `--{arg.name}'", arg.column)
            elif arg.name == "rt-0-addrs":
                addrs = _rt_addresses(arg)
            elif arg.name == "rt-0-not-strict" and addrs is None:
                raise OptionError("`--rt-0-addrs' must come before `--rt-0-not-strict'",
                                  arg.column)
        segsleft = ANY32
        if "rt-segsleft" in options:
            segsleft = parse_range_option(options["rt-segsleft"], 0xFFFFFFFF)
        length = None
        if "rt-len" in options:
            length = parse_int_option(options["rt-len"], 0, 0xFFFFFFFF)
        return RtMatch(rt_type, type_invert, segsleft, _inverted(options, "rt-segsleft"), length,
                       _inverted(options, "rt-len"), "rt-0-res" in options, addrs,
                       "rt-0-not-strict" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RtMatch)
        out = ""
        if options.type is not None:
            out += f"{' !' if options.type_invert else ''} --rt-type {options.type}"
        if options.segsleft != ANY32:
            out += (f"{' !' if options.segsleft_invert else ''} --rt-segsleft "
                    f"{format_range(options.segsleft)}")
        if options.length is not None:
            out += f"{' !' if options.length_invert else ''} --rt-len {options.length}"
        if options.reserved:
            out += " --rt-0-res"
        if options.addrs is not None:
            out += " --rt-0-addrs " + ",".join(format_ip(a, Family.INET6) for a in options.addrs)
        if options.not_strict:
            out += " --rt-0-not-strict"
        return out

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, RtMatch)
        return rt_predicate(options, ctx)


# hbh and dst --------------------------------------------------------------------------------

OPTS_MAX = 16  # IP6T_OPTS_OPTSNR


@dataclass(frozen=True, slots=True)
class OptsMatch(ExtOptions):
    """Hop-by-hop or destination options header: its length, and the options it must carry
    in order, as (type, data length or None for any length)."""

    length: int | None = None
    length_invert: bool = False
    opts: tuple[tuple[int, int | None], ...] | None = None


def _opts_number(text: str, what: str, column: int) -> int:
    """strtoul in base 0 with ip6tables' checks; negative numbers wrap, only 8 bits are kept."""
    number = strtoul(text)
    if number is None:
        raise OptionError(f"no number in {what} `{text}'", column)
    if number.overflow:
        raise OptionError(f"{what} `{text}' is too big", column)
    if number.end != len(text):
        raise OptionError(f"cannot read {what} `{text}' (a number, then nothing)", column)
    return number.value & 0xFF


def _options_list(arg: OptArg) -> tuple[tuple[int, int | None], ...]:
    words = arg.value.split(",")
    found: list[tuple[int, int | None]] = []
    offset = arg.value_column()
    for index, word in enumerate(words):
        if index == OPTS_MAX:
            raise OptionError(f"too many options in --{arg.name} (at most {OPTS_MAX})", offset)
        type_text, colon, length_text = word.partition(":")
        if colon and index == OPTS_MAX - 1:
            raise OptionError(f"the last of {OPTS_MAX} options cannot have a length", offset)
        opt_type = _opts_number(type_text, "option type", offset)
        length: int | None = None
        if colon:
            if opt_type == 0:
                raise OptionError("option type 0 (Pad1) has no length", offset)
            length = _opts_number(length_text, "length", offset + len(type_text) + 1)
            if length == 0xFF:  # the kernel's "any length"
                length = None
        found.append((opt_type, length))
        offset += len(word) + 1
    return tuple(found)


class _Opts(Extension):
    """hbh and dst read the same structure; only the option names differ."""

    prefix: ClassVar[str] = "hbh"
    families = V6

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> OptsMatch:
        options = one_of(args)
        length = None
        arg = options.get(f"{self.prefix}-len")
        if arg is not None:
            length = parse_int_option(arg, 0, 0xFFFFFFFF)
        opts = None
        arg = options.get(f"{self.prefix}-opts")
        if arg is not None:
            opts = _options_list(arg)
        return OptsMatch(length, _inverted(options, f"{self.prefix}-len"), opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, OptsMatch)
        out = ""
        if options.length is not None:
            out += f"{' !' if options.length_invert else ''} --{self.prefix}-len {options.length}"
        if options.opts is not None:
            out += f" --{self.prefix}-opts " + ",".join(
                str(t) if n is None else f"{t}:{n}" for t, n in options.opts)
        return out

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, OptsMatch)
        return opts_predicate(options, ctx, hop_by_hop=self.prefix == "hbh")


@register
class Hbh(_Opts):
    """Assumption kind `hbh-opts`: the hop-by-hop options begin with the listed ones."""

    names = ("hbh",)
    prefix = "hbh"
    options = (OptSpec("hbh-len", 1, True), OptSpec("hbh-opts", 1))


@register
class Dst(_Opts):
    """Assumption kind `dst-opts`: the destination options begin with the listed ones."""

    names = ("dst",)
    prefix = "dst"
    options = (OptSpec("dst-len", 1, True), OptSpec("dst-opts", 1))


# mh -----------------------------------------------------------------------------------------

# (name, type) in ip6tables' order; a short alias follows each name
MH_TYPES: tuple[tuple[str, int], ...] = (
    ("binding-refresh-request", 0), ("brr", 0), ("home-test-init", 1), ("hoti", 1),
    ("careof-test-init", 2), ("coti", 2), ("home-test", 3), ("hot", 3), ("careof-test", 4),
    ("cot", 4), ("binding-update", 5), ("bu", 5), ("binding-acknowledgement", 6), ("ba", 6),
    ("binding-error", 7), ("be", 7),
)


@dataclass(frozen=True, slots=True)
class MhMatch(ExtOptions):
    """Mobility header type within `types`, negated by `invert`."""

    types: Range = (0, 0xFF)
    invert: bool = False


def _mh_type(text: str, column: int) -> int:
    """A name (the first prefix match, unless a later name matches exactly) or a number."""
    lowered = c_lower(text)
    chosen: int | None = None
    for name, number in MH_TYPES:
        if name.startswith(lowered) and (chosen is None or len(name) == len(text)):
            chosen = number
    if chosen is not None:
        return chosen
    value = xt_strtoul(text, 0, 0xFF)
    if value is None:
        raise OptionError(f"invalid MH type `{text}'", column)
    return value.value


@register
class Mh(Extension):
    names = ("mh",)
    families = V6
    options = (OptSpec("mh-type", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> MhMatch:
        arg = one_of(args).get("mh-type")
        if arg is None:
            return MhMatch()
        text, column = arg.value, arg.value_column()
        lo_text, colon, hi_text = text.partition(":")
        if not colon:
            number = _mh_type(text, column)
            return MhMatch((number, number), arg.invert)
        lo = _mh_type(lo_text, column) if lo_text else 0
        hi = _mh_type(hi_text, column + len(lo_text) + 1) if hi_text else 0xFF
        if lo > hi:
            raise OptionError(f"invalid MH type range `{text}': {lo} is greater than {hi}",
                              column)
        return MhMatch((lo, hi), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, MhMatch)
        if options.types == (0, 0xFF):
            return ""
        return f"{' !' if options.invert else ''} --mh-type {format_range(options.types)}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 135, "mh")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, MhMatch)
        return mh_predicate(options)


# ipv6header ---------------------------------------------------------------------------------

# The headers the match knows, in the order ip6tables prints them, with the printed name.
HEADER_NAMES: tuple[tuple[int, str], ...] = (
    (0, "hop-by-hop"), (60, "ipv6-opts"), (43, "ipv6-route"), (44, "ipv6-frag"), (51, "ah"),
    (50, "esp"), (59, "ipv6-nonxt"), (255, "protocol"),
)
# Names ip6tables resolves: /etc/protocols names and aliases (exact case, through
# getprotobyname) for the numbers above, then its own short names and numbers.
_HEADER_WORDS: dict[str, int] = {
    "ip": 0, "IP": 0, "hopopt": 0, "HOPOPT": 0, "ipv6-route": 43, "IPv6-Route": 43,
    "ipv6-frag": 44, "IPv6-Frag": 44, "esp": 50, "IPSEC-ESP": 50, "ah": 51, "IPSEC-AH": 51,
    "ipv6-nonxt": 59, "IPv6-NoNxt": 59, "ipv6-opts": 60, "IPv6-Opts": 60,
    "hop-by-hop": 0, "protocol": 255, "hop": 0, "dst": 60, "route": 43, "frag": 44,
    "auth": 51, "none": 59, "prot": 255, "0": 0, "60": 60, "43": 43, "44": 44, "51": 51,
    "50": 50, "59": 59, "255": 255,
}


@dataclass(frozen=True, slots=True)
class HeaderMatch(ExtOptions):
    """The packet's chain of headers must be exactly `headers` (next-header numbers; 255 is
    any upper-layer protocol), or with `soft` contain all of them; `invert` negates the exact
    form and turns the soft one into "none of them"."""

    headers: frozenset[int]
    invert: bool = False
    soft: bool = False


@register
class Ipv6Header(Extension):
    names = ("ipv6header",)
    families = V6
    options = (OptSpec("header", 1, True), OptSpec("soft", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> HeaderMatch:
        options = one_of(args)
        arg = options.get("header")
        if arg is None:
            raise OptionError("--header is required")
        headers = set()
        offset = arg.value_column()
        for word in arg.value.split(","):
            if word:
                number = _HEADER_WORDS.get(word)
                if number is None:
                    raise OptionError(f"unknown header `{word}' (known: "
                                      f"{', '.join(n for _, n in HEADER_NAMES)})", offset)
                headers.add(number)
            offset += len(word) + 1
        if not headers:
            raise OptionError("--header needs at least one header name", arg.value_column())
        return HeaderMatch(frozenset(headers), arg.invert, "soft" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, HeaderMatch)
        names = ",".join(name for number, name in HEADER_NAMES if number in options.headers)
        return f"{' !' if options.invert else ''} --header {names}" + (
            " --soft" if options.soft else "")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, HeaderMatch)
        return ipv6header_predicate(options)


# eui64 --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Eui64Match(ExtOptions):
    """The low 64 bits of the source address are the EUI-64 of the source MAC (no options)."""


@register
class Eui64(Extension):
    """Assumption kind `eui64`: the source address ends with the EUI-64 of the source MAC,
    when src or src_mac is not known exactly, or the packet has no Ethernet header."""

    names = ("eui64",)
    families = V6

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> Eui64Match:
        return Eui64Match()

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        return ""

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return only_in_chains(ctx, ("PREROUTING", "INPUT", "FORWARD"))

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        return eui64_predicate(ctx)
