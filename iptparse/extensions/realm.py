"""realm match (libxt_realm): the routing realm of the packet's route, under a mask.

Realm names come from iproute2's rt_realms file; iptables reads /etc/iproute2/rt_realms. We
keep the table iproute2 ships (only `cosmos`, realm 0) so formatting does not depend on the
machine, as services.py does for port names. The kernel only knows a realm after routing, so
the match is refused in PREROUTING.

Semantics (xt_realm): `(realm & mask) == value ^ !`, where `realm` is the route's realm (the
classid of the packet's dst entry: 0 unless a route or a rule sets `realm`); the packet field
`realm` holds it, unknown unless given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import BitSet
from ..logic import FALSE, Pred, Test
from ..nodes import ExtOptions, Family
from ._checks import only_in_chains
from ._cnum import xt_strtoul
from ._pred import invert
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

__all__ = ["REALM_NAMES", "Realm", "RealmMatch"]

#: iproute2's default /etc/iproute2/rt_realms: name -> realm number
REALM_NAMES: dict[str, int] = {"cosmos": 0}
_NAME_BY_REALM = {number: name for name, number in REALM_NAMES.items()}
FULL = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class RealmMatch(ExtOptions):
    """Matches when `realm_of_route & mask == realm`, negated by `invert`."""

    realm: int
    mask: int = FULL
    invert: bool = False


def parse_realm(text: str, column: int) -> tuple[int, int]:
    """xtables_parse_val_mask: `value[/mask]`, or a realm name (without a mask)."""
    value = xt_strtoul(text, 0, FULL, whole=False)
    if value is not None and value.end == len(text):
        return value.value, FULL
    if value is not None and text[value.end] == "/":
        mask = xt_strtoul(text, 0, FULL, whole=False, start=value.end + 1)
        if mask is None:
            raise OptionError(f"bad realm mask in `{text}' (expected a number)",
                              column + value.end + 1)
        if mask.end != len(text):
            raise OptionError(f"unexpected characters after the realm mask in `{text}'",
                              column + mask.end)
        return value.value, mask.value
    if text in REALM_NAMES:
        return REALM_NAMES[text], FULL
    raise OptionError(f"unknown realm `{text}' (a number, number/mask or a name from "
                      "rt_realms)", column)


@register
class Realm(Extension):
    names = ("realm",)
    families = frozenset({Family.INET})
    options = (OptSpec("realm", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RealmMatch:
        arg = one_of(args).get("realm")
        if arg is None:
            raise OptionError("--realm is required")
        realm, mask = parse_realm(arg.value, arg.value_column())
        return RealmMatch(realm, mask, arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RealmMatch)
        invert = " !" if options.invert else ""
        if options.mask != FULL:
            return f"{invert} --realm 0x{options.realm:x}/0x{options.mask:x}"
        name = _NAME_BY_REALM.get(options.realm)
        return f"{invert} --realm {name if name is not None else f'0x{options.realm:x}'}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return only_in_chains(ctx, ("INPUT", "FORWARD", "OUTPUT", "POSTROUTING"))

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, RealmMatch)
        if options.realm & ~options.mask:
            return invert(FALSE, options.invert)
        text = (f"realm = {options.realm:#x}" if options.mask == FULL
                else f"realm & {options.mask:#x} = {options.realm:#x}")
        test = Test("realm", BitSet.cube(options.realm, options.mask, 32), text,
                    text.replace(" = ", " ≠ "))
        return invert(test, options.invert)
