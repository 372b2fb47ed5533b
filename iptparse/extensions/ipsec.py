"""IPsec header matches: esp (libxt_esp), ah (libipt_ah / libip6t_ah) and ipcomp (libxt_ipcomp).

Each matches a range of SPIs (CPIs for ipcomp). iptables-save leaves the SPI out when the
range is 0:4294967295, even when it is negated (a rule that then matches nothing prints as one
that matches everything: iptables 1.8.9 does that, so we do too). The IPv6 ah match also
knows the header length and its reserved field; the IPv4 one only SPIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ._b_check import need_protocol
from ._b_num import ANY32, Range, format_range, parse_int_option, parse_range_option
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

__all__ = ["Ah", "AhMatch", "Esp", "Ipcomp", "SpiMatch"]


@dataclass(frozen=True, slots=True)
class SpiMatch(ExtOptions):
    """esp and ipcomp: the SPI (CPI) lies in `spis`, negated by `invert`; `reserved` is
    ipcomp's --compres (the reserved field must be zero)."""

    spis: Range = ANY32
    invert: bool = False
    reserved: bool = False


@dataclass(frozen=True, slots=True)
class AhMatch(ExtOptions):
    """ah: SPI range; for IPv6 also the header length (0: any) and the reserved field."""

    spis: Range = ANY32
    spis_invert: bool = False
    length: int = 0
    length_invert: bool = False
    reserved: bool = False


def _spis(options: dict[str, OptArg], name: str, default: Range) -> tuple[Range, bool]:
    arg = options.get(name)
    if arg is None:
        return default, False
    return parse_range_option(arg, 0xFFFFFFFF), arg.invert


def _render_spis(name: str, spis: Range, invert: bool) -> str:
    if spis == ANY32:
        return ""
    return f"{' !' if invert else ''} --{name} {format_range(spis)}"


@register
class Esp(Extension):
    names = ("esp",)
    options = (OptSpec("espspi", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SpiMatch:
        spis, invert = _spis(one_of(args), "espspi", ANY32)
        return SpiMatch(spis, invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SpiMatch)
        return _render_spis("espspi", options.spis, options.invert)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 50, "esp")


@register
class Ah(Extension):
    names = ("ah",)
    # --ahlen and --ahres exist only in ip6tables; parse refuses them for IPv4.
    options = (OptSpec("ahspi", 1, True), OptSpec("ahlen", 1, True), OptSpec("ahres", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> AhMatch:
        options = one_of(args)
        if ctx.family is Family.INET:
            for name in ("ahlen", "ahres"):
                if name in options:
                    raise OptionError(f"--{name} is only known to ip6tables", options[name].column)
        spis, spis_invert = _spis(options, "ahspi", ANY32)
        length, length_invert = 0, False
        if "ahlen" in options:
            length = parse_int_option(options["ahlen"], 0, 0xFFFFFFFF)
            length_invert = options["ahlen"].invert
        return AhMatch(spis, spis_invert, length, length_invert, "ahres" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, AhMatch)
        out = _render_spis("ahspi", options.spis, options.spis_invert)
        if options.length or options.length_invert:
            out += f"{' !' if options.length_invert else ''} --ahlen {options.length}"
        if options.reserved:
            out += " --ahres"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        # ip6t_ah finds the header among the extension headers; only the IPv4 match is tied
        # to the protocol of the rule
        return need_protocol(ctx, 51, "ah") if ctx.family is Family.INET else None


@register
class Ipcomp(Extension):
    names = ("ipcomp",)
    options = (OptSpec("ipcompspi", 1, True), OptSpec("compres", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SpiMatch:
        options = one_of(args)
        # without --ipcompspi the kernel gets the range 0:0, which iptables-save prints
        spis, invert = _spis(options, "ipcompspi", (0, 0))
        return SpiMatch(spis, invert, "compres" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SpiMatch)
        out = _render_spis("ipcompspi", options.spis, options.invert)
        return out + (" --compres" if options.reserved else "")

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 108, "ipcomp")
