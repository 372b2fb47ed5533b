"""tos (libxt_tos) and dscp (libxt_dscp): the IPv4 TOS / IPv6 traffic class byte.

tos compares `byte & mask` with a value; a symbolic name (Minimize-Delay…) implies the mask
0x3f (all but the two precedence bits), a number the mask 0xff. dscp compares the upper six
bits; a class name (EF, AF11, CS3…) is only a way of writing the number, so iptables-save prints
numbers.

Semantics (xt_dscp's tos_mt and dscp_mt): `(tos & mask) == value ^ !` (a value with bits
outside the mask never matches) and `(tos >> 2) == dscp ^ !`, on the IPv4 TOS byte or the IPv6
traffic class, both the `tos` field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet
from ..logic import FALSE, Pred, Test
from ..nodes import ExtOptions
from ._cnum import c_lower, xt_strtoul
from ._pred import invert
from ._xtopt import parse_int_option
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

__all__ = ["DSCP_CLASSES", "TOS_NAMES", "Dscp", "DscpMatch", "Tos", "TosMatch", "tos_test"]

TOS_NAMES: tuple[tuple[str, int], ...] = (
    ("Minimize-Cost", 0x02), ("Maximize-Reliability", 0x04), ("Maximize-Throughput", 0x08),
    ("Minimize-Delay", 0x10), ("Normal-Service", 0x00),
)
TOS_NAME_MASK = 0x3F

DSCP_CLASSES: tuple[tuple[str, int], ...] = (
    ("CS0", 0x00), ("CS1", 0x08), ("CS2", 0x10), ("CS3", 0x18), ("CS4", 0x20), ("CS5", 0x28),
    ("CS6", 0x30), ("CS7", 0x38), ("BE", 0x00), ("AF11", 0x0A), ("AF12", 0x0C), ("AF13", 0x0E),
    ("AF21", 0x12), ("AF22", 0x14), ("AF23", 0x16), ("AF31", 0x1A), ("AF32", 0x1C),
    ("AF33", 0x1E), ("AF41", 0x22), ("AF42", 0x24), ("AF43", 0x26), ("EF", 0x2E),
)


@dataclass(frozen=True, slots=True)
class TosMatch(ExtOptions):
    """Matches when `tos & mask == value` (the value is not masked), negated by `invert`."""

    value: int
    mask: int = 0xFF
    invert: bool = False


@dataclass(frozen=True, slots=True)
class DscpMatch(ExtOptions):
    """Matches when the DSCP (TOS byte >> 2) equals `dscp`, negated by `invert`."""

    dscp: int
    invert: bool = False


def parse_tos(text: str, column: int) -> tuple[int, int]:
    """`value[/mask]` (numbers up to 255, as strtoul reads them) or a TOS name: (value, mask)."""
    if xt_strtoul(text, 0, 0xFF, whole=False) is None:
        lowered = c_lower(text)
        for name, named in TOS_NAMES:
            if c_lower(name) == lowered:
                return named, TOS_NAME_MASK
        raise OptionError(f"unknown TOS name `{text}' (known: "
                          f"{', '.join(n for n, _ in TOS_NAMES)})", column)
    number = xt_strtoul(text, 0, 0xFF, whole=False)
    assert number is not None
    value, mask, end = number.value, 0xFF, number.end
    if text[end : end + 1] == "/":
        got = xt_strtoul(text, 0, 0xFF, whole=False, start=end + 1)
        if got is None:
            raise OptionError(f"bad TOS mask in `{text}' (expected a number 0-255)",
                              column + end + 1)
        mask, end = got.value, got.end
    if end != len(text):
        raise OptionError(f"bad TOS value `{text}' (expected value[/mask])", column + end)
    return value, mask


def tos_test(value: int, mask: int) -> Pred:
    """`(tos & mask) == value` as a set of TOS bytes."""
    if value & ~mask:
        return FALSE
    text = f"tos = {value:#04x}" if mask == 0xFF else f"tos & {mask:#04x} = {value:#04x}"
    return Test("tos", IntSet.masked(value, mask, 8), text, text.replace(" = ", " ≠ "))


@register
class Tos(Extension):
    names = ("tos",)
    options = (OptSpec("tos", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TosMatch:
        arg = one_of(args).get("tos")
        if arg is None:
            raise OptionError("--tos is required")
        value, mask = parse_tos(arg.value, arg.value_column())
        return TosMatch(value, mask, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, TosMatch)
        return f"{' !' if options.invert else ''} --tos 0x{options.value:02x}/0x{options.mask:02x}"

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, TosMatch)
        return invert(tos_test(options.value, options.mask), options.invert)


@register
class Dscp(Extension):
    names = ("dscp",)
    options = (OptSpec("dscp", 1, True), OptSpec("dscp-class", 1, True))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> DscpMatch:
        options = one_of(args)
        if "dscp" in options and "dscp-class" in options:
            raise OptionError("--dscp and --dscp-class cannot be combined",
                              max(options["dscp"].column, options["dscp-class"].column))
        if "dscp" in options:
            arg = options["dscp"]
            return DscpMatch(parse_int_option(arg, 0, 63), arg.invert)
        arg_class = options.get("dscp-class")
        if arg_class is None:
            raise OptionError("--dscp or --dscp-class is required")
        lowered = c_lower(arg_class.value)
        for name, value in DSCP_CLASSES:
            if c_lower(name) == lowered:
                return DscpMatch(value, arg_class.invert)
        raise OptionError(f"unknown DSCP class `{arg_class.value}' (known: BE, EF, AFxy, CSx)",
                          arg_class.value_column())

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, DscpMatch)
        return f"{' !' if options.invert else ''} --dscp 0x{options.dscp:02x}"

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, DscpMatch)
        low = options.dscp << 2
        test = Test("tos", IntSet.range(low, low | 3, 0xFF), f"DSCP = {options.dscp:#04x}",
                    f"DSCP ≠ {options.dscp:#04x}")
        return invert(test, options.invert)
