"""The option rules libxtables enforces for x6-style extensions, with iptables' own wording.

Most match modules declare their options in a table (`xt_option_entry`) that libxtables checks
the same way for all of them: an option may be given once, some exclude others, some require
others, some are mandatory, only some may be negated, and integers are read with strtoul(…, 0)
within a range. Sharing these checks keeps every module's refusals identical to iptables'.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._a_num import xt_strtoul
from .base import OptArg, OptionError

__all__ = ["also", "excl", "need", "no_invert", "once", "uint"]


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


def uint(arg: OptArg, lo: int, hi: int, index: int = 0) -> int:
    """An XTTYPE_UINT* value: strtoul(…, 0) over the whole word, within lo..hi."""
    value = xt_strtoul(arg.values[index], lo, hi)
    if value is None:
        raise OptionError(f'bad value for option "--{arg.name}", or out of range ({lo}-{hi})',
                          arg.value_column(index))
    return value
