"""SET (libxt_SET, revision 3): add the packet to, or delete it from, ipsets; map from one.

Each of --add-set, --del-set and --map-set takes two words: a set name and src/dst flags (one
to six). The flags word may not start with `-` or `!`. The parser of this target is of the old
kind that ignores `!`, so `! --add-set` is accepted and means the same. Whether the set exists,
and has the rule's family, the kernel decides when the rule is loaded; iptparse cannot see it.
--map-set only works in mangle, its --map-prio and --map-queue only at FORWARD, OUTPUT and
POSTROUTING.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..nodes import ExtOptions
from ._d_check import need_hooks
from ._d_num import xt_uint
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    register,
)

__all__ = ["SetRef", "SetTarget"]

Direction = Literal["src", "dst"]
_MAX_DIM = 6
_MAX_NAME = 31


@dataclass(frozen=True, slots=True)
class SetRef:
    """A set and the packet fields (src/dst, in set-dimension order) that form the entry."""

    name: str
    dirs: tuple[Direction, ...]


@dataclass(frozen=True, slots=True)
class SetTarget(ExtOptions):
    add: SetRef | None = None
    delete: SetRef | None = None
    map: SetRef | None = None
    exist: bool = False
    timeout: int | None = None  # None: the set's default
    map_mark: bool = False
    map_prio: bool = False
    map_queue: bool = False


def _ref(arg: OptArg) -> SetRef:
    name, flags = arg.values
    if flags.startswith(("-", "!")):
        raise OptionError(f"--{arg.name} requires two args.", arg.value_column(1))
    if len(name.encode("utf-8", "surrogateescape")) > _MAX_NAME:
        raise OptionError(f"setname `{name}' too long, max {_MAX_NAME} characters.",
                          arg.value_column())
    words = flags.split(",")
    if len(words) > _MAX_DIM:
        raise OptionError(f"Can't be more src/dst options than {_MAX_DIM}.",
                          arg.value_column(1))
    dirs: list[Direction] = []
    for word in words:
        if word not in ("src", "dst"):
            raise OptionError("You must specify (the comma separated list of) 'src' or 'dst'.",
                              arg.value_column(1))
        dirs.append("src" if word == "src" else "dst")
    return SetRef(name, tuple(dirs))


_SET_OPTIONS = {"add-set": "add", "del-set": "delete", "map-set": "map"}
_FLAG_OPTIONS = {"exist": "exist", "map-mark": "map_mark", "map-prio": "map_prio",
                 "map-queue": "map_queue"}


@register
class SetTargetExt(Extension):
    kind = "target"
    names = ("SET",)
    options = (
        OptSpec("add-set", 2, True),
        OptSpec("del-set", 2, True),
        OptSpec("exist", 0, True),
        OptSpec("timeout", 1, True),
        OptSpec("map-set", 2, True),
        OptSpec("map-mark", 0, True),
        OptSpec("map-prio", 0, True),
        OptSpec("map-queue", 0, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SetTarget:
        refs: dict[str, SetRef] = {}
        flags: set[str] = set()
        timeout: int | None = None
        for arg in args:
            if arg.name in _SET_OPTIONS:
                if arg.name in refs:
                    raise OptionError(f"--{arg.name} can be specified only once", arg.column)
                refs[arg.name] = _ref(arg)
            elif arg.name == "timeout":
                value = xt_uint(arg.value, 0, 0xFFFFFFFE)
                if value is None:
                    raise OptionError("Invalid value for option --timeout or out of range "
                                      "0-4294967294", arg.value_column())
                timeout = value
            else:
                flags.add(arg.name)
        if not refs:
            raise OptionError("You must specify either `--add-set' or `--del-set' or "
                              "`--map-set'")
        if "add-set" not in refs:
            if "exist" in flags:
                raise OptionError("Flag `--exist' can be used with `--add-set' only")
            if timeout is not None:
                raise OptionError("Option `--timeout' can be used with `--add-set' only")
        if "map-set" not in refs:
            for name in ("map-mark", "map-prio", "map-queue"):
                if name in flags:
                    raise OptionError(f"Flag `--{name}' can be used with `--map-set' only")
        elif not flags & {"map-mark", "map-prio", "map-queue"}:
            raise OptionError("You must specify flags `--map-mark' or '--map-prio` or "
                              "`--map-queue'")
        return SetTarget(refs.get("add-set"), refs.get("del-set"), refs.get("map-set"),
                         "exist" in flags, timeout, "map-mark" in flags, "map-prio" in flags,
                         "map-queue" in flags)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SetTarget)
        out = _render_ref("add-set", options.add)
        if options.exist:
            out += " --exist"
        if options.timeout is not None:
            out += f" --timeout {options.timeout}"
        out += _render_ref("del-set", options.delete) + _render_ref("map-set", options.map)
        for name, on in (("map-mark", options.map_mark), ("map-prio", options.map_prio),
                         ("map-queue", options.map_queue)):
            if on:
                out += f" --{name}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, SetTarget)
        if options.map is None:
            return None
        if ctx.table != "mangle":
            return "--map-set is only valid in the mangle table"
        if options.map_prio or options.map_queue:
            return need_hooks(ctx, ("FORWARD", "OUTPUT", "POSTROUTING"),
                              "--map-prio / --map-queue")
        return None


def _render_ref(option: str, ref: SetRef | None) -> str:
    if ref is None:
        return ""
    return f" --{option} {ref.name} {','.join(ref.dirs)}"
