"""HMARK (libxt_HMARK): set the packet mark from a hash of chosen header fields.

`mark = hash(fields & masks, rnd) % mod + offset`. --hmark-tuple is shorthand: each word (a
case-insensitive prefix: `s` is src, `sp` sport) sets a full mask, so `--hmark-tuple src` prints
as `--hmark-src-prefix 32`; only `ct` prints as a tuple. Port masks and the SPI mask share one
32-bit field in the kernel (source port in the high half, as the SPI's first bytes), and so do
the port and SPI "or" values; they are kept that way so overlapping options print as iptables
prints them. An option the tuple already set cannot be given again.

Semantics (xt_HMARK.c): `mark = reciprocal_scale(jhash(src, dst, ports) ^ proto, mod) +
offset`, each field under its mask (fields not given have mask 0). Computed exactly when the
fields it reads are known: addresses, protocol and ports (ESP and AH: the SPI; ICMP and
protocols without ports: none; a fragment: none). An ICMP error hashes the header it quotes,
which no packet field holds, so its mark is a fresh value in offset..offset+mod-1, as is any
packet whose fields are not all known. With `--hmark-tuple ct` the connection's tuples are
hashed (TCP, UDP, SCTP, DCCP and UDP-Lite, ICMP without ports; other protocols: a fresh value),
and a packet without a connection keeps its mark.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..domain import BitSet, ValueSet
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect, SetFrom
from ._a_sem import RELATED, has_connection
from ._cnum import U32
from ._d_addr import parse_plenmask
from ._d_hash import HMARK_PORT_PROTOCOLS, hmark_hash
from ._d_sem import range_bits
from ._xtopt import xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    register,
)

__all__ = ["HmarkField", "HmarkTarget"]


class HmarkField(enum.IntEnum):
    """The kernel's XT_HMARK_* flag bits, which say which fields were given."""

    SRC_PREFIX = 0
    DST_PREFIX = 1
    SPI = 2
    SPI_MASK = 3
    SPORT = 4
    DPORT = 5
    SPORT_MASK = 6
    DPORT_MASK = 7
    PROTO_MASK = 8
    RND = 9
    MOD = 10
    OFFSET = 11
    CT = 12


_OPTION_FIELD = {
    "hmark-src-prefix": HmarkField.SRC_PREFIX, "hmark-dst-prefix": HmarkField.DST_PREFIX,
    "hmark-spi": HmarkField.SPI, "hmark-spi-mask": HmarkField.SPI_MASK,
    "hmark-sport": HmarkField.SPORT, "hmark-dport": HmarkField.DPORT,
    "hmark-sport-mask": HmarkField.SPORT_MASK, "hmark-dport-mask": HmarkField.DPORT_MASK,
    "hmark-proto-mask": HmarkField.PROTO_MASK, "hmark-rnd": HmarkField.RND,
    "hmark-mod": HmarkField.MOD, "hmark-offset": HmarkField.OFFSET,
}
_TUPLE_WORDS = (("ct", HmarkField.CT), ("src", HmarkField.SRC_PREFIX),
                ("dst", HmarkField.DST_PREFIX), ("sport", HmarkField.SPORT_MASK),
                ("dport", HmarkField.DPORT_MASK), ("proto", HmarkField.PROTO_MASK),
                ("spi", HmarkField.SPI_MASK))
_PACKET_FIELDS = frozenset(HmarkField) - {HmarkField.RND, HmarkField.MOD, HmarkField.OFFSET,
                                          HmarkField.CT}
_TUPLE = "tuple"


@dataclass(frozen=True, slots=True)
class HmarkTarget(ExtOptions):
    """xt_hmark_info: `fields` given; prefixes as lengths; `port_mask` / `port_set` are the
    shared 32-bit fields (sport << 16 | dport, or the SPI)."""

    fields: frozenset[HmarkField]
    src_prefix: int = 0
    dst_prefix: int = 0
    port_mask: int = 0
    port_set: int = 0
    proto_mask: int = 0
    rnd: int = 0
    modulus: int = 1
    offset: int = 0


class _State:
    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.fields: set[HmarkField] = set()
        self.seen: set[object] = set()
        self.values = {"src": 0, "dst": 0, "mask": 0, "set": 0, "proto": 0, "rnd": 0,
                       "mod": 0, "offset": 0}

    def tuple_word(self, word: str) -> bool:
        for name, field in _TUPLE_WORDS:
            if not word or not name.startswith(word.lower()):
                continue
            self.fields.add(field)
            self.seen.add(field)
            if field is HmarkField.SRC_PREFIX:
                self.values["src"] = self.bits
            elif field is HmarkField.DST_PREFIX:
                self.values["dst"] = self.bits
            elif field is HmarkField.SPORT_MASK:
                self.values["mask"] |= 0xFFFF0000
            elif field is HmarkField.DPORT_MASK:
                self.values["mask"] |= 0xFFFF
            elif field is HmarkField.PROTO_MASK:
                self.values["proto"] = 0xFFFF
            elif field is HmarkField.SPI_MASK:
                self.values["mask"] = U32
            return True
        return False


