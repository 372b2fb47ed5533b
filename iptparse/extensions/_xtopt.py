"""Option rules and option values as libxtables' x6 parser checks them.

Most extensions declare their options in a table (`xt_option_entry`) that libxtables checks the
same way for all of them: an option may be given once, some exclude or require others, some
are mandatory, and values of the XTTYPE_UINT*, UINT*RC and MARKMASK32 types are read with
xtables_strtoul (see `_cnum`) within a range. Sharing these checks keeps every module's
refusals identical to iptables'. Where groups of extensions word a refusal differently (the
tests pin each wording), the wording is a function of its own over the same reading.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._cnum import U32, Range, xt_strtoul, xt_uint
from .base import OptArg, OptionError

__all__ = [
    "MintProblem",
    "also",
    "excl",
    "format_range",
    "need",
    "no_invert",
    "once",
    "opt_range_error",
    "parse_int_option",
    "parse_markmask",
    "parse_range_option",
    "read_mint",
    "xt_mint",
    "xt_uint_arg",
    "xt_uint_option",
]


def once(args: Sequence[OptArg]) -> dict[str, OptArg]:
    """Options by name; a repeated option is refused as libxtables does."""
    seen: dict[str, OptArg] = {}
    for arg in args:
        if arg.name in seen:
            raise OptionError(f'option "--{arg.name}" can only be used once', arg.column)
        seen[arg.name] = arg
    return seen


def excl(opts: dict[str, OptArg], *names: str) -> None:
    """At most one of `names` may be present."""
    present = [n for n in names if n in opts]
    if len(present) > 1:
        first, second = sorted(present, key=lambda n: opts[n].column)[:2]
        raise OptionError(f'option "--{first}" cannot be used together with "--{second}"',
                          opts[second].column)


def also(opts: dict[str, OptArg], name: str, required: str) -> None:
    """`name`, when present, needs `required` too."""
    if name in opts and required not in opts:
        raise OptionError(f'option "--{name}" also requires "--{required}"', opts[name].column)


def need(opts: dict[str, OptArg], name: str) -> None:
    """A mandatory option (reported at the module name: there is no word to point at)."""
    if name not in opts:
        raise OptionError(f'option "--{name}" must be specified')


def no_invert(arg: OptArg) -> None:
    """For options whose `!` the rule parser lets through (old-style extensions)."""
    if arg.invert:
        raise OptionError(f'option "--{arg.name}" cannot be inverted', arg.column)


# --- XTTYPE_UINT8/16/32/64: one number, the whole word -----------------------------------

def opt_range_error(arg: OptArg, lo: int, hi: int, index: int = 0) -> OptionError:
    """The message xtables gives for a bad or out-of-range number."""
    return OptionError(f'bad value for option "--{arg.name}", or out of range ({lo}-{hi})',
                       arg.value_column(index))


def xt_uint_arg(arg: OptArg, lo: int, hi: int, index: int = 0) -> int:
    """An XTTYPE_UINT* value: strtoul(…, 0) over the whole word, within lo..hi, refused with
    iptables' own message."""
    value = xt_uint(arg.values[index], lo, hi)
    if value is None:
        raise opt_range_error(arg, lo, hi, index)
    return value


def xt_uint_option(text: str, lo: int, hi: int, option: str, column: int) -> int:
    """xt_uint_arg for a word given by text and column, in the host matches' wording."""
    value = xt_uint(text, lo, hi)
    if value is None:
        raise OptionError(f"bad value `{text}' for option --{option}, or out of range "
                          f"({lo}-{hi})", column)
    return value


def parse_int_option(arg: OptArg, lo: int, hi: int, index: int = 0) -> int:
    """xt_uint_arg in the header matches' wording."""
    text = arg.values[index]
    value = xt_uint(text, lo, hi)
    if value is None:
        raise OptionError(f"bad value `{text}' for --{arg.name}: expected a number "
                          f"{lo}-{hi}", arg.value_column(index))
    return value


