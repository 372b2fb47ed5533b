"""LOG, NFLOG and ULOG (libxt_LOG, libxt_NFLOG, libipt_ULOG): log the packet and go on.

Prefixes live in fixed C buffers, so iptables cuts a long prefix silently (29 bytes for LOG, 63
for NFLOG, 31 for ULOG) and iptables-save prints the cut text, quoted only when it needs quotes.
The log level is a syslog number; iptables-save prints it as a number and omits the default 4.

Semantics: all three log the packet and let it go on (non-terminating targets). ULOG left the
kernel in 3.17, so a modern kernel refuses the rule; iptparse still reads it as a log target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect
from ._cnum import xt_uint
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

__all__ = ["LogTarget", "NflogTarget", "UlogTarget", "c_string"]

# xtables' own syslog names (xtoptions.c), matched case-sensitively.
_LEVELS = {"alert": 1, "crit": 2, "debug": 7, "emerg": 0, "error": 3, "info": 6,
           "notice": 5, "panic": 0, "warning": 4}
_DEFAULT_LEVEL = 4
_LOG_FLAGS = ("log-tcp-sequence", "log-tcp-options", "log-ip-options", "log-uid",
              "log-macdecode")


def c_string(arg: OptArg, size: int, min_length: int = 0) -> str:
    """A string option stored in a `char[size]`: cut to size-1 bytes, as XTOPT_PUT does."""
    text = arg.value
    if len(text.encode("utf-8", "surrogateescape")) < min_length:
        raise OptionError(f"Argument must have a minimum length of {min_length} characters",
                          arg.value_column())
    if "\n" in text:
        raise OptionError(f"Newlines not allowed in --{arg.name}", arg.value_column())
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) < size:
        return text
    return raw[:size - 1].decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class LogTarget(ExtOptions):
    """Kernel log: syslog `level`, `prefix`, and which extra fields to print."""

    level: int = _DEFAULT_LEVEL
    prefix: str = ""
    tcp_sequence: bool = False
    tcp_options: bool = False
    ip_options: bool = False
    uid: bool = False
    macdecode: bool = False


def _level(arg: OptArg) -> int:
    value = xt_uint(arg.value, 0, 7)
    if value is None:
        value = _LEVELS.get(arg.value)
    if value is None:
        raise OptionError(f"log level \"{arg.value}\" unknown", arg.value_column())
    return value


@register
class Log(Extension):
    kind = "target"
    names = ("LOG",)
    options = (OptSpec("log-level", 1), OptSpec("log-prefix", 1),
               *(OptSpec(name, 0) for name in _LOG_FLAGS))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> LogTarget:
        opts = one_of(args)
        level = _level(opts["log-level"]) if "log-level" in opts else _DEFAULT_LEVEL
        prefix = c_string(opts["log-prefix"], 30, 1) if "log-prefix" in opts else ""
        return LogTarget(level, prefix, *(name in opts for name in _LOG_FLAGS))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, LogTarget)
        out = f" --log-prefix {save_string(options.prefix)}" if options.prefix else ""
        if options.level != _DEFAULT_LEVEL:
            out += f" --log-level {options.level}"
        flags = (options.tcp_sequence, options.tcp_options, options.ip_options, options.uid,
                 options.macdecode)
        return out + "".join(f" --{name}" for name, on in zip(_LOG_FLAGS, flags, strict=True) if on)

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, LogTarget)
        prefix = f" with prefix {options.prefix!r}" if options.prefix else ""
        return continue_with(f"log to the kernel log (level {options.level}){prefix}")


@dataclass(frozen=True, slots=True)
class NflogTarget(ExtOptions):
    """nfnetlink_log: `group`, `prefix`, copy `length` (`copy_len` when --nflog-size set it;
    the old --nflog-range stored it without effect) and the queue `threshold`."""

    group: int = 0
    prefix: str = ""
    length: int = 0
    copy_len: bool = False
    threshold: int = 0


@register
class Nflog(Extension):
    kind = "target"
    names = ("NFLOG",)
    options = (OptSpec("nflog-group", 1), OptSpec("nflog-prefix", 1), OptSpec("nflog-range", 1),
               OptSpec("nflog-size", 1), OptSpec("nflog-threshold", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NflogTarget:
        opts = one_of(args)
        if "nflog-range" in opts and "nflog-size" in opts:
            raise OptionError("--nflog-range and --nflog-size cannot be combined",
                              max(opts["nflog-range"].column, opts["nflog-size"].column))
        group = xt_uint_arg(opts["nflog-group"], 0, 0xFFFF) if "nflog-group" in opts else 0
        prefix = c_string(opts["nflog-prefix"], 64, 1) if "nflog-prefix" in opts else ""
        length = 0
        for name in ("nflog-range", "nflog-size"):
            if name in opts:
                length = xt_uint_arg(opts[name], 0, 0xFFFFFFFF)
        threshold = 0
        if "nflog-threshold" in opts:
            threshold = xt_uint_arg(opts["nflog-threshold"], 0, 0xFFFF)
        return NflogTarget(group, prefix, length, "nflog-size" in opts, threshold)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NflogTarget)
        out = f" --nflog-prefix {save_string(options.prefix)}" if options.prefix else ""
        if options.group:
            out += f" --nflog-group {options.group}"
        if options.copy_len:
            out += f" --nflog-size {options.length}"
        elif options.length:
            out += f" --nflog-range {options.length}"
        if options.threshold:
            out += f" --nflog-threshold {options.threshold}"
        return out

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NflogTarget)
        prefix = f" with prefix {options.prefix!r}" if options.prefix else ""
        return continue_with(f"log to nflog group {options.group}{prefix}")


@dataclass(frozen=True, slots=True)
class UlogTarget(ExtOptions):
    """The old IPv4 ULOG (gone from kernels since 3.17): netlink group 1-32, prefix, copy
    range (0: whole packet) and queue threshold."""

    nlgroup: int = 1
    prefix: str = ""
    cprange: int = 0
    qthreshold: int = 1


@register
class Ulog(Extension):
    kind = "target"
    names = ("ULOG",)
    families = frozenset({Family.INET})
    options = (OptSpec("ulog-nlgroup", 1), OptSpec("ulog-prefix", 1),
               OptSpec("ulog-cprange", 1), OptSpec("ulog-qthreshold", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> UlogTarget:
        opts = one_of(args)
        nlgroup = xt_uint_arg(opts["ulog-nlgroup"], 1, 32) if "ulog-nlgroup" in opts else 1
        prefix = c_string(opts["ulog-prefix"], 32, 1) if "ulog-prefix" in opts else ""
        cprange = 0
        if "ulog-cprange" in opts:
            cprange = xt_uint_arg(opts["ulog-cprange"], 0, 0xFFFFFFFFFFFFFFFF)
        qthreshold = 1
        if "ulog-qthreshold" in opts:
            qthreshold = xt_uint_arg(opts["ulog-qthreshold"], 1, 50)
        return UlogTarget(nlgroup, prefix, cprange, qthreshold)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, UlogTarget)
        out = f" --ulog-prefix {save_string(options.prefix)}" if options.prefix else ""
        if options.nlgroup != 1:
            out += f" --ulog-nlgroup {options.nlgroup}"
        if options.cprange:
            out += f" --ulog-cprange {options.cprange & 0xFFFFFFFF}"  # printed with %u
        if options.qthreshold != 1:
            out += f" --ulog-qthreshold {options.qthreshold}"
        return out

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, UlogTarget)
        prefix = f" with prefix {options.prefix!r}" if options.prefix else ""
        return continue_with(f"log to ULOG netlink group {options.nlgroup}{prefix} (ULOG left "
                             "the kernel in 3.17)")