def _half(word: int, value: int, high: bool) -> int:
    return (word & 0xFFFF) | (value << 16) if high else (word & 0xFFFF0000) | value


def _tuple(state: _State, arg: OptArg) -> None:
    text = arg.value
    column = arg.value_column()
    while "," in text:
        word, _, rest = text.partition(",")
        if not word or not state.tuple_word(word):
            raise OptionError(f"Bad type \"{text}\"", column)
        text = rest
    if not text:
        raise OptionError("\"--hmark-tuple\" requires a list of types with no spaces, e.g. "
                          "src,dst,sport,dport,proto", column)
    if not state.tuple_word(text):
        raise OptionError(f"Bad type \"{text}\"", column)


def _option(state: _State, arg: OptArg, ctx: ExtContext) -> None:
    field = _OPTION_FIELD[arg.name]
    state.fields.add(field)
    state.seen.add(field)
    values = state.values
    if field in (HmarkField.SRC_PREFIX, HmarkField.DST_PREFIX):
        key = "src" if field is HmarkField.SRC_PREFIX else "dst"
        values[key] = parse_plenmask(arg.value, ctx.family, arg)
    elif field in (HmarkField.SPORT_MASK, HmarkField.DPORT_MASK):
        values["mask"] = _half(values["mask"], xt_uint_arg(arg, 0, 0xFFFF),
                               field is HmarkField.SPORT_MASK)
    elif field in (HmarkField.SPORT, HmarkField.DPORT):
        values["set"] = _half(values["set"], xt_uint_arg(arg, 0, 0xFFFF),
                              field is HmarkField.SPORT)
    elif field is HmarkField.SPI_MASK:
        values["mask"] = xt_uint_arg(arg, 0, U32)
    elif field is HmarkField.SPI:
        values["set"] = xt_uint_arg(arg, 0, U32)
    elif field is HmarkField.PROTO_MASK:
        values["proto"] = xt_uint_arg(arg, 0, 0xFFFF)
    elif field is HmarkField.MOD:
        values["mod"] = xt_uint_arg(arg, 1, U32)
    else:
        values["rnd" if field is HmarkField.RND else "offset"] = xt_uint_arg(arg, 0, U32)


@register
class Hmark(Extension):
    kind = "target"
    names = ("HMARK",)
    options = (OptSpec("hmark-tuple", 1), *(OptSpec(name, 1) for name in _OPTION_FIELD))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> HmarkTarget:
        state = _State(ctx.family.bits)
        for arg in args:
            key: object = _TUPLE if arg.name == "hmark-tuple" else _OPTION_FIELD[arg.name]
            if key in state.seen:
                raise OptionError(f"option \"--{arg.name}\" can only be used once", arg.column)
            state.seen.add(key)
            if arg.name == "hmark-tuple":
                _tuple(state, arg)
            else:
                _option(state, arg, ctx)
        seen = state.seen
        if HmarkField.MOD not in seen:
            raise OptionError("--hmark-mod is mandatory")
        if HmarkField.RND not in seen:
            raise OptionError("--hmark-rnd is mandatory")
        if HmarkField.SPI_MASK in seen and (
                HmarkField.SPORT_MASK in seen or HmarkField.DPORT_MASK in seen):
            raise OptionError("you cannot use --hmark-spi-mask and --hmark-?port-mask at the "
                              "same time")
        if not (seen & _PACKET_FIELDS) and HmarkField.CT not in seen:
            raise OptionError("you have to specify --hmark-tuple at least")
        fields = state.fields
        if HmarkField.SPI in fields and (HmarkField.SPORT in fields or HmarkField.DPORT in fields):
            raise OptionError("the kernel refuses --hmark-spi together with --hmark-sport or "
                              "--hmark-dport")
        v = state.values
        return HmarkTarget(frozenset(fields), v["src"], v["dst"], v["mask"], v["set"],
                           v["proto"], v["rnd"], v["mod"], v["offset"])

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, HmarkTarget)
        has = options.fields.__contains__
        out = []
        if has(HmarkField.SRC_PREFIX):
            out.append(f" --hmark-src-prefix {options.src_prefix}")
        if has(HmarkField.DST_PREFIX):
            out.append(f" --hmark-dst-prefix {options.dst_prefix}")
        mask, value = options.port_mask, options.port_set
        for field, name, text in (
            (HmarkField.SPORT_MASK, "sport-mask", f"{mask >> 16:#06x}"),
            (HmarkField.DPORT_MASK, "dport-mask", f"{mask & 0xFFFF:#06x}"),
            (HmarkField.SPI_MASK, "spi-mask", f"{mask:#010x}"),
            (HmarkField.SPORT, "sport", f"{value >> 16:#06x}"),
            (HmarkField.DPORT, "dport", f"{value & 0xFFFF:#06x}"),
            (HmarkField.SPI, "spi", f"{value:#010x}"),
            (HmarkField.PROTO_MASK, "proto-mask", f"{options.proto_mask:#04x}"),
            (HmarkField.RND, "rnd", f"{options.rnd:#010x}"),
            (HmarkField.MOD, "mod", str(options.modulus)),
            (HmarkField.OFFSET, "offset", str(options.offset)),
        ):
            if has(field):
                out.append(f" --hmark-{name} {text}")
        if has(HmarkField.CT):
            out.append(" --hmark-tuple ct")
        return "".join(out)

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, HmarkTarget)
        last = (options.offset + options.modulus - 1) & U32
        note = f"mark = hash of the packet's tuple mod {options.modulus} + {options.offset}"
        if HmarkField.CT in options.fields:
            change = SetFrom("mark", _CT_SOURCES, _ct_hash(options, ctx.family), "HMARK mark")
            return Effect(changes=(change,), note=note.replace("packet's", "connection's"),
                          when=has_connection(), otherwise=Effect(
                              note="no connection: HMARK leaves the mark"))
        change = SetFrom("mark", _PACKET_SOURCES, _packet_hash(options, ctx.family),
                         "HMARK mark")
        return Effect(changes=(change,), note=f"{note} (one of {options.offset}-{last})")


