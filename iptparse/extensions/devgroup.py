"""devgroup match (libxt_devgroup): the group of the input or output device.

Values are (group, mask) pairs compared as `(dev->group & mask) == group`. A group may be
given by name from iproute2's group file; the only entry every system has is `0 default`, so
that is the table used here (iptables-save prints the name for a full-mask group it finds in
the loading machine's /etc/iproute2/group, which holds just that line by default).

Semantics (xt_devgroup): `(group ^ dev->group) & mask` must be zero for the input device
(--src-group, field `iif_group`) and the output device (--dst-group, field `oif_group`); `!`
inverts each test. Group bits outside the mask are ignored, also in the given group. Left
unknown, the device groups fork consistently across rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import BitSet
from ..logic import Pred, Test
from ..nodes import ExtOptions
from ._checks import only_at_hooks
from ._cnum import U32, xt_strtoul
from ._pred import conj, invert
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

__all__ = ["DevgroupMatch", "GroupMask"]

GroupMask = tuple[int, int]
GROUP_NAMES = {"default": 0}
_NAME_OF = {v: k for k, v in GROUP_NAMES.items()}


@dataclass(frozen=True, slots=True)
class DevgroupMatch(ExtOptions):
    src: GroupMask | None = None
    src_invert: bool = False
    dst: GroupMask | None = None
    dst_invert: bool = False


def parse_group(text: str, option: str, column: int = 0) -> GroupMask:
    """xtables_parse_val_mask with the group-name map: `N`, `N/M` or a name."""
    first = xt_strtoul(text, 0, U32, whole=False)
    if first is not None:
        if first.end == len(text):
            return (first.value, U32)
        if text[first.end] == "/":
            second = xt_strtoul(text, 0, U32, whole=False, start=first.end + 1)
            if second is None:
                raise OptionError(f"bad mask in `{text}' for --{option}", column)
            if second.end != len(text):
                raise OptionError(f"trailing garbage after the value of --{option}", column)
            return (first.value, second.value)
    if text in GROUP_NAMES:
        return (GROUP_NAMES[text], U32)
    raise OptionError(f"unknown device group `{text}' for --{option} (a number, number/mask "
                      f"or `default')", column)


def _format(value: GroupMask) -> str:
    group, mask = value
    if mask != U32:
        return f"{group:#x}/{mask:#x}"
    return _NAME_OF.get(group, f"{group:#x}")


@register
class Devgroup(Extension):
    """Fields `iif_group`, `oif_group`."""

    names = ("devgroup",)
    options = (OptSpec("src-group", 1, True), OptSpec("dst-group", 1, True))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> DevgroupMatch:
        opts = one_of(args)
        if not opts:
            raise OptionError("you must specify either --src-group or --dst-group")
        src, dst = opts.get("src-group"), opts.get("dst-group")
        return DevgroupMatch(
            parse_group(src.value, src.name, src.value_column()) if src else None,
            bool(src and src.invert),
            parse_group(dst.value, dst.name, dst.value_column()) if dst else None,
            bool(dst and dst.invert),
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, DevgroupMatch)
        out = ""
        if options.src is not None:
            out += f"{' !' if options.src_invert else ''} --src-group {_format(options.src)}"
        if options.dst is not None:
            out += f"{' !' if options.dst_invert else ''} --dst-group {_format(options.dst)}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, DevgroupMatch)
        if options.src is not None:
            problem = only_at_hooks(ctx, ("PREROUTING", "INPUT", "FORWARD"), "--src-group")
            if problem:
                return problem
        if options.dst is not None:
            return only_at_hooks(ctx, ("FORWARD", "OUTPUT", "POSTROUTING"), "--dst-group")
        return None

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, DevgroupMatch)
        parts: list[Pred] = []
        for name, device, value, inverted in (
                ("iif_group", "input", options.src, options.src_invert),
                ("oif_group", "output", options.dst, options.dst_invert)):
            if value is None:
                continue
            group, mask = value
            shown = _format((group & mask, mask))
            test = Test(name, BitSet.cube(group, mask, 32),
                        f"the {device} device is in group {shown}",
                        f"the {device} device is not in group {shown}")
            parts.append(invert(test, inverted))
        return conj(*parts)
