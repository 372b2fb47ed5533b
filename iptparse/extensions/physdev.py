"""physdev match (libxt_physdev): the bridge ports a bridged packet entered and leaves by.

Port names are kept as `Interface` values (a trailing `+` is a prefix wildcard). The three
`--physdev-is-*` tests are tri-state like `Rule.fragment`: None when absent, True when given,
False when negated. iptables-save prints names unquoted, whatever they contain.

Semantics (xt_physdev), on the fields `bridged`, `physin` and `physout` (empty: no port):
- a packet that is not bridged (no br_netfilter data) matches exactly when every option given
  is negated;
- a bridged one: --physdev-is-bridged wants an output port, --physdev-is-in an input port,
  --physdev-is-out an output port (each `!` wants none); --physdev-in and --physdev-out compare
  the port name (a `+` suffix is a prefix) when there is such a port, and pass when there is
  none, negated or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet, NameSet
from ..logic import TRUE, Const, Pred, Test
from ..nodes import ExtOptions, Interface
from ._checks import hook_of
from ._pred import conj, disj, invert, neg, when
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

__all__ = ["PhysdevMatch"]

IFNAMSIZ = 16


@dataclass(frozen=True, slots=True)
class PhysdevMatch(ExtOptions):
    physdev_in: Interface | None = None
    physdev_out: Interface | None = None
    is_in: bool | None = None
    is_out: bool | None = None
    is_bridged: bool | None = None


def _port(arg: OptArg) -> Interface:
    if len(arg.value.encode()) >= IFNAMSIZ:
        raise OptionError(f"interface name `{arg.value}' must be shorter than IFNAMSIZ "
                          f"({IFNAMSIZ - 1})", arg.value_column())
    return Interface(arg.value, arg.invert)


def _flag(value: bool | None) -> str:
    return "" if value else " !"


@register
class Physdev(Extension):
    """Fields `bridged`, `physin`, `physout`."""

    names = ("physdev",)
    options = (
        OptSpec("physdev-in", 1, True),
        OptSpec("physdev-out", 1, True),
        OptSpec("physdev-is-in", 0, True),
        OptSpec("physdev-is-out", 0, True),
        OptSpec("physdev-is-bridged", 0, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> PhysdevMatch:
        opts = one_of(args)
        if not opts:
            raise OptionError("no physdev option specified")

        def tri(name: str) -> bool | None:
            arg = opts.get(name)
            return None if arg is None else not arg.invert

        return PhysdevMatch(
            _port(opts["physdev-in"]) if "physdev-in" in opts else None,
            _port(opts["physdev-out"]) if "physdev-out" in opts else None,
            tri("physdev-is-in"),
            tri("physdev-is-out"),
            tri("physdev-is-bridged"),
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, PhysdevMatch)
        out = ""
        if options.is_in is not None:
            out += f"{_flag(options.is_in)} --physdev-is-in"
        if options.physdev_in is not None:
            port = options.physdev_in
            out += f"{' !' if port.invert else ''} --physdev-in {port.name}"
        if options.is_out is not None:
            out += f"{_flag(options.is_out)} --physdev-is-out"
        if options.physdev_out is not None:
            port = options.physdev_out
            out += f"{' !' if port.invert else ''} --physdev-out {port.name}"
        if options.is_bridged is not None:
            out += f"{_flag(options.is_bridged)} --physdev-is-bridged"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, PhysdevMatch)
        # The output port of a locally generated packet is only known for bridged traffic.
        uses_out = options.physdev_out is not None or options.is_out is not None
        if uses_out and options.is_bridged is not True and hook_of(ctx) == "OUTPUT":
            return ("--physdev-out and --physdev-is-out need --physdev-is-bridged in the "
                    "OUTPUT chain")
        return None

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, PhysdevMatch)
        return _physdev_predicate(options)


def _no_port(field: str, what: str) -> Test:
    return Test(field, NameSet.single(""), f"the packet has no bridge {what} port",
                f"the packet has a bridge {what} port")


def _physdev_predicate(o: PhysdevMatch) -> Pred:
    given: list[bool] = []  # per option given: was it negated?
    for flag_value in (o.is_bridged, o.is_in, o.is_out):
        if flag_value is not None:
            given.append(not flag_value)
    for port in (o.physdev_in, o.physdev_out):
        if port is not None:
            given.append(port.invert)
    unbridged: Pred = Const(all(given))
    no_in, no_out = _no_port("physin", "input"), _no_port("physout", "output")
    parts: list[Pred] = []
    for wanted, absent in ((o.is_bridged, no_out), (o.is_in, no_in), (o.is_out, no_out)):
        if wanted is not None:
            parts.append(neg(absent) if wanted else absent)
    for field, port, absent in (("physin", o.physdev_in, no_in),
                                ("physout", o.physdev_out, no_out)):
        if port is not None:
            name = Test(field, NameSet.of(port.name), f"{field} matches {port.name}",
                        f"{field} does not match {port.name}")
            parts.append(disj(absent, invert(name, port.invert)))
    bridged = Test("bridged", IntSet.single(1, 1), "the packet is bridged",
                   "the packet is not bridged")
    return when(bridged, conj(*parts) if parts else TRUE, unbridged)