_PACKET_SOURCES = ("src", "dst", "proto", "sport", "dport", "esp_spi", "ah_spi", "icmp_type",
                   "fragment")
_CT_SOURCES = ("ctorigsrc", "ctreplsrc", "proto", "ctorigsrcport", "ctreplsrcport", "ctstate",
               "ctproto")
_ICMP_ERRORS = {1: frozenset({3, 4, 5, 11, 12}), 58: frozenset(range(1, 128))}
_PORT_FIELDS = {50: "esp_spi", 51: "ah_spi"}

def _hasher(o: HmarkTarget, family: Family) -> Callable[[int, int, int, int], int]:
    bits = family.bits
    full = (1 << bits) - 1

    def mask(length: int, given: bool) -> int:
        return full ^ ((1 << (bits - length)) - 1) if given else 0

    src_mask = mask(o.src_prefix, HmarkField.SRC_PREFIX in o.fields)
    dst_mask = mask(o.dst_prefix, HmarkField.DST_PREFIX in o.fields)

    def compute(src: int, dst: int, ports: int, proto: int) -> int:
        return hmark_hash(src, dst, ports, proto, v6=family is Family.INET6, src_mask=src_mask,
                          dst_mask=dst_mask, port_mask=o.port_mask, port_set=o.port_set,
                          proto_mask=o.proto_mask, rnd=o.rnd, modulus=o.modulus,
                          offset=o.offset)

    return compute


def _fresh(o: HmarkTarget) -> ValueSet:
    return range_bits(o.offset, (o.offset + o.modulus - 1) & U32, 32)


def _packet_hash(o: HmarkTarget, family: Family
                 ) -> Callable[[tuple[ValueSet, ...]], ValueSet]:
    compute = _hasher(o, family)
    icmp = 1 if family is Family.INET else 58

    def run(values: tuple[ValueSet, ...]) -> ValueSet:
        known = dict(zip(_PACKET_SOURCES, (v.single_value() for v in values), strict=True))
        proto = known["proto"]
        if not all(isinstance(known[n], int) for n in ("src", "dst", "proto", "fragment")):
            return _fresh(o)
        assert isinstance(proto, int)
        ports = -1
        if proto == icmp:
            if not isinstance(known["icmp_type"], int) or known["icmp_type"] in _ICMP_ERRORS[
                    proto]:
                return _fresh(o)  # an ICMP error hashes the quoted header
        elif proto in HMARK_PORT_PROTOCOLS | {51} and known["fragment"] == 0:
            field = _PORT_FIELDS.get(proto)
            if field is None:
                sport, dport = known["sport"], known["dport"]
                if not (isinstance(sport, int) and isinstance(dport, int)):
                    return _fresh(o)
                ports = sport << 16 | dport
            else:
                spi = known[field]
                if not isinstance(spi, int):
                    return _fresh(o)
                ports = spi
        elif proto in HMARK_PORT_PROTOCOLS | {51}:
            ports = -1  # a fragment: no ports
        src, dst = known["src"], known["dst"]
        assert isinstance(src, int) and isinstance(dst, int)
        return _single(compute(src, dst, ports, proto))

    return run


def _ct_hash(o: HmarkTarget, family: Family) -> Callable[[tuple[ValueSet, ...]], ValueSet]:
    compute = _hasher(o, family)

    def run(values: tuple[ValueSet, ...]) -> ValueSet:
        src, dst, proto, sport, dport, state, ctproto = (v.single_value() for v in values)
        if state == RELATED:
            proto = ctproto  # an ICMP error belongs to the connection it quotes
        if not all(isinstance(v, int) for v in (src, dst, proto)):
            return _fresh(o)
        assert isinstance(src, int) and isinstance(dst, int) and isinstance(proto, int)
        if proto == 1:
            return _single(compute(src, dst, -1, proto))
        if proto not in (6, 17, 33, 132, 136):
            return _fresh(o)
        if not (isinstance(sport, int) and isinstance(dport, int)):
            return _fresh(o)
        return _single(compute(src, dst, sport << 16 | dport, proto))

    return run


def _single(mark: int) -> ValueSet:
    return BitSet.single(mark, 32)
