"""LED (libxt_LED): blink a "netfilter-<id>" LED trigger on each packet.

The trigger id (at most 16 characters) is always printed in double quotes with `"` and `\\`
escaped. The delay is an unsigned 32-bit number of milliseconds or `inf…` (stored as
0xffffffff); iptables-save prints any non-zero delay with `%d`, so `inf` comes back as `-1`
(which iptables then refuses to read: a real iptables quirk, kept). Kernels without xt_LED
(this one) cannot load the target at all.

Semantics (xt_LED.c): the LED trigger fires; the packet goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._cnum import U32, xt_uint
from ._d_sem import continue_with
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

__all__ = ["LedTarget"]

_MAX_ID = 16  # sizeof(id) 27 minus "netfilter-" and its NUL


@dataclass(frozen=True, slots=True)
class LedTarget(ExtOptions):
    """Trigger "netfilter-`trigger_id`"; keep the LED on `delay` ms (0xffffffff: forever)."""

    trigger_id: str
    delay: int = 0
    always_blink: bool = False


@register
class Led(Extension):
    kind = "target"
    names = ("LED",)
    options = (OptSpec("led-trigger-id", 1), OptSpec("led-delay", 1),
               OptSpec("led-always-blink", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> LedTarget:
        opts = one_of(args)
        delay = 0
        if "led-delay" in opts:
            arg = opts["led-delay"]
            if arg.value[:3].lower() == "inf":
                delay = U32
            else:
                value = xt_uint(arg.value, 0, U32)
                if value is None:
                    raise OptionError(f"Delay value must be within range 0..{U32}",
                                      arg.value_column())
                delay = value
        if "led-trigger-id" not in opts:
            raise OptionError("option \"--led-trigger-id\" must be specified")
        arg = opts["led-trigger-id"]
        if len(arg.value.encode("utf-8", "surrogateescape")) > _MAX_ID:
            raise OptionError(f"Argument must have a maximum length of {_MAX_ID} characters",
                              arg.value_column())
        return LedTarget(arg.value, delay, "led-always-blink" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, LedTarget)
        escaped = options.trigger_id.replace("\\", "\\\\").replace('"', '\\"')
        out = f' --led-trigger-id "{escaped}"'
        if options.delay:
            signed = options.delay - (1 << 32) if options.delay >= 1 << 31 else options.delay
            out += f" --led-delay {signed}"
        if options.always_blink:
            out += " --led-always-blink"
        return out

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, LedTarget)
        return continue_with(f"blink LED trigger netfilter-{options.trigger_id}")
