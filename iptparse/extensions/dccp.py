"""dccp match (libxt_dccp): ports, packet types and a DCCP option number.

Ports go through getaddrinfo like every libxtables port option, not through strtoul: they are
decimal only, wrap modulo 65536 (`--sport 65537` is port 1) and may be service names of any
protocol.

Semantics (xt_dccp): a non-first fragment never matches; each given part is `test ^ its !`:
ports in range, the packet type (`dccp_type`) in the list, the option type among those the
kernel's option walk finds (`dccp_options`). Headers too short for their own data offset, which
the kernel drops on the spot, are not modelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ._checks import need_protocol
from ._cnum import Range, c_lower, getaddrinfo_port
from ._pred import bit_present, conj, first_fragment, in_range, invert
from ._xtopt import format_range, parse_int_option
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

__all__ = ["DCCP_TYPES", "Dccp", "DccpMatch", "dccp_predicate", "parse_port_range_getaddrinfo"]

#: Packet type names by type number (REQUEST is 0 … INVALID is 10).
DCCP_TYPES: tuple[str, ...] = (
    "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
    "SYNCACK", "INVALID",
)


@dataclass(frozen=True, slots=True)
class DccpMatch(ExtOptions):
    """None for a part the rule does not test; `types` holds packet type numbers."""

    sport: Range | None = None
    sport_invert: bool = False
    dport: Range | None = None
    dport_invert: bool = False
    types: frozenset[int] | None = None
    types_invert: bool = False
    option: int | None = None
    option_invert: bool = False


def parse_port_range_getaddrinfo(arg: OptArg) -> Range:
    """XTTYPE_PORTRC: `port`, `lo:hi` with either end optional (an empty word is port 0)."""
    text, column = arg.value, arg.value_column()
    parts = text.split(":")
    if len(parts) > 2:
        raise OptionError(f"too many `:' in --{arg.name} `{text}' (at most lo:hi)", column)
    values = []
    offset = 0
    for index, part in enumerate(parts):
        if not part:
            values.append(0xFFFF if index == 1 else 0)
        else:
            port = getaddrinfo_port(part)
            if port is None:
                raise OptionError(f"port `{part}' is neither a number nor a known service",
                                  column + offset)
            values.append(port)
        offset += len(part) + 1
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _types(text: str, column: int) -> frozenset[int]:
    found = set()
    offset = 0
    for word in text.split(","):
        if word:
            lowered = c_lower(word)
            number = next((i for i, name in enumerate(DCCP_TYPES) if c_lower(name) == lowered),
                          None)
            if number is None:
                raise OptionError(f"unknown DCCP packet type `{word}' (known: "
                                  f"{', '.join(DCCP_TYPES)})", column + offset)
            found.add(number)
        offset += len(word) + 1
    return frozenset(found)


def dccp_predicate(options: DccpMatch) -> Pred:
    parts: list[Pred] = [first_fragment()]
    for name, ports, inverted in (("sport", options.sport, options.sport_invert),
                                  ("dport", options.dport, options.dport_invert)):
        if ports is not None:
            parts.append(invert(in_range(name, ports[0], ports[1]), inverted))
    if options.types is not None:
        names = ",".join(DCCP_TYPES[t] for t in sorted(options.types))
        test = Test("dccp_type", IntSet.values(options.types, 15), f"DCCP type ∈ {{{names}}}",
                    f"DCCP type ∉ {{{names}}}")
        parts.append(invert(test, options.types_invert))
    if options.option is not None:
        present = bit_present("dccp_options", options.option,
                              f"the packet has DCCP option {options.option}",
                              f"the packet has no DCCP option {options.option}")
        parts.append(invert(present, options.option_invert))
    return conj(*parts)


@register
class Dccp(Extension):
    names = ("dccp",)
    options = (
        OptSpec("sport", 1, True, ("source-port",)),
        OptSpec("dport", 1, True, ("destination-port",)),
        OptSpec("dccp-types", 1, True),
        OptSpec("dccp-option", 1, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> DccpMatch:
        options = one_of(args)
        sport = parse_port_range_getaddrinfo(options["sport"]) if "sport" in options else None
        dport = parse_port_range_getaddrinfo(options["dport"]) if "dport" in options else None
        types = None
        if "dccp-types" in options:
            arg = options["dccp-types"]
            types = _types(arg.value, arg.value_column())
        option = None
        if "dccp-option" in options:
            option = parse_int_option(options["dccp-option"], 1, 255)

        def inverted(name: str) -> bool:
            return name in options and options[name].invert

        return DccpMatch(sport, inverted("sport"), dport, inverted("dport"), types,
                         inverted("dccp-types"), option, inverted("dccp-option"))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, DccpMatch)
        out = ""
        if options.sport is not None:
            out += f"{' !' if options.sport_invert else ''} --sport {format_range(options.sport)}"
        if options.dport is not None:
            out += f"{' !' if options.dport_invert else ''} --dport {format_range(options.dport)}"
        if options.types is not None:
            names = ",".join(DCCP_TYPES[t] for t in sorted(options.types))
            out += f"{' !' if options.types_invert else ''} --dccp-types {names}"
        if options.option is not None:
            out += f"{' !' if options.option_invert else ''} --dccp-option {options.option}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 33, "dccp")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, DccpMatch)
        return dccp_predicate(options)
