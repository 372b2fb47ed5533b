"""icmp and icmp6 matches (libipt_icmp, libip6t_icmp6): an ICMP type and a range of codes.

Both read `type[/code]` numbers or a name from the tables below (any unambiguous prefix, in any
letter case) and save numbers: names are only ever written by hand (every iptables-save since
at least 1.3 prints `--icmp-type 8`, `3/4` or `any`), so a name is not kept.

Semantics (the kernel's icmp_match / icmp6_match): a non-first fragment never matches, whatever
the `!`; otherwise `(type matches and code in range) ^ invert`. IPv4 type 255 (`any`) matches
every ICMP packet, so `! --icmp-type any` matches none; ICMPv6 has no such wildcard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import TRUE, Pred
from ..nodes import ExtOptions, Family
from ._checks import need_protocol
from ._cnum import Range, c_lower, xt_strtoul
from ._pred import conj, first_fragment, in_range, invert
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

__all__ = ["ICMPV6_NAMES", "ICMP_ANY", "ICMP_NAMES", "Icmp", "Icmp6", "IcmpMatch",
           "icmp_predicate"]

ALL_CODES: Range = (0, 0xFF)
#: The IPv4 type that matches every ICMP packet, whatever its code ("any").
ICMP_ANY = 0xFF

# (name, type, (lowest code, highest code)) in iptables' order; later names with the same
# type and codes are aliases.
ICMP_NAMES: tuple[tuple[str, int, Range], ...] = (
    ("any", 0xFF, ALL_CODES),
    ("echo-reply", 0, ALL_CODES), ("pong", 0, ALL_CODES),
    ("destination-unreachable", 3, ALL_CODES),
    ("network-unreachable", 3, (0, 0)), ("host-unreachable", 3, (1, 1)),
    ("protocol-unreachable", 3, (2, 2)), ("port-unreachable", 3, (3, 3)),
    ("fragmentation-needed", 3, (4, 4)), ("source-route-failed", 3, (5, 5)),
    ("network-unknown", 3, (6, 6)), ("host-unknown", 3, (7, 7)),
    ("network-prohibited", 3, (9, 9)), ("host-prohibited", 3, (10, 10)),
    ("TOS-network-unreachable", 3, (11, 11)), ("TOS-host-unreachable", 3, (12, 12)),
    ("communication-prohibited", 3, (13, 13)), ("host-precedence-violation", 3, (14, 14)),
    ("precedence-cutoff", 3, (15, 15)),
    ("source-quench", 4, ALL_CODES),
    ("redirect", 5, ALL_CODES),
    ("network-redirect", 5, (0, 0)), ("host-redirect", 5, (1, 1)),
    ("TOS-network-redirect", 5, (2, 2)), ("TOS-host-redirect", 5, (3, 3)),
    ("echo-request", 8, ALL_CODES), ("ping", 8, ALL_CODES),
    ("router-advertisement", 9, ALL_CODES),
    ("router-solicitation", 10, ALL_CODES),
    ("time-exceeded", 11, ALL_CODES), ("ttl-exceeded", 11, ALL_CODES),
    ("ttl-zero-during-transit", 11, (0, 0)), ("ttl-zero-during-reassembly", 11, (1, 1)),
    ("parameter-problem", 12, ALL_CODES),
    ("ip-header-bad", 12, (0, 0)), ("required-option-missing", 12, (1, 1)),
    ("timestamp-request", 13, ALL_CODES),
    ("timestamp-reply", 14, ALL_CODES),
    ("address-mask-request", 17, ALL_CODES),
    ("address-mask-reply", 18, ALL_CODES),
)

ICMPV6_NAMES: tuple[tuple[str, int, Range], ...] = (
    ("destination-unreachable", 1, ALL_CODES),
    ("no-route", 1, (0, 0)), ("communication-prohibited", 1, (1, 1)),
    ("beyond-scope", 1, (2, 2)), ("address-unreachable", 1, (3, 3)),
    ("port-unreachable", 1, (4, 4)), ("failed-policy", 1, (5, 5)),
    ("reject-route", 1, (6, 6)),
    ("packet-too-big", 2, ALL_CODES),
    ("time-exceeded", 3, ALL_CODES), ("ttl-exceeded", 3, ALL_CODES),
    ("ttl-zero-during-transit", 3, (0, 0)), ("ttl-zero-during-reassembly", 3, (1, 1)),
    ("parameter-problem", 4, ALL_CODES),
    ("bad-header", 4, (0, 0)), ("unknown-header-type", 4, (1, 1)),
    ("unknown-option", 4, (2, 2)),
    ("echo-request", 128, ALL_CODES), ("ping", 128, ALL_CODES),
    ("echo-reply", 129, ALL_CODES), ("pong", 129, ALL_CODES),
    ("router-solicitation", 133, ALL_CODES),
    ("router-advertisement", 134, ALL_CODES),
    ("neighbour-solicitation", 135, ALL_CODES), ("neighbor-solicitation", 135, ALL_CODES),
    ("neighbour-advertisement", 136, ALL_CODES), ("neighbor-advertisement", 136, ALL_CODES),
    ("redirect", 137, ALL_CODES),
)


@dataclass(frozen=True, slots=True)
class IcmpMatch(ExtOptions):
    """A packet matches when its type is `type` and its code lies in `codes` (for IPv4, type
    255 matches every packet), the result negated by `invert`."""

    type: int
    codes: Range = ALL_CODES
    invert: bool = False


def _by_name(text: str, table: tuple[tuple[str, int, Range], ...], what: str,
             column: int) -> tuple[str, int, Range] | None:
    """The entry a prefix names, as iptables' strncasecmp loop finds it (ambiguity is an error)."""
    found = [entry for entry in table if c_lower(entry[0]).startswith(c_lower(text))]
    if len(found) > 1:
        raise OptionError(f"ambiguous {what} type `{text}': `{found[0][0]}' or "
                          f"`{found[1][0]}'?", column)
    return found[0] if found else None


