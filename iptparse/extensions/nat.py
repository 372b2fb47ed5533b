"""DNAT, SNAT, MASQUERADE, REDIRECT and NETMAP (libxt_NAT, libip[6]t_NETMAP): the nat targets.

A NAT range is `[addr[-addr]][:port[-port[/base]]]`, IPv6 addresses in brackets when a port
follows. libxt_NAT's reading has corners kept here on purpose: one colon means a port (two or
more, an IPv6 address); a colon at index 0 or 2 means "no address" (so `10:80` is port 80 only);
the first port may be a service name, the last may not; `080` is octal 0 followed by garbage.
SNAT and MASQUERADE accept `/base` but their kernel structure has no room for it, so it comes
back as `/0`; REDIRECT refuses it. iptables 1.8.9 takes one `--to-*` option, not several.

Semantics: see `_d_nat` (the nat core's choices, MASQUERADE's and REDIRECT's addresses).
NETMAP maps the destination at PREROUTING and OUTPUT and the source at INPUT and POSTROUTING;
in a user chain reached from hooks of both kinds (or from hooks iptparse was not told) it is
not modelled: the rule's hook decides and one rule cannot tell it.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from ..nodes import Address, ExtOptions, Family
from ..semantics import CompileContext, Effect
from ..services import service_port
from ._checks import need_hooks, port_protocol
from ._cnum import xt_strtoul
from ._d_addr import host_text, parse_hostmask
from ._d_nat import (
    dnat_effect,
    masquerade_effect,
    netmap_effect,
    redirect_effect,
    snat_effect,
)
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

__all__ = ["NatTarget", "NetmapTarget", "parse_nat_range"]


@dataclass(frozen=True, slots=True)
class NatTarget(ExtOptions):
    """nf_nat_range2 as these targets fill it.

    `addresses` is the inclusive (first, last) range as written (the kernel takes it even when
    first > last); `ports` likewise; `base_port` is the `/base` offset of a shifted port map.
    None means "not given": the address or port is then left as it is (or, for MASQUERADE and
    REDIRECT, taken from the interface).
    """

    addresses: tuple[int, int] | None = None
    ports: tuple[int, int] | None = None
    base_port: int | None = None
    random: bool = False
    random_fully: bool = False
    persistent: bool = False


def _port_prefix(text: str, lo: int) -> tuple[int, str] | None:
    """xtables_strtoui with an end pointer: a number in lo..65535 and what follows it."""
    got = xt_strtoul(text, lo, 0xFFFF, whole=False)
    return None if got is None else (got.value, text[got.end:])


def _service(text: str, column: int) -> int:
    port = service_port(text)
    if port is None:
        raise OptionError(f"Port `{text}' not valid", column)
    return port


@lru_cache(maxsize=4096)  # pure; a kube-proxy node's endpoints repeat a few hundred ports
def _parse_ports(text: str, column: int) -> tuple[tuple[int, int], int | None]:
    got = _port_prefix(text, 0)
    if got is None:
        port, rest = _service(text, column), ""
    else:
        port, rest = got
    if not rest:
        return (port, port), None
    if rest[0] == ":":
        raise OptionError("Invalid port:port syntax - use dash", column)
    if rest[0] != "-":
        raise OptionError(f"Garbage after port value: `{rest}'", column)
    tail = rest[1:]
    got = _port_prefix(tail, 0)
    if got is None:
        raise OptionError(f"Port `{tail}' not valid", column)
    last, rest = got
    if last < port:
        raise OptionError(f"Port range `{tail}' funky", column)
    if not rest:
        return (port, last), None
    if rest[0] != "/":
        raise OptionError(f"Garbage after port range: `{rest}'", column)
    base_text = rest[1:]
    based = _port_prefix(base_text, 1)
    base = based[0] if based is not None else _service(base_text, column)
    return (port, last), base


def _inet(text: str, family: Family, column: int) -> int:
    kind = socket.AF_INET if family is Family.INET else socket.AF_INET6
    try:
        return int.from_bytes(socket.inet_pton(kind, text), "big")
    except OSError:
        raise OptionError(f"Bad IP address \"{text}\"", column) from None


def parse_nat_range(arg: OptArg, family: Family) -> NatTarget:
    """A `--to-destination` / `--to-source` value, read as libxt_NAT's parse_to does."""
    text = arg.value
    column = arg.value_column()
    bracket = text.find("[")
    if bracket >= 0:
        close = text.find("]", bracket + 1)
        if close < 0 or family is Family.INET:
            raise OptionError("Invalid address format", column)
        address_text = text[bracket + 1:close]
        found = text.find(":", close + 1)
        colon = found if found >= 0 else None
    else:
        found = text.find(":")
        colon = found if found >= 0 and ":" not in text[found + 1:] else None
        address_text = text if colon is None else text[:colon]
    ports: tuple[int, int] | None = None
    base: int | None = None
    if colon is not None:
        ports, base = _parse_ports(text[colon + 1:], column)
        if colon in (0, 2):  # "starts with colon or [] colon": no address
            return NatTarget(None, ports, base)
    first_text, dash, last_text = address_text.partition("-")
    first = _inet(first_text, family, column)
    last = _inet(last_text, family, column) if dash else first
    return NatTarget((first, last), ports, base)


def _parse_to_ports(arg: OptArg) -> NatTarget:
    ports, base = _parse_ports(arg.value, arg.value_column())
    return NatTarget(None, ports, base)


