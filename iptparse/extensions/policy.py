"""policy match (libxt_policy): the IPsec policy a packet was decapsulated by or will be
encapsulated by.

The rule describes a list of policy elements separated by `--next` (at most four, and only
with --strict). An element option not given is not tested; `mode` defaults to transport in the
kernel's structure, which is why --tunnel-src/--tunnel-dst need `--mode tunnel` (or
`! --mode transport`). With `--pol none` the element options are read but not kept, as in
iptables. Tunnel addresses are XTTYPE_HOSTMASK values (see `_c_host`).

Semantics (xt_policy). Whether IPsec is involved is a packet field: `ipsec_in` (the packet was
decapsulated: it has a sec_path; --dir in) and `ipsec_out` (its route encrypts it: an xfrm
bundle; --dir out), both 0 unless the user says otherwise. `--pol none` holds exactly when the
field is 0. `--pol ipsec` needs it 1 and then compares the IPsec states (SAs) with the
elements, which no dump shows: without --strict, some state must match the first element
(an element with no option matches any state, so that case is exact); with --strict, the
states must match the elements one to one, in order. That comparison is the assumption
`policy` ("the IPsec states match …"), pinned per rule.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..logic import Pred
from ..nodes import ExtOptions
from ..protocols import protocol_name
from ._c_host import HostMask, format_hostmask, parse_hostmask
from ._checks import hook_of
from ._cnum import U32, xt_parse_protocol
from ._pred import conj, flag, neg
from ._xtopt import xt_uint_option
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    register,
)

__all__ = ["Direction", "PolicyElement", "PolicyMatch", "PolicyMode"]

MAX_ELEMENTS = 4
IPSEC_PROTOCOLS = frozenset({50, 51, 108})  # esp, ah, ipcomp


class Direction(enum.Enum):
    IN = "in"
    OUT = "out"


class PolicyMode(enum.IntEnum):
    TRANSPORT = 0
    TUNNEL = 1


@dataclass(frozen=True, slots=True)
class PolicyElement:
    """One element of the policy; None fields are not tested."""

    reqid: int | None = None
    reqid_invert: bool = False
    spi: int | None = None
    spi_invert: bool = False
    proto: int | None = None
    proto_invert: bool = False
    mode: PolicyMode | None = None
    mode_invert: bool = False
    tunnel_src: HostMask | None = None
    tunnel_src_invert: bool = False
    tunnel_dst: HostMask | None = None
    tunnel_dst_invert: bool = False

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.reqid, self.spi, self.proto, self.mode,
                                       self.tunnel_src, self.tunnel_dst))


@dataclass(frozen=True, slots=True)
class PolicyMatch(ExtOptions):
    direction: Direction
    none: bool = False  # --pol none: the packet has no IPsec policy
    strict: bool = False
    elements: tuple[PolicyElement, ...] = field(default=())


_ELEMENT_FIELDS = {"reqid": "reqid", "spi": "spi", "proto": "proto", "mode": "mode",
                   "tunnel-src": "tunnel_src", "tunnel-dst": "tunnel_dst"}


def _protocol(arg: OptArg) -> int:
    number = xt_parse_protocol(arg.value)
    if number is None:
        raise OptionError(f"unknown protocol `{arg.value}'", arg.value_column())
    if number not in IPSEC_PROTOCOLS:
        raise OptionError("--proto must be ah, esp or ipcomp", arg.value_column())
    return number


def _mode(arg: OptArg) -> PolicyMode:
    if arg.value not in ("transport", "tunnel"):
        raise OptionError(f"invalid mode `{arg.value}' (transport or tunnel)",
                          arg.value_column())
    return PolicyMode[arg.value.upper()]


def _with(element: PolicyElement, arg: OptArg, ctx: ExtContext) -> PolicyElement:
    """The element with one more option set."""
    inv = arg.invert
    if arg.name in ("reqid", "spi"):
        number = xt_uint_option(arg.value, 0, U32, arg.name, arg.value_column())
        if arg.name == "reqid":
            return replace(element, reqid=number, reqid_invert=inv)
        return replace(element, spi=number, spi_invert=inv)
    if arg.name == "proto":
        return replace(element, proto=_protocol(arg), proto_invert=inv)
    if arg.name == "mode":
        return replace(element, mode=_mode(arg), mode_invert=inv)
    address = parse_hostmask(arg.value, ctx.family, arg.name, arg.value_column())
    if arg.name == "tunnel-src":
        return replace(element, tunnel_src=address, tunnel_src_invert=inv)
    return replace(element, tunnel_dst=address, tunnel_dst_invert=inv)


def _read(args: Sequence[OptArg], ctx: ExtContext) -> tuple[dict[str, OptArg],
                                                            list[PolicyElement], list[int]]:
    """The single options, the elements, and where each element's first tunnel option is."""
    single: dict[str, OptArg] = {}
    elements = [PolicyElement()]
    tunnel_columns = [0]
    for arg in args:
        if arg.name in ("dir", "pol", "strict"):
            if arg.name in single:
                raise OptionError(f"option --{arg.name} given twice", arg.column)
            single[arg.name] = arg
        elif arg.name == "next":
            if len(elements) == MAX_ELEMENTS:
                raise OptionError(f"maximum policy depth ({MAX_ELEMENTS} elements) reached",
                                  arg.column)
            elements.append(PolicyElement())
            tunnel_columns.append(0)
        else:
            attr = _ELEMENT_FIELDS[arg.name]
            if getattr(elements[-1], attr) is not None:
                raise OptionError(f"--{arg.name} given twice in one policy element",
                                  arg.column)
            elements[-1] = _with(elements[-1], arg, ctx)
            if arg.name.startswith("tunnel-") and not tunnel_columns[-1]:
                tunnel_columns[-1] = arg.column
    return single, elements, tunnel_columns


