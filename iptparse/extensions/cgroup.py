"""cgroup match (libxt_cgroup, revision 2): the socket's cgroup v2 path or net_cls classid.

The kernel wants exactly one of --path and --cgroup. A path is resolved in the loading
machine's cgroup2 hierarchy (a missing one makes the load fail there), so it is kept as text.
iptables-save quotes the path with xtables_save_string. Like iptables, a path longer than
the kernel's buffer is cut to PATH_MAX - 1 bytes without a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..argv import save_string
from ..nodes import ExtOptions
from ._c_num import U32, xt_uint_option
from ._c_rule import need_hooks
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

__all__ = ["CgroupMatch"]

PATH_MAX = 4096


@dataclass(frozen=True, slots=True)
class CgroupMatch(ExtOptions):
    path: str | None = None
    path_invert: bool = False
    classid: int | None = None
    classid_invert: bool = False


@register
class Cgroup(Extension):
    names = ("cgroup",)
    options = (OptSpec("path", 1, True), OptSpec("cgroup", 1, True))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> CgroupMatch:
        opts = one_of(args)
        path, cgroup = opts.get("path"), opts.get("cgroup")
        if path is not None and cgroup is not None:
            raise OptionError("--path and --cgroup cannot be combined",
                              max(path.column, cgroup.column))
        if path is not None:
            text = path.value.encode()[: PATH_MAX - 1].decode(errors="ignore")
            return CgroupMatch(path=text, path_invert=path.invert)
        if cgroup is not None:
            classid = xt_uint_option(cgroup.value, 0, U32, "cgroup", cgroup.value_column())
            return CgroupMatch(classid=classid, classid_invert=cgroup.invert)
        raise OptionError("you must specify --path or --cgroup")

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, CgroupMatch)
        out = ""
        if options.path is not None:
            out += f"{' !' if options.path_invert else ''} --path {save_string(options.path)}"
        if options.classid is not None:
            out += f"{' !' if options.classid_invert else ''} --cgroup {options.classid}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        # only packets with a local socket: received, sent, or leaving after OUTPUT
        return need_hooks(ctx, ("INPUT", "OUTPUT", "POSTROUTING"), "-m cgroup")