# --- XTTYPE_UINT*RC: `n`, `lo:hi`, `lo:`, `:hi` (xtopt_parse_mint) --------------------------

class MintProblem(Exception):
    """Why a range word is refused: `kind` is "many" (a third part), "value" (a part is not a
    number within range) or "trailing" (characters after a number); `pos` is where."""

    def __init__(self, kind: str, pos: int) -> None:
        super().__init__(kind, pos)
        self.kind = kind
        self.pos = pos


def read_mint(text: str, top: int) -> list[int]:
    """The one or two `:`-separated numbers of a range word; an empty low part is 0 and an
    empty high part `top` (even an empty word reads as [0]). What one number means is the
    extension's business. Raises MintProblem."""
    values: list[int] = []
    pos = 0
    while True:
        if len(values) == 2:
            raise MintProblem("many", pos)
        if pos >= len(text) or text[pos] == ":":
            end = pos
            values.append(top if len(values) == 1 else 0)
        else:
            number = xt_strtoul(text, 0, top, whole=False, start=pos)
            if number is None:
                raise MintProblem("value", pos)
            end = number.end
            if end < len(text) and text[end] != ":":
                raise MintProblem("trailing", end)
            values.append(number.value)
        if end >= len(text):
            return values
        pos = end + 1


def xt_mint(arg: OptArg, top: int, *, at_part: bool = True) -> list[int]:
    """read_mint refused with iptables' own messages, pointing at the offending part (or,
    without `at_part`, at the word: NFQUEUE's --queue-balance always did)."""
    text = arg.value
    try:
        return read_mint(text, top)
    except MintProblem as problem:
        pos = problem.pos
        column = arg.value_column() + (pos if at_part else 0)
        if problem.kind == "many":
            message = f'Too many components for option "--{arg.name}" (max: 2)'
        elif problem.kind == "value":
            message = (f'bad value for option "--{arg.name}" near "{text[pos:]}", or out of '
                       f"range (0-{top})")
        else:
            message = f'Argument to "--{arg.name}" has unexpected characters near "{text[pos:]}"'
        raise OptionError(message, column) from None


def parse_range_option(arg: OptArg, hi: int) -> Range:
    """read_mint in the header matches' wording; a single number n means n:n (what every
    extension using it does with one component). Ends are not checked for order: the
    extensions that care say so themselves."""
    text = arg.value
    column = arg.value_column()
    try:
        values = read_mint(text, hi)
    except MintProblem as problem:
        pos = problem.pos
        if problem.kind == "many":
            message, pos = f"too many `:' in --{arg.name} `{text}' (at most lo:hi)", 0
        elif problem.kind == "value":
            message = (f"bad value for --{arg.name} near `{text[pos:]}': expected a number "
                       f"0-{hi}")
        else:
            message = f"unexpected characters `{text[pos:]}' in --{arg.name}"
        raise OptionError(message, column + pos) from None
    return (values[0], values[-1])


def format_range(value: Range) -> str:
    """`n` for a single value, else `lo:hi`, as the save functions print ranges."""
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}:{hi}"


# --- XTTYPE_MARKMASK32 -------------------------------------------------------------------

def parse_markmask(arg: OptArg, index: int = 0) -> tuple[int, int]:
    """`value[/mask]`: 32-bit numbers, the mask 0xffffffff when absent."""
    text = arg.values[index]
    bad = OptionError(f"bad integer value for option \"--{arg.name}\", or out of range.",
                      arg.value_column(index))
    number = xt_strtoul(text, 0, U32, whole=False)
    if number is None:
        raise bad
    rest = text[number.end:]
    if not rest:
        return number.value, U32
    if rest[0] != "/":
        raise bad
    mask = xt_uint(rest[1:], 0, U32)
    if mask is None:
        raise bad
    return number.value, mask
