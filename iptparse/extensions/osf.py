"""osf match (libxt_osf, IPv4): passive OS fingerprinting of TCP SYN packets.

The genre is kept as the kernel stores it: at most 31 bytes (iptables cuts longer text
silently) and printed back unquoted. --ttl and --log take 0-2 and are printed only if given.

Semantics (xt_osf): only a TCP packet with SYN set is fingerprinted; any other never matches.
Whether its fingerprint (total length, TTL, window, options) is one of the loaded fingerprints
of the genre depends on what `nfnl_osf` loaded into the kernel, which no dump shows: the
assumption `osf`, pinned per rule. With --log every loaded fingerprint counts, whatever its
genre. The kernel ignores `! --genre`: a negated rule matches exactly as the plain one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import BitSet
from ..logic import Pred, Test
from ..nodes import ExtOptions, Family
from ._checks import has_protocol, only_at_hooks
from ._pred import conj
from ._xtopt import xt_uint_option
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
    """Assumption kind `osf` (holds = a loaded fingerprint of the genre matches the SYN)."""

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
        if not has_protocol(ctx, (6,)):
            return "needs `-p tcp'"
        return only_at_hooks(ctx, ("PREROUTING", "INPUT", "FORWARD"), "-m osf")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, OsfMatch)
        syn = Test("tcp_flags", BitSet.cube(0x02, 0x02, 8), "the packet has SYN set",
                   "the packet does not have SYN set")
        ttl = {0: "with the same TTL", 1: "with a TTL the packet's does not exceed",
               2: "whatever the TTL"}.get(options.ttl if options.ttl is not None else 0, "")
        genre = "any loaded OS fingerprint" if options.log is not None else (
            f"a loaded OS fingerprint of genre {options.genre}")
        note = " (the kernel ignores `!')" if options.invert else ""
        return conj(syn, ctx.assume("osf", f"the SYN matches {genre} {ttl}{note}",
                                    f"the SYN matches no {genre.removeprefix('a ')} "
                                    f"{ttl}{note}"))
