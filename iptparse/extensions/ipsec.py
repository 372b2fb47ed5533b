"""IPsec header matches: esp (libxt_esp), ah (libipt_ah / libip6t_ah) and ipcomp (libxt_ipcomp).

Each matches a range of SPIs (CPIs for ipcomp). iptables-save leaves the SPI out when the
range is 0:4294967295, even when it is negated (a rule that then matches nothing prints as one
that matches everything: iptables 1.8.9 does that, so we do too). The IPv6 ah match also
knows the header length and its reserved field; the IPv4 one only SPIs.

Semantics (xt_esp, ipt_ah, ip6t_ah, xt_ipcomp): esp, ipcomp and the IPv4 ah read the header at
the transport offset and never match a non-first fragment; the SPI (`esp_spi`, `ah_spi`) or
the 16-bit CPI (`ipcomp_cpi`) must lie in the range, `^ !`. Without --ipcompspi the kernel's
range is 0:0, so the rule matches only CPI 0. The IPv6 ah finds the AH header anywhere in the
extension header chain (`ipv6_headers` has 0x08), then tests the SPI, the length in bytes
(`ah_len`, only when --ahlen is nonzero: `! --ahlen 0` tests nothing) and, with --ahres, that
the reserved field (`ah_reserved`) is zero. ipcomp's --compres is ignored by the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._checks import need_protocol
from ._cnum import ANY32, Range
from ._pred import bit_present, conj, first_fragment, in_range, invert
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

__all__ = ["AH_HEADER_BIT", "Ah", "AhMatch", "Esp", "Ipcomp", "SpiMatch", "ah6_predicate",
           "spi_predicate"]


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


#: The `ipv6_headers` bit of an AH header (ip6t_ipv6header's MASK_AH).
AH_HEADER_BIT = 3


def spi_predicate(field: str, spis: Range, inverted: bool) -> Pred:
    """The transport-header form: no later fragment, then the SPI range `^ !`."""
    return conj(first_fragment(), invert(in_range(field, spis[0], spis[1]), inverted))


def ah6_predicate(options: AhMatch) -> Pred:
    present = bit_present("ipv6_headers", AH_HEADER_BIT, "the packet has an AH header",
                          "the packet has no AH header")
    parts = [present, invert(in_range("ah_spi", options.spis[0], options.spis[1]),
                             options.spis_invert)]
    if options.length:
        parts.append(invert(in_range("ah_len", options.length, options.length),
                            options.length_invert))
    if options.reserved:
        parts.append(in_range("ah_reserved", 0, 0))
    return conj(*parts)


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

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, SpiMatch)
        return spi_predicate("esp_spi", options.spis, options.invert)


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

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, AhMatch)
        if ctx.family is Family.INET:
            return spi_predicate("ah_spi", options.spis, options.spis_invert)
        return ah6_predicate(options)


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

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, SpiMatch)
        return spi_predicate("ipcomp_cpi", options.spis, options.invert)
