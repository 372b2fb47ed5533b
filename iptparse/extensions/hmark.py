"""HMARK (libxt_HMARK): set the packet mark from a hash of chosen header fields.

`mark = hash(fields & masks, rnd) % mod + offset`. --hmark-tuple is shorthand: each word (a
case-insensitive prefix: `s` is src, `sp` sport) sets a full mask, so `--hmark-tuple src` prints
as `--hmark-src-prefix 32`; only `ct` prints as a tuple. Port masks and the SPI mask share one
32-bit field in the kernel (source port in the high half, as the SPI's first bytes), and so do
the port and SPI "or" values; they are kept that way so overlapping options print as iptables
prints them. An option the tuple already set cannot be given again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ._d_addr import parse_plenmask
from ._d_num import U32, xt_uint_arg
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
