"""SET (libxt_SET, revision 3): add the packet to, or delete it from, ipsets; map from one.

Each of --add-set, --del-set and --map-set takes two words: a set name and src/dst flags (one
to six). The flags word may not start with `-` or `!`. The parser of this target is of the old
kind that ignores `!`, so `! --add-set` is accepted and means the same. Whether the set exists,
and has the rule's family, the kernel decides when the rule is loaded; iptparse cannot see it.
--map-set only works in mangle, its --map-prio and --map-queue only at FORWARD, OUTPUT and
POSTROUTING.

Semantics (xt_set.c, set_target_v3): --add-set / --del-set change the set at once and let the
packet go on; a later `-m set` in the same walk sees the change (`_a_setupdate`: exact when the
packet's key is, else the set's contents are unknown from there). --map-set looks the packet
up like `-m set`; when found, the entry's skbinfo sets the mark (`(mark & ~mask) ^ value`),
the priority and the tx queue. Which entry a packet finds is exact only through the
membership test, so the mark and priority become the values the set's entries allow (exact
when they all carry the same); an entry without skbinfo has mark 0/0 (no change) and
priority 0. The tx queue is no field: it shows in the note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..domain import BitSet, IntSet, ValueSet
from ..nodes import ExtOptions
from ..semantics import Change, CompileContext, Effect, SetFrom, SetUpdate, SetValue
from ._a_ipset import set_predicate
from ._a_setupdate import KernelUpdate
from ._checks import need_hooks
from ._cnum import xt_uint
from ._d_sem import BitCube, continue_with
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
from .set import SetMatch

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

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, SetTarget)
        notes = []
        updates = []
        ops: tuple[tuple[Literal["add", "del"], SetRef | None], ...] = (
            ("add", options.add), ("del", options.delete))
        for op, ref in ops:
            if ref is not None:
                text = (f"{'add' if op == 'add' else 'delete'} {','.join(ref.dirs)} "
                        f"{'to' if op == 'add' else 'from'} ipset {ref.name}")
                notes.append(text)
                updates.append(SetUpdate(ref.name, text, KernelUpdate(
                    op, ref.name, ref.dirs, options.exist, ctx.family)))
        changed = "; ".join(notes)
        if options.map is None:
            return replace(continue_with(changed), updates=tuple(updates))
        mapped = _map_effect(options, ctx, changed)
        assert mapped.otherwise is not None
        # the kernel adds and deletes before it maps, whether the lookup finds an entry or not
        return replace(mapped, updates=tuple(updates),
                       otherwise=replace(mapped.otherwise, updates=tuple(updates)))


def _render_ref(option: str, ref: SetRef | None) -> str:
    if ref is None:
        return ""
    return f" --{option} {ref.name} {','.join(ref.dirs)}"


def _entries(name: str, sets: Mapping[str, Any], seen: frozenset[str] = frozenset()
             ) -> list[Any] | None:
    """The members whose skbinfo a lookup in set `name` can return (list:set: its sets');
    None when a set is not in the dump."""
    ipset = sets.get(name)
    if ipset is None or name in seen:
        return None
    if ipset.type != "list:set":
        return [m for m in ipset.members if not m.nomatch]
    out: list[Any] = []
    for member in ipset.index.order:
        found = _entries(member, sets, seen | {name})
        if found is None:
            return None
        out += found
    return out


@dataclass(frozen=True, slots=True)
class _MarkFromEntries:
    """The mark after --map-mark: `(mark & ~mask) ^ value` for the (value, mask) of any
    entry the lookup may find (None or none: any mark). A value, so that the rule compiled
    again against a path's sets has an equal effect."""

    marks: frozenset[tuple[int, int]] | None

    def __call__(self, values: tuple[ValueSet, ...]) -> ValueSet:
        if not self.marks:
            return BitSet.all(32)
        cube = BitCube.of(values[0])
        result = BitSet.empty(32)
        for value, mask in self.marks:
            result = result | cube.xmark(value, mask).bitset()
        return result


def _map_effect(options: SetTarget, ctx: CompileContext, changed: str) -> Effect:
    ref = options.map
    assert ref is not None
    members = _entries(ref.name, ctx.sets)
    changes: list[Change] = []
    notes = [changed] if changed else []
    if options.map_mark:
        marks = None if members is None else frozenset(m.skbmark or (0, 0) for m in members)
        changes.append(SetFrom("mark", ("mark",), _MarkFromEntries(marks),
                               f"mark from ipset {ref.name}"))
        notes.append("mark from the entry's skbmark")
    if options.map_prio:
        prios = IntSet.all(0xFFFFFFFF) if not members else IntSet.values(
            ((m.skbprio or (0, 0))[0] << 16 | (m.skbprio or (0, 0))[1] for m in members),
            0xFFFFFFFF)
        changes.append(SetValue("priority", prios, f"priority from ipset {ref.name}"))
        notes.append("priority from the entry's skbprio")
    if options.map_queue:
        notes.append("tx queue from the entry's skbqueue")
    found = set_predicate(SetMatch(ref.name, ref.dirs), ctx)
    return Effect(changes=tuple(changes), note=f"map from ipset {ref.name}: " + ", ".join(
        notes), when=found, otherwise=Effect(note=changed or f"not in ipset {ref.name}: "
                                             "nothing mapped"))
