"""iprange match (libxt_iprange, revision 1): source/destination address within [lo, hi].

Ranges are inclusive pairs of integers; a single address is the range lo = hi (iptables-save
prints it `a-a`). A reversed range loads (iptables only warns that it never matches). IPv4
ends are read by xtables_numeric_to_ipaddr, so `10` is 10.0.0.0 and octal/hex parts are
allowed; IPv6 ends are read by inet_pton.

Semantics (xt_iprange): the address must lie in [lo, hi] (both ends included), `!` inverts
each test on its own; a reversed range holds no address, so it never matches (or, inverted,
always does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import format_ip
from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions, Family
from ._inet import numeric_to_ipaddr, numeric_to_ipaddr6
from ._pred import conj, invert
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

__all__ = ["AddressRange", "IPRangeMatch", "parse_range"]

AddressRange = tuple[int, int]


@dataclass(frozen=True, slots=True)
class IPRangeMatch(ExtOptions):
    """Inclusive address ranges (None: not tested) of the rule's family."""

    src: AddressRange | None = None
    src_invert: bool = False
    dst: AddressRange | None = None
    dst_invert: bool = False

    @property
    def src_reversed(self) -> bool:
        return self.src is not None and self.src[0] > self.src[1]

    @property
    def dst_reversed(self) -> bool:
        return self.dst is not None and self.dst[0] > self.dst[1]


def _end(text: str, family: Family, option: str, column: int) -> int:
    value = numeric_to_ipaddr(text) if family is Family.INET else numeric_to_ipaddr6(text)
    if value is None:
        raise OptionError(f"bad value `{text}' for --{option}: not an {family.value} address",
                          column)
    return value


def parse_range(text: str, family: Family, option: str, column: int = 0) -> AddressRange:
    """`ip` or `ip-ip` (split at the first dash)."""
    lo_text, dash, hi_text = text.partition("-")
    lo = _end(lo_text, family, option, column)
    hi = _end(hi_text, family, option, column) if dash else lo
    return (lo, hi)


@register
class IPRange(Extension):
    names = ("iprange",)
    options = (OptSpec("src-range", 1, True), OptSpec("dst-range", 1, True))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> IPRangeMatch:
        opts = one_of(args)
        if not opts:
            raise OptionError("you must specify --src-range or --dst-range")
        ranges: dict[str, AddressRange] = {
            name: parse_range(arg.value, ctx.family, name, arg.value_column())
            for name, arg in opts.items()
        }
        src, dst = opts.get("src-range"), opts.get("dst-range")
        return IPRangeMatch(ranges.get("src-range"), bool(src and src.invert),
                            ranges.get("dst-range"), bool(dst and dst.invert))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, IPRangeMatch)
        out = ""
        for name, value, inverted in (("src-range", options.src, options.src_invert),
                                      ("dst-range", options.dst, options.dst_invert)):
            if value is not None:
                lo, hi = (format_ip(v, ctx.family) for v in value)
                out += f"{' !' if inverted else ''} --{name} {lo}-{hi}"
        return out

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, IPRangeMatch)
        family: Family = ctx.family
        top = (1 << family.bits) - 1
        parts: list[Pred] = []
        for name, value, inverted in (("src", options.src, options.src_invert),
                                      ("dst", options.dst, options.dst_invert)):
            if value is None:
                continue
            lo, hi = value
            values = IntSet.range(lo, hi, top) if lo <= hi else IntSet.empty(top)
            shown = f"{format_ip(lo, family)}-{format_ip(hi, family)}"
            test = Test(name, values, f"{name} ∈ range {shown}", f"{name} ∉ range {shown}")
            parts.append(invert(test, inverted))
        return conj(*parts)