def _render_range(options: NatTarget, family: Family, skip_colon: bool) -> str:
    out = ""
    if options.addresses is not None:
        first, last = options.addresses
        out = host_text(first, family)
        if last != first:
            out += "-" + host_text(last, family)
        if family is Family.INET6 and options.ports is not None:
            out = f"[{out}]"
    if options.ports is not None:
        lo, hi = options.ports
        out += f":{lo}" if hi == lo else f":{lo}-{hi}"
        if options.base_port is not None:
            out += f"/{options.base_port}"
        if skip_colon and out.startswith(":"):
            out = out[1:]
    return out


class _Nat(Extension):
    """Shared by the four range targets; subclasses say which option carries the range."""

    kind = "target"
    tables = frozenset({"nat"})
    range_option: ClassVar[str] = ""
    hooks: ClassVar[tuple[str, ...]] = ()
    #: What the kernel structure does with `/base`: DNAT keeps it, SNAT and MASQUERADE have
    #: no room and print 0, REDIRECT's userspace refuses it.
    base_port: ClassVar[Literal["keep", "zero", "refuse"]] = "zero"
    flags: ClassVar[tuple[str, ...]] = ()

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NatTarget:
        opts = one_of(args)
        if self.range_option == "to-ports":
            target = _parse_to_ports(opts["to-ports"]) if "to-ports" in opts else NatTarget()
        else:
            if self.range_option not in opts:
                raise OptionError(f"option \"--{self.range_option}\" must be specified")
            target = parse_nat_range(opts[self.range_option], ctx.family)
        base = target.base_port
        if base is not None and self.base_port == "refuse":
            raise OptionError("Shifted portmap ranges not supported with this kernel",
                              opts[self.range_option].value_column())
        if base is not None and self.base_port == "zero":
            base = 0
        return NatTarget(target.addresses, target.ports, base, "random" in opts,
                         "random-fully" in opts, "persistent" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NatTarget)
        text = _render_range(options, ctx.family, self.range_option == "to-ports")
        out = f" --{self.range_option} {text}" if text else ""
        for name, on in (("random", options.random), ("random-fully", options.random_fully),
                         ("persistent", options.persistent)):
            if on:
                out += f" --{name}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, NatTarget)
        if options.ports is not None and not port_protocol(ctx):
            return "Need TCP, UDP, SCTP or DCCP with port specification"
        return need_hooks(ctx, self.hooks)


@register
class Dnat(_Nat):
    names = ("DNAT",)
    options = (OptSpec("to-destination", 1), OptSpec("random", 0), OptSpec("persistent", 0))
    range_option = "to-destination"
    hooks = ("PREROUTING", "OUTPUT")
    base_port = "keep"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NatTarget)
        return dnat_effect(options.addresses, options.ports,
                           (options.random, options.random_fully), ctx.family)


@register
class Snat(_Nat):
    names = ("SNAT",)
    options = (OptSpec("to-source", 1), OptSpec("random", 0), OptSpec("random-fully", 0),
               OptSpec("persistent", 0))
    range_option = "to-source"
    hooks = ("INPUT", "POSTROUTING")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NatTarget)
        return snat_effect(options.addresses, options.ports,
                           (options.random, options.random_fully), ctx.family)


@register
class Masquerade(_Nat):
    names = ("MASQUERADE",)
    options = (OptSpec("to-ports", 1), OptSpec("random", 0), OptSpec("random-fully", 0))
    range_option = "to-ports"
    hooks = ("POSTROUTING",)

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NatTarget)
        return masquerade_effect(options.ports, (options.random, options.random_fully), ctx)


@register
class Redirect(_Nat):
    names = ("REDIRECT",)
    options = (OptSpec("to-ports", 1), OptSpec("random", 0))
    range_option = "to-ports"
    hooks = ("PREROUTING", "OUTPUT")
    base_port = "refuse"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NatTarget)
        return redirect_effect(options.ports, (options.random, options.random_fully), ctx)


@dataclass(frozen=True, slots=True)
class NetmapTarget(ExtOptions):
    """Map the address onto `network`: bits inside its mask come from it, the rest stay."""

    network: Address


@register
class Netmap(Extension):
    kind = "target"
    names = ("NETMAP",)
    tables = frozenset({"nat"})
    options = (OptSpec("to", 1),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NetmapTarget:
        opts = one_of(args)
        if "to" not in opts:
            raise OptionError("option \"--to\" must be specified")
        address, length = parse_hostmask(opts["to"], ctx.family)
        bits = ctx.family.bits
        mask = ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
        return NetmapTarget(Address(ctx.family, address & mask, mask))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NetmapTarget)
        network = options.network
        length = network.prefix_length
        assert length is not None
        return f" --to {host_text(network.address, network.family)}/{length}"

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect | None:
        assert isinstance(options, NetmapTarget)
        hooks = {ctx.chain} if ctx.chain in _NETMAP_SIDE else set(ctx.hooks)
        sides = {_NETMAP_SIDE.get(hook) for hook in hooks}
        if len(sides) != 1 or None in sides:
            return None
        (side,) = sides
        assert side is not None and options.network.prefix_length is not None
        return netmap_effect(options.network.address, options.network.prefix_length, side,
                             ctx.family)


_NETMAP_SIDE = {"PREROUTING": "dst", "OUTPUT": "dst", "INPUT": "src", "POSTROUTING": "src"}