def parse_icmp_type(text: str, table: tuple[tuple[str, int, Range], ...], what: str,
                    column: int) -> tuple[int, Range]:
    """`name`, `type` or `type/code`: the type and its range of codes."""
    entry = _by_name(text, table, what, column)
    if entry is not None:
        return entry[1], entry[2]
    number = xt_strtoul(text, 0, 0xFF, whole=False)
    if number is None:
        raise OptionError(f"unknown {what} type `{text}'", column)
    end = number.end
    codes = ALL_CODES
    if text[end : end + 1] == "/":
        code = xt_strtoul(text, 0, 0xFF, whole=False, start=end + 1)
        if code is None:
            raise OptionError(f"unknown {what} code in `{text}' (expected 0-255 after /)",
                              column + end + 1)
        codes = (code.value, code.value)
        end = code.end
    if end < len(text):
        raise OptionError(f"unexpected character `{text[end]}' in {what} type `{text}'",
                          column + end)
    return number.value, codes


def icmp_predicate(options: IcmpMatch, wildcard: bool) -> Pred:
    """The match's meaning; `wildcard` says type 255 means any type (IPv4 only)."""
    if wildcard and options.type == ICMP_ANY:
        inner: Pred = TRUE
    else:
        inner = conj(in_range("icmp_type", options.type, options.type),
                     in_range("icmp_code", options.codes[0], options.codes[1]))
    return conj(first_fragment(), invert(inner, options.invert))


def _render(keyword: str, options: IcmpMatch) -> str:
    invert = " !" if options.invert else ""
    code = "" if options.codes == ALL_CODES else f"/{options.codes[0]}"
    return f"{invert} --{keyword} {options.type}{code}"


@register
class Icmp(Extension):
    names = ("icmp",)
    options = (OptSpec("icmp-type", 1, True),)
    families = frozenset({Family.INET})

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> IcmpMatch:
        arg = one_of(args).get("icmp-type")
        if arg is None:
            raise OptionError("--icmp-type is required")
        type_, codes = parse_icmp_type(arg.value, ICMP_NAMES, "ICMP", arg.value_column())
        if type_ == ICMP_ANY:
            codes = ALL_CODES  # the kernel ignores the codes of type 255
        return IcmpMatch(type_, codes, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, IcmpMatch)
        if options.type == ICMP_ANY:
            return f"{' !' if options.invert else ''} --icmp-type any"
        return _render("icmp-type", options)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 1, "icmp")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, IcmpMatch)
        return icmp_predicate(options, wildcard=True)


@register
class Icmp6(Extension):
    names = ("icmp6",)
    options = (OptSpec("icmpv6-type", 1, True),)
    families = frozenset({Family.INET6})

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> IcmpMatch:
        arg = one_of(args).get("icmpv6-type")
        if arg is None:
            raise OptionError("--icmpv6-type is required")
        type_, codes = parse_icmp_type(arg.value, ICMPV6_NAMES, "ICMPv6", arg.value_column())
        return IcmpMatch(type_, codes, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, IcmpMatch)
        return _render("icmpv6-type", options)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 58, "ipv6-icmp")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, IcmpMatch)
        return icmp_predicate(options, wildcard=False)
