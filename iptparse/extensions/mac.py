"""mac match (libxt_mac): the Ethernet source address of incoming packets.

iptables reads each of the six parts with strtoul(…, 16) and only checks that a part is at most
two characters long, so `0:1:2:3:4:5`, an empty part (`00::22:33:44:55`), `+1` and even `-1`
(0xff) load; iptables-save prints lower-case two-digit hex. Anonymised dumps use
`XX:XX:XX:XX:XX:XX`, which iptables refuses and so do we.

Semantics (xt_mac): the packet's Ethernet source address equals the given one, `!` inverts.
A packet that came in on a device that is not Ethernet (lo, tun, WireGuard, PPP, IP tunnels:
field `ether` = 0, and always `iif` = lo) has no Ethernet header to read: it never matches,
inverted or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet, NameSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ._checks import only_at_hooks
from ._cnum import NOTHING, strtoul
from ._pred import conj, flag, invert, neg
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

__all__ = ["MacMatch", "format_mac", "parse_mac"]


@dataclass(frozen=True, slots=True)
class MacMatch(ExtOptions):
    """The six address bytes, most significant first."""

    address: bytes
    invert: bool = False


def parse_mac(text: str, column: int = 0) -> bytes:
    parts = text.split(":")
    out = bytearray()
    if len(parts) == 6:
        for part in parts:
            got = strtoul(part, 16) or NOTHING
            if got.end != len(part) or len(part) > 2:
                break
            out.append(got.value & 0xFF)
    if len(out) != 6:
        hint = " (an anonymised address?)" if "X" in text.upper().replace("0X", "") else ""
        raise OptionError(f"invalid MAC address `{text}'{hint}", column)
    return bytes(out)


def format_mac(address: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in address)


@register
class Mac(Extension):
    """Fields `src_mac`, `ether`."""

    names = ("mac",)
    options = (OptSpec("mac-source", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> MacMatch:
        opts = one_of(args)
        arg = opts.get("mac-source")
        if arg is None:
            raise OptionError("option --mac-source must be specified")
        return MacMatch(parse_mac(arg.value, arg.value_column()), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, MacMatch)
        return f"{' !' if options.invert else ''} --mac-source {format_mac(options.address)}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return only_at_hooks(ctx, ("PREROUTING", "INPUT", "FORWARD"), "-m mac")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, MacMatch)
        text = format_mac(options.address)
        same = Test("src_mac", IntSet.single(int.from_bytes(options.address, "big"),
                                             (1 << 48) - 1),
                    f"src_mac = {text}", f"src_mac ≠ {text}")
        ethernet = flag("ether", 1, "the packet came in with an Ethernet header",
                        "the packet came in without an Ethernet header")
        loopback = Test("iif", NameSet.single("lo"), "iif = lo (no Ethernet header)",
                        "iif ≠ lo")
        return conj(ethernet, neg(loopback), invert(same, options.invert))
