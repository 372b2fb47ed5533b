"""addrtype match (libxt_addrtype): the route type of the source or destination address.

Types are kept as the kernel's bitmask (bit n is route type n, RTN_UNICAST = 1, RTN_LOCAL = 2,
…) because that is what the match tests: the route lookup's type must be in the set. iptables
reads each name as a case-insensitive *prefix* (`loc` is LOCAL, `U` is UNSPEC, the first type
the prefix fits) and prints the set in type order.

Semantics: see `_c_addrtype` (exact with the host's addresses, assumptions such as
`dst-local` without them). `!` inverts the source and destination tests separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..logic import Pred
from ..nodes import ExtOptions, Family
from ._c_addr import addresses_of
from ._c_addrtype import type_predicate
from ._checks import only_at_hooks
from ._pred import conj, invert
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

__all__ = ["ROUTE_TYPES", "AddrTypeMatch", "format_types", "parse_types"]

#: rtnetlink route types in number order (RTN_UNSPEC = 0 …).
ROUTE_TYPES: tuple[str, ...] = (
    "UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
    "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE",
)
_BLACKHOLE, _BROADCAST, _PROHIBIT = 1 << 6, 1 << 3, 1 << 8


@dataclass(frozen=True, slots=True)
class AddrTypeMatch(ExtOptions):
    """Route-type bitmasks (0: not tested) and the interface limitation flags."""

    src_types: int = 0
    src_invert: bool = False
    dst_types: int = 0
    dst_invert: bool = False
    limit_iface_in: bool = False
    limit_iface_out: bool = False

    @property
    def src_names(self) -> frozenset[str]:
        return frozenset(n for i, n in enumerate(ROUTE_TYPES) if self.src_types >> i & 1)

    @property
    def dst_names(self) -> frozenset[str]:
        return frozenset(n for i, n in enumerate(ROUTE_TYPES) if self.dst_types >> i & 1)


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _one_type(word: str, whole: str, column: int) -> int:
    if word:
        wanted = word.translate(_ASCII_UPPER)  # strncasecmp folds ASCII letters only
        for index, name in enumerate(ROUTE_TYPES):
            if name.startswith(wanted):
                return 1 << index
    raise OptionError(f"bad address type `{word or whole}' (one of {', '.join(ROUTE_TYPES)})",
                      column)


def parse_types(text: str, column: int = 0) -> int:
    """A comma-separated list of (prefixes of) route type names, as a bitmask."""
    mask = 0
    for word in text.split(","):
        mask |= _one_type(word, text, column)
    return mask


def format_types(mask: int) -> str:
    return ",".join(name for i, name in enumerate(ROUTE_TYPES) if mask >> i & 1)


@register
class AddrType(Extension):
    """Assumption kinds without `--addrs`: `src-local`/`dst-local`, `src-broadcast`/
    `dst-broadcast`, `src-local-iif`/`dst-local-oif`... (with an interface limit), and for IPv6
    `dst-anycast`/`dst-unreachable`: one key per question, shared by all rules."""

    names = ("addrtype",)
    options = (
        OptSpec("src-type", 1, True),
        OptSpec("dst-type", 1, True),
        OptSpec("limit-iface-in", 0),
        OptSpec("limit-iface-out", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> AddrTypeMatch:
        opts = one_of(args)
        if "limit-iface-in" in opts and "limit-iface-out" in opts:
            second = max(opts["limit-iface-in"], opts["limit-iface-out"], key=lambda a: a.column)
            raise OptionError("--limit-iface-in and --limit-iface-out cannot be combined",
                              second.column)
        src = opts.get("src-type")
        dst = opts.get("dst-type")
        if src is None and dst is None:
            raise OptionError("you must specify --src-type or --dst-type")
        return AddrTypeMatch(
            parse_types(src.value, src.value_column()) if src else 0,
            bool(src and src.invert),
            parse_types(dst.value, dst.value_column()) if dst else 0,
            bool(dst and dst.invert),
            "limit-iface-in" in opts,
            "limit-iface-out" in opts,
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, AddrTypeMatch)
        out = ""
        if options.src_types:
            out += f"{' !' if options.src_invert else ''} --src-type "
            out += format_types(options.src_types)
        if options.dst_types:
            out += f"{' !' if options.dst_invert else ''} --dst-type "
            out += format_types(options.dst_types)
        if options.limit_iface_in:
            out += " --limit-iface-in"
        if options.limit_iface_out:
            out += " --limit-iface-out"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, AddrTypeMatch)
        if options.limit_iface_out:
            problem = only_at_hooks(ctx, ("FORWARD", "OUTPUT", "POSTROUTING"), "--limit-iface-out")
            if problem:
                return problem
        if options.limit_iface_in:
            problem = only_at_hooks(ctx, ("PREROUTING", "INPUT", "FORWARD"), "--limit-iface-in")
            if problem:
                return problem
        if ctx.family is Family.INET6:
            types = options.src_types | options.dst_types
            if types & _BLACKHOLE:
                return "IPv6 does not support BLACKHOLE matching"
            if types >= _PROHIBIT:
                return "IPv6 does not support PROHIBIT, THROW, NAT or XRESOLVE matching"
            if types & _BROADCAST:
                return "IPv6 does not support BROADCAST matching"
        return None

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, AddrTypeMatch)
        device = "iif" if options.limit_iface_in else "oif" if options.limit_iface_out else None
        host = addresses_of(ctx)
        parts: list[Pred] = []
        for field, types, inverted in (("src", options.src_types, options.src_invert),
                                       ("dst", options.dst_types, options.dst_invert)):
            if types:
                parts.append(invert(type_predicate(field, types, ctx.family, host, device),
                                    inverted))
        return conj(*parts)
