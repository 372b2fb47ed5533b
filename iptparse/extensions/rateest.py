"""rateest match (libxt_rateest): compares rates measured by RATEEST target estimators.

Absolute mode compares one estimator with a fixed bps/pps value; relative mode compares two
estimators; `--rateest-delta` compares how far each is below a given rate. Rates are kept as the
kernel keeps them (bytes and packets per second, u32); bps values are printed back in bit/Kbit/
Mbit as iptables does. The named estimators must exist when the rule loads (live state).

Semantics (xt_rateest): the estimators' current rates are live state: an assumption of kind
`rateest`, holds = the comparison as written (every compared rate, bps and/or pps), `!` takes
the other side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..logic import Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._cnum import U32, c_strtod, xt_uint
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

__all__ = ["RateestMatch"]

Mode = Literal["eq", "lt", "gt"]

_SUFFIXES = {
    "bit": 1.0, "kibit": 1024.0, "kbit": 1000.0, "mibit": 1024.0**2, "mbit": 1e6,
    "gibit": 1024.0**3, "gbit": 1e9, "tibit": 1024.0**4, "tbit": 1e12,
    "bps": 8.0, "kibps": 8.0 * 1024, "kbps": 8000.0, "mibps": 8.0 * 1024**2, "mbps": 8e6,
    "gibps": 8.0 * 1024**3, "gbps": 8e9, "tibps": 8.0 * 1024**4, "tbps": 8e12,
}


@dataclass(frozen=True, slots=True)
class RateestMatch(ExtOptions):
    """The estimators, what is compared (bps and/or pps) and how (`mode`, `invert`)."""

    name1: str
    name2: str | None = None
    delta: bool = False
    bps: bool = False
    pps: bool = False
    bps1: int = 0
    pps1: int = 0
    bps2: int = 0
    pps2: int = 0
    mode: Mode | None = None
    invert: bool = False

    @property
    def relative(self) -> bool:
        return self.name2 is not None


def _bytes_per_second(arg: OptArg) -> int:
    """rateest_get_rate: a number with an optional bit/byte unit, as bytes per second."""
    text = arg.value
    got = c_strtod(text)
    if got is not None:
        number, end = got
        suffix = text[end:]
        scale = 1.0 if not suffix else _SUFFIXES.get(suffix.lower())
        if scale is not None:
            return int(number * scale / 8.0) & U32 if suffix else int(number / 8.0) & U32
    raise OptionError(f"could not parse rate `{text}'", arg.value_column())


@register
class Rateest(Extension):
    """Assumption kind `rateest`: holds = the rate comparison as written, before `!`."""

    names = ("rateest",)
    options = (
        OptSpec("rateest1", 1, True, ("rateest",)),
        OptSpec("rateest2", 1, True),
        OptSpec("rateest-bps1", -1, True),
        OptSpec("rateest-pps1", -1, True),
        OptSpec("rateest-bps2", -1, True, ("rateest-bps",)),
        OptSpec("rateest-pps2", -1, True, ("rateest-pps",)),
        OptSpec("rateest-delta", 0, True),
        OptSpec("rateest-lt", 0, True),
        OptSpec("rateest-gt", 0, True),
        OptSpec("rateest-eq", 0, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RateestMatch:
        seen: set[str] = set()
        fields: dict[str, object] = {}
        for arg in args:
            mode = arg.name.removeprefix("rateest-")
            if arg.invert and mode not in ("lt", "gt", "eq"):
                what = "rateest" if arg.name in ("rateest1", "rateest2") else \
                    arg.name.rstrip("12")
                raise OptionError(f"{what} can't be inverted", arg.column)
            if arg.name in seen:
                what = "lt/gt/eq" if mode in ("lt", "gt", "eq") else f"--{arg.name}"
                raise OptionError(f"can't specify {what} twice", arg.column)
            seen.add(arg.name)
            if arg.name in ("rateest1", "rateest2"):
                fields["name" + arg.name[-1]] = arg.value[:15]
            elif mode == "delta":
                fields["delta"] = True
            elif mode in ("lt", "gt", "eq"):
                fields["mode"] = mode
                fields["invert"] = arg.invert
            else:
                kind = mode[:3]
                fields[kind] = True
                if arg.values:
                    if kind == "bps":
                        fields[mode] = _bytes_per_second(arg)
                    else:
                        value = xt_uint(arg.value, 0, U32)
                        if value is None:
                            raise OptionError(f"could not parse pps `{arg.value}'",
                                              arg.value_column())
                        fields[mode] = value
        fields.setdefault("name1", "")
        return RateestMatch(**fields)  # type: ignore[arg-type]

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RateestMatch)
        o = options
        out = [" --rateest-delta"] if o.delta else []
        out.append(f" --rateest1 {o.name1}" if o.relative else f" --rateest {o.name1}")
        mode = f"{' !' if o.invert else ''} --rateest-{o.mode}"
        for kind, on, first, second in (("bps", o.bps, o.bps1, o.bps2),
                                        ("pps", o.pps, o.pps1, o.pps2)):
            if not on:
                continue
            show = _format_bps if kind == "bps" else str
            if o.delta:
                out.append(f" --rateest-{kind}1 {show(first)}{mode} --rateest-{kind}2")
            else:
                out.append(f"{mode} --rateest-{kind}")
            if o.delta or not o.relative:
                out.append(f" {show(second)}")
        if o.relative:
            out.append(f" --rateest2 {o.name2}")
        return "".join(out)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, RateestMatch)
        o = options
        op = {"lt": "<", "gt": ">", "eq": "="}.get(o.mode or "", "?")
        parts = []
        for kind, on, first, second in (("bps", o.bps, o.bps1, o.bps2),
                                        ("pps", o.pps, o.pps1, o.pps2)):
            if not on:
                continue
            show = _format_bps if kind == "bps" else str
            left = f"{o.name1} {kind}"
            if o.delta:
                left = f"({show(first)} - {left})"
            if not o.relative:
                right = show(second)
            elif o.delta:
                right = f"({show(second)} - {o.name2} {kind})"
            else:
                right = f"{o.name2} {kind}"
            parts.append(f"{left} {op} {right}")
        text = "rateest: " + " and ".join(parts)
        holds = ctx.assume("rateest", text, f"not ({text})")
        return invert_if(o.invert, holds)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        """What xt_rateest's checkentry refuses (besides unknown estimators)."""
        assert isinstance(options, RateestMatch)
        if not options.name1:
            return "needs --rateest or --rateest1 (the kernel finds no estimator without a name)"
        if not (options.bps or options.pps):
            return "needs --rateest-bps or --rateest-pps"
        if options.mode is None:
            return "needs one of --rateest-lt, --rateest-gt or --rateest-eq"
        return None


def _format_bps(rate: int) -> str:
    bits = rate * 8.0
    if bits >= 1e9:
        return f"{bits / 1e6:.0f}Mbit"
    if bits >= 1e6:
        return f"{bits / 1e3:.0f}Kbit"
    return f"{bits:.0f}bit"