def _check_elements(elements: list[PolicyElement], strict: bool,
                    tunnel_columns: list[int]) -> None:
    for index, element in enumerate(elements):
        if strict and element.empty:
            raise OptionError(f"empty policy element {index}: with --strict each element "
                              f"needs reqid, spi, tunnel-src, tunnel-dst, proto or mode")
        mode = PolicyMode.TRANSPORT if element.mode is None else element.mode
        transport = (mode is PolicyMode.TRANSPORT) != element.mode_invert
        if (element.tunnel_src or element.tunnel_dst) and transport:
            raise OptionError("--tunnel-src/--tunnel-dst are only valid in tunnel mode "
                              "(add --mode tunnel)", tunnel_columns[index])


@register
class Policy(Extension):
    """Fields `ipsec_in`, `ipsec_out`; assumption kind `policy` (holds = the IPsec states match
    the elements)."""

    names = ("policy",)
    options = (
        OptSpec("dir", 1),
        OptSpec("pol", 1),
        OptSpec("strict", 0),
        OptSpec("reqid", 1, True),
        OptSpec("spi", 1, True),
        OptSpec("proto", 1, True),
        OptSpec("mode", 1, True),
        OptSpec("tunnel-src", 1, True),
        OptSpec("tunnel-dst", 1, True),
        OptSpec("next", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> PolicyMatch:
        single, elements, tunnel_columns = _read(args, ctx)
        nexts = [a for a in args if a.name == "next"]
        if nexts and "strict" not in single:
            raise OptionError("--next also requires --strict", nexts[0].column)
        direction = single.get("dir")
        if direction is None:
            raise OptionError("neither --dir in nor --dir out specified")
        if direction.value not in ("in", "out"):
            raise OptionError(f"invalid dir `{direction.value}' (in or out)",
                              direction.value_column())
        pol = single.get("pol")
        if pol is not None and pol.value not in ("none", "ipsec"):
            raise OptionError(f"invalid policy `{pol.value}' (none or ipsec)",
                              pol.value_column())
        none = pol is not None and pol.value == "none"
        strict = "strict" in single
        if none:
            if strict:
                raise OptionError("--pol none cannot be combined with --strict",
                                  single["strict"].column)
            return PolicyMatch(Direction(direction.value), True, False, ())
        _check_elements(elements, strict, tunnel_columns)
        return PolicyMatch(Direction(direction.value), False, strict, tuple(elements))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, PolicyMatch)
        out = [f" --dir {options.direction.value}",
               f" --pol {'none' if options.none else 'ipsec'}"]
        if options.strict:
            out.append(" --strict")
        for index, element in enumerate(options.elements):
            if index:
                out.append(" --next")
            out.append(_render_element(element))
        return "".join(out)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, PolicyMatch)
        hook = hook_of(ctx)
        if options.direction is Direction.OUT and hook in ("PREROUTING", "INPUT"):
            return f"--dir out is not valid in {hook}"
        if options.direction is Direction.IN and hook in ("POSTROUTING", "OUTPUT"):
            return f"--dir in is not valid in {hook}"
        return None


    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, PolicyMatch)
        if options.direction is Direction.IN:
            ipsec = flag("ipsec_in", 1, "the packet came through IPsec",
                         "the packet did not come through IPsec")
        else:
            ipsec = flag("ipsec_out", 1, "the packet leaves through IPsec",
                         "the packet does not leave through IPsec")
        if options.none:
            return neg(ipsec)
        states = "the packet's IPsec states" if options.direction is Direction.IN else (
            "the IPsec states of the packet's route")
        if not options.strict:
            if options.elements[0].empty:
                return ipsec
            element = _render_element(options.elements[0]).strip()
            condition = ctx.assume("policy", f"one of {states} matches {element}",
                                   f"none of {states} matches {element}")
        else:
            elements = " --next ".join(_render_element(e).strip() for e in options.elements)
            count = len(options.elements)
            condition = ctx.assume(
                "policy", f"{states} are exactly {count}, matching {elements} in order",
                f"{states} are not exactly {count} matching {elements} in order")
        return conj(ipsec, condition)


def _render_element(e: PolicyElement) -> str:
    def neg(flag: bool) -> str:
        return " !" if flag else ""

    out = ""
    if e.reqid is not None:
        out += f"{neg(e.reqid_invert)} --reqid {e.reqid}"
    if e.spi is not None:
        out += f"{neg(e.spi_invert)} --spi {e.spi:#x}"
    if e.proto is not None:
        out += f"{neg(e.proto_invert)} --proto {protocol_name(e.proto) or e.proto}"
    if e.mode is not None:
        out += f"{neg(e.mode_invert)} --mode {e.mode.name.lower()}"
    if e.tunnel_dst is not None:
        out += f"{neg(e.tunnel_dst_invert)} --tunnel-dst {format_hostmask(e.tunnel_dst)}"
    if e.tunnel_src is not None:
        out += f"{neg(e.tunnel_src_invert)} --tunnel-src {format_hostmask(e.tunnel_src)}"
    return out
