"""string match (libxt_string): a byte pattern searched for between two offsets.

The pattern is kept as bytes, whichever way it was written: `--string` takes the word as is,
`--hex-string` mixes text with `|41 42|` hex blocks and backslash-escaped characters.
iptables-save prints `--hex-string "|…|"` when a byte is not printable ASCII (or the last one
is a backslash) and `--string "…"` otherwise, so both spellings of the same bytes print alike.

Semantics (xt_string): the pattern is searched in the packet from the IP header on, starting
at an offset between --from and --to; the bytes are no field of iptparse, so whether it occurs
is the assumption kind `string` ("the packet contains …"). What is known is used: a pattern
cannot start at --from and fit in a packet shorter than --from plus its length, so such a
packet never matches (or always, with `!`). Both algorithms find the same occurrences in a
packet held in one buffer (what iptparse assumes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._pred import conj, in_range, invert
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

__all__ = ["ALGORITHMS", "String", "StringMatch", "parse_hex_string", "string_predicate"]

MAX_PATTERN = 128  # XT_STRING_MAX_PATTERN_SIZE
#: The text-search algorithms this kernel offers (ts_bm, ts_kmp); names are case-sensitive.
ALGORITHMS = frozenset({"bm", "kmp"})
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class StringMatch(ExtOptions):
    """`pattern` occurs in the packet between byte offsets `from_offset` and `to_offset`,
    found with `algo`, ignoring ASCII case with `icase`; negated by `invert`."""

    pattern: bytes
    algo: str
    from_offset: int = 0
    to_offset: int = 0xFFFF
    invert: bool = False
    icase: bool = False


def parse_hex_string(text: str, column: int) -> bytes:
    """iptables' --hex-string reader: `|hex digits|` blocks (spaces allowed between pairs),
    a backslash taking the next character literally outside blocks, other characters as is."""
    raw = text.encode("utf-8", "surrogateescape")
    if not raw:
        raise OptionError("--hex-string needs at least one character", column)
    out = bytearray()
    in_hex = False
    literal = False
    i = 0
    n = len(raw)
    while i < n:
        if len(out) >= MAX_PATTERN:
            raise OptionError(f"pattern longer than {MAX_PATTERN} bytes", column)
        ch = raw[i : i + 1]
        if ch == b"\\" and not in_hex:
            literal = True
        elif ch == b"\\":
            raise OptionError("a backslash cannot appear inside a |hex| block", column + i)
        elif ch == b"|":
            in_hex = not in_hex
            if in_hex:
                while raw[i + 1 : i + 2] == b" ":
                    i += 1
            if i + 1 >= n:
                break
            i += 1
        if literal:
            if i + 1 >= n:
                raise OptionError("a backslash cannot end the pattern", column + i)
            out += raw[i + 1 : i + 2]
            i += 2
            literal = False
        elif in_hex:
            if i + 1 >= n:
                raise OptionError("odd number of hex digits", column + i)
            if i + 2 >= n:
                raise OptionError("unterminated |hex| block", column + i)
            pair = raw[i : i + 2].decode("latin-1")
            bad = next((c for c in pair if c not in _HEX), None)
            if bad is not None:
                raise OptionError(f"invalid hex digit `{bad}'", column + i)
            out.append(int(pair, 16))
            i += 3 if raw[i + 2 : i + 3] == b" " else 2
        else:
            out += raw[i : i + 1]
            i += 1
    return bytes(out)


def _printable(pattern: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in pattern) and not pattern.endswith(b"\\")


def _quoted(pattern: bytes) -> str:
    text = pattern.decode("ascii")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(pattern: bytes) -> str:
    if _printable(pattern):
        return _quoted(pattern)
    return f'"|{pattern.hex()}|"'


def string_predicate(options: StringMatch, ctx: CompileContext) -> Pred:
    where = ""
    if options.from_offset or options.to_offset != 0xFFFF:
        where = f" at an offset {options.from_offset}-{options.to_offset}"
    case = " (any case)" if options.icase else ""
    shown = _shown(options.pattern)
    found = ctx.assume("string", f"the packet contains {shown}{where}{case}",
                       f"the packet does not contain {shown}{where}{case}")
    header = 20 if ctx.family is Family.INET else 40
    need = options.from_offset + len(options.pattern)
    fits = in_range("length", need, 0xFFFF) if need > header else None
    return invert(found if fits is None else conj(fits, found), options.invert)


@register
class String(Extension):
    """Assumption kind `string`: the packet contains the pattern (between the offsets)."""

    names = ("string",)
    options = (
        OptSpec("from", 1), OptSpec("to", 1), OptSpec("algo", 1), OptSpec("icase", 0),
        OptSpec("string", 1, True), OptSpec("hex-string", 1, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> StringMatch:
        options = one_of(args)
        if "string" in options and "hex-string" in options:
            raise OptionError("--string and --hex-string cannot be combined",
                              max(options["string"].column, options["hex-string"].column))
        algo = options.get("algo")
        if algo is None:
            raise OptionError("--algo is required (bm or kmp)")
        if algo.value not in ALGORITHMS:
            raise OptionError(f"unknown string search algorithm `{algo.value}' (bm or kmp)",
                              algo.value_column())
        arg = options.get("string") or options.get("hex-string")
        if arg is None:
            raise OptionError("--string or --hex-string is required")
        if arg.name == "string":
            pattern = arg.value.encode("utf-8", "surrogateescape")
            if len(pattern) > MAX_PATTERN:
                raise OptionError(f"pattern longer than {MAX_PATTERN} bytes",
                                  arg.value_column())
        else:
            pattern = parse_hex_string(arg.value, arg.value_column())
        if not pattern:
            raise OptionError("the pattern cannot be empty", arg.value_column())
        start = parse_int_option(options["from"], 0, 0xFFFF) if "from" in options else 0
        stop = parse_int_option(options["to"], 0, 0xFFFF) if "to" in options else 0xFFFF
        if start > stop:
            raise OptionError(f"--from {start} is beyond --to {stop}", options["from"].column)
        return StringMatch(pattern, algo.value, start, stop, arg.invert, "icase" in options)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, StringMatch)
        invert = " !" if options.invert else ""
        if _printable(options.pattern):
            out = f"{invert} --string {_quoted(options.pattern)}"
        else:
            out = f'{invert} --hex-string "|{options.pattern.hex()}|"'
        out += f" --algo {options.algo}"
        if options.from_offset:
            out += f" --from {options.from_offset}"
        if options.to_offset != 0xFFFF:
            out += f" --to {options.to_offset}"
        return out + (" --icase" if options.icase else "")

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, StringMatch)
        return string_predicate(options, ctx)
