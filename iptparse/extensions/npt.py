"""SNPT and DNPT (libip6t_SNPT, libip6t_DNPT): stateless IPv6 prefix translation (RFC 6296).

Both prefixes are required. iptables passes them unmasked, and the kernel refuses a prefix
longer than 64 bits or with bits set past its length (`dead::1/64`), so those are refused here.
SNPT runs at INPUT and POSTROUTING, DNPT at PREROUTING and OUTPUT, in mangle.

Semantics (ip6t_NPT.c): the first max(src, dst length) bits of the source (SNPT) or destination
(DNPT) address become the --dst-pfx bits, whatever the address was (the kernel does not check
it lies in --src-pfx), and one 16-bit word after the prefix is adjusted so checksums stay valid
(word 3 for prefixes up to /48, else the first of words 4-7 that is not ffff; when all are, the
kernel drops the packet with an ICMPv6 parameter problem). Exact for a known address, else a
fresh value in the mapped prefix; whether an unknown address ends in ffff:ffff:ffff:ffff (for
prefixes longer than /48) is an assumption of kind `npt`, as address sets cannot hold "these
low bits all ones". An ICMPv6 error's quoted header is rewritten too; iptparse
does not model quoted headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..domain import IntSet, ValueSet
from ..logic import Custom
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect, SetFrom
from ._checks import need_hooks
from ._d_addr import host_text, parse_hostmask
from ._d_hash import npt_adjustment, npt_map
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
    field: ClassVar[str] = ""

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

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, NptTarget)
        field = self.field
        length = max(options.src_length, options.dst_length)
        adjustment = npt_adjustment(options.src_prefix, options.dst_prefix)
        top = (1 << 128) - 1
        mapped_prefix = IntSet.prefix(options.dst_prefix, length, 128)

        def mapped(values: tuple[ValueSet, ...]) -> ValueSet:
            single = values[0].single_value()
            if isinstance(single, int):
                result = npt_map(single, options.dst_prefix, length, adjustment)
                if result is not None:
                    return IntSet.single(result, top)
            return mapped_prefix

        target = f"{host_text(options.dst_prefix, Family.INET6)}/{options.dst_length}"
        name = self.names[0]
        effect = Effect(changes=(SetFrom(field, (field,), mapped, f"{field} after {name}"),),
                        note=f"{name}: {field} prefix becomes {target}")
        if length <= 48:
            return effect
        low = (1 << 64) - 1
        usable = Custom((field,), lambda values: int(values[0]) & low != low,
                        ctx.key("npt"), "npt", f"{field} does not end in ffff:ffff:ffff:ffff",
                        f"{field} ends in ffff:ffff:ffff:ffff")
        return Effect(effect.verdict, effect.changes, effect.note, when=usable,
                      otherwise=Effect(verdict="DROP", note=f"{name}: no word to adjust: "
                                       "dropped with an ICMPv6 parameter problem"))


@register
class Snpt(_Npt):
    names = ("SNPT",)
    hooks = ("INPUT", "POSTROUTING")
    field = "src"


@register
class Dnpt(_Npt):
    names = ("DNPT",)
    hooks = ("PREROUTING", "OUTPUT")
    field = "dst"
