"""connlabel match (libxt_connlabel): one of the 128 label bits of a connection.

Labels are numbers 0-127 or names from /etc/xtables/connlabel.conf; iptables-save prints the
name when that file names the bit, else the number, always in double quotes. Names are looked up
in this machine's file, as iptables does (without the file only numbers are accepted).

Semantics (xt_connlabel): without a connection the match gives its `!` flag; with one it holds
when the label bit is set in the packet field `ctlabels` (with `--set` it sets the bit and holds
whatever it was), negated by `!`. Setting the bit is not carried to later rules of the path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..domain import BitSet
from ..logic import FALSE, Pred, Test
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._a_sem import has_connection, invert_if
from ._cnum import C_SPACE, U32, U64, strtoul
from ._pred import conj
from ._xtopt import need, once
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

__all__ = ["ConnlabelMatch", "label_map"]

LABEL_FILE = Path("/etc/xtables/connlabel.conf")
MAX_BIT = 127


@dataclass(frozen=True, slots=True)
class ConnlabelMatch(ExtOptions):
    """`[!] --label L [--set]`: label bit `bit` is set (with --set: set it, then test)."""

    bit: int
    invert: bool = False
    set: bool = False
    name: str | None = None


@functools.cache
def label_map(path: Path = LABEL_FILE) -> dict[str, int]:
    """Names to bits from a connlabel.conf (`BIT NAME` lines, # comments); {} when absent."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    names: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+(\S+)", line)
        if m and not line.lstrip().startswith("#"):
            names.setdefault(m.group(2), int(m.group(1)))
    return names


def _bit_name(bit: int) -> str | None:
    for name, value in label_map().items():
        if value == bit:
            return name
    return None


def _label_number(text: str) -> int:
    """strtoul(…, 0) over the whole word, cut to a C int as libxt_connlabel does; -1 if bad."""
    stripped = text.lstrip(C_SPACE)
    negative = stripped.startswith("-")
    word = stripped[1:] if negative else text
    got = None if word.lstrip(C_SPACE).startswith("-") else strtoul(word)
    if not text or got is None or got.end != len(word):
        return -1
    value = got.value  # ULONG_MAX when it overflowed
    if negative:
        value = -value & U64
    value &= U32
    return value - (1 << 32) if value >= 1 << 31 else value


@register
class Connlabel(Extension):
    """No assumption: reads the packet field `ctlabels` (give it to pin the labels)."""

    names = ("connlabel",)
    options = (OptSpec("label", 1, True), OptSpec("set", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConnlabelMatch:
        opts = once(args)
        need(opts, "label")
        arg = opts["label"]
        if not arg.value:
            raise OptionError("Argument must have a minimum length of 1 characters",
                              arg.value_column())
        names = label_map()
        bit = names.get(arg.value, -1) if names else _label_number(arg.value)
        if bit < 0:
            raise OptionError(f"label '{arg.value}' not found or invalid value",
                              arg.value_column())
        return ConnlabelMatch(bit, arg.invert, "set" in opts, _bit_name(bit))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConnlabelMatch)
        o = options
        label = o.name if o.name is not None else str(o.bit)
        return f"{' !' if o.invert else ''} --label \"{label}\"{' --set' if o.set else ''}"

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, ConnlabelMatch)
        o = options
        if o.set:
            return invert_if(o.invert, has_connection())
        if o.bit > MAX_BIT:
            return FALSE  # the kernel refuses the rule (see check)
        label = str(o.bit) if o.name is None else f"{o.bit} ({o.name})"
        bit = 1 << o.bit
        labelled: Pred = Test("ctlabels", BitSet.cube(bit, bit, MAX_BIT + 1),
                        f"connlabel {label} is set", f"connlabel {label} is not set")
        return invert_if(o.invert, conj(has_connection(), labelled))

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, ConnlabelMatch)
        if options.bit > MAX_BIT:
            return f"label bit {options.bit} is out of range (0-{MAX_BIT})"
        return None
