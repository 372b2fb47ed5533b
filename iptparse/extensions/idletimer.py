"""IDLETIMER (libxt_IDLETIMER, revision 1): a sysfs timer restarted by each matching packet.

Timeout (seconds) and label are required; the label is printed unquoted, as iptables does, and
cut to 27 bytes. The kernel refuses a zero or too long timeout (it counts in milliseconds in an
int), an empty label and one that cannot be a sysfs file name.

Semantics (xt_IDLETIMER.c): the timer restarts; the packet goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..semantics import CompileContext, Effect
from ._cnum import U32
from ._d_sem import continue_with
from ._xtopt import xt_uint_arg
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
from .log import c_string

__all__ = ["IdletimerTarget"]

_MAX_TIMEOUT = 2**31 // 1000 - 1  # INT_MAX / 1000 - 1: the kernel's bound


@dataclass(frozen=True, slots=True)
class IdletimerTarget(ExtOptions):
    timeout: int
    label: str
    alarm: bool = False


@register
class Idletimer(Extension):
    kind = "target"
    names = ("IDLETIMER",)
    options = (OptSpec("timeout", 1), OptSpec("label", 1), OptSpec("alarm", 0))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> IdletimerTarget:
        opts = one_of(args)
        for name in ("timeout", "label"):
            if name not in opts:
                raise OptionError(f"option \"--{name}\" must be specified")
        arg = opts["timeout"]
        timeout = xt_uint_arg(arg, 0, U32)
        if not 1 <= timeout <= _MAX_TIMEOUT:
            raise OptionError(f"the kernel refuses timeout {timeout} (1-{_MAX_TIMEOUT})",
                              arg.value_column())
        label_arg = opts["label"]
        label = c_string(label_arg, 28)
        if not label or "/" in label or label in (".", ".."):
            raise OptionError(f"the kernel refuses label `{label}' (it names a sysfs file)",
                              label_arg.value_column())
        return IdletimerTarget(timeout, label, "alarm" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, IdletimerTarget)
        out = f" --timeout {options.timeout} --label {options.label}"
        return out + (" --alarm" if options.alarm else "")

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, IdletimerTarget)
        return continue_with(f"restart idle timer {options.label!r} ({options.timeout} s)")
