"""SNPT and DNPT (libip6t_SNPT, libip6t_DNPT): stateless IPv6 prefix translation (RFC 6296).

Both prefixes are required. iptables passes them unmasked, and the kernel refuses a prefix
longer than 64 bits or with bits set past its length (`dead::1/64`), so those are refused here.
SNPT runs at INPUT and POSTROUTING, DNPT at PREROUTING and OUTPUT, in mangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..nodes import ExtOptions, Family
from ._d_addr import host_text, parse_hostmask
from ._d_check import need_hooks
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

__all__ = ["NptTarget"]


@dataclass(frozen=True, slots=True)
class NptTarget(ExtOptions):
    """Translate `src_prefix/src_length` to `dst_prefix/dst_length` (addresses as integers)."""

    src_prefix: int
    src_length: int
    dst_prefix: int
    dst_length: int


def _prefix(arg: OptArg) -> tuple[int, int]:
    address, length = parse_hostmask(arg, Family.INET6)
    if length > 64:
        raise OptionError(f"the kernel refuses prefixes longer than 64 bits (/{length})",
                          arg.value_column())
    if address & ((1 << (128 - length)) - 1):
        raise OptionError(f"`{arg.value}' has bits set past its prefix length",
                          arg.value_column())
    return address, length


class _Npt(Extension):
    kind = "target"
    families = frozenset({Family.INET6})
    tables = frozenset({"mangle"})
    options = (OptSpec("src-pfx", 1), OptSpec("dst-pfx", 1))
    hooks: ClassVar[tuple[str, ...]] = ()

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NptTarget:
        opts = one_of(args)
        for name in ("src-pfx", "dst-pfx"):
            if name not in opts:
                raise OptionError(f"option \"--{name}\" must be specified")
        return NptTarget(*_prefix(opts["src-pfx"]), *_prefix(opts["dst-pfx"]))

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, NptTarget)
        return (f" --src-pfx {host_text(options.src_prefix, Family.INET6)}/"
                f"{options.src_length} --dst-pfx {host_text(options.dst_prefix, Family.INET6)}"
                f"/{options.dst_length}")

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_hooks(ctx, self.hooks)


@register
class Snpt(_Npt):
    names = ("SNPT",)
    hooks = ("INPUT", "POSTROUTING")


@register
class Dnpt(_Npt):
    names = ("DNPT",)
    hooks = ("PREROUTING", "OUTPUT")
