"""cgroup match (libxt_cgroup, revision 2): the socket's cgroup v2 path or net_cls classid.

The kernel wants exactly one of --path and --cgroup. A path is resolved in the loading
machine's cgroup2 hierarchy (a missing one makes the load fail there), so it is kept as text.
iptables-save quotes the path with xtables_save_string. Like iptables, a path longer than
the kernel's buffer is cut to PATH_MAX - 1 bytes without a word.

Semantics (xt_cgroup): a packet without a full local socket (field `socket` 0: every packet
from the wire, except at INPUT when early demux found its socket) never matches, negated or
not. With one, the socket's cgroup (a descendant of --path) or net_cls classid (--cgroup) is
compared; the host's cgroups are not in any dump, so that is the assumption `cgroup` ("the
socket is in cgroup …"), pinned per rule; `!` negates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..argv import save_string
from ..logic import Pred
from ..nodes import ExtOptions
from ._checks import only_at_hooks
from ._cnum import U32
from ._pred import conj, flag, invert
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
    """Field `socket`; assumption kind `cgroup` (holds = the socket is in the cgroup or has the
    classid, before any `!`)."""

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
        return only_at_hooks(ctx, ("INPUT", "OUTPUT", "POSTROUTING"), "-m cgroup")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, CgroupMatch)
        if options.path is not None:
            where = f"cgroup {save_string(options.path)} or below it"
            inverted = options.path_invert
        else:
            where = f"the net_cls class {options.classid}"
            inverted = options.classid_invert
        member = ctx.assume("cgroup", f"the packet's socket is in {where}",
                            f"the packet's socket is not in {where}")
        has_socket = flag("socket", 1, "the packet has a local socket",
                          "the packet has no local socket")
        return conj(has_socket, invert(member, inverted))
