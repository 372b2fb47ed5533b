"""osf match (libxt_osf, IPv4): passive OS fingerprinting of TCP SYN packets.

The genre is kept as the kernel stores it: at most 31 bytes (iptables cuts longer text
silently) and printed back unquoted. --ttl and --log take 0-2 and are printed only if given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ._c_num import xt_uint_option
from ._c_rule import need_hooks, need_protocol
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

__all__ = ["OsfMatch"]

MAXGENRELEN = 32


@dataclass(frozen=True, slots=True)
class OsfMatch(ExtOptions):
    genre: str
    invert: bool = False
    ttl: int | None = None  # 0: compare TTLs, 1: packet TTL below fingerprint's, 2: ignore
    log: int | None = None  # 0: all matches, 1: first only, 2: all known


def _cut(text: str, size: int) -> str:
    """The longest prefix of `text` fitting in size - 1 bytes (strncpy into a char[size])."""
    raw = text.encode()[: size - 1]
    return raw.decode(errors="ignore")


@register
class Osf(Extension):
    names = ("osf",)
    families = frozenset({Family.INET})
    options = (OptSpec("genre", 1, True), OptSpec("ttl", 1), OptSpec("log", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> OsfMatch:
        opts = one_of(args)
        genre = opts.get("genre")
        if genre is None:
            raise OptionError("option --genre must be specified")
        levels = {name: xt_uint_option(opts[name].value, 0, 2, name, opts[name].value_column())
                  for name in ("ttl", "log") if name in opts}
        return OsfMatch(_cut(genre.value, MAXGENRELEN), genre.invert, levels.get("ttl"),
                        levels.get("log"))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, OsfMatch)
        out = f"{' !' if options.invert else ''} --genre {options.genre}"
        if options.ttl is not None:
            out += f" --ttl {options.ttl}"
        if options.log is not None:
            out += f" --log {options.log}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return (need_protocol(ctx, 6, "tcp")
                or need_hooks(ctx, ("PREROUTING", "INPUT", "FORWARD"), "-m osf"))
