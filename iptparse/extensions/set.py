"""set match (libxt_set revision 4): membership of packet fields in an ipset.

`--match-set NAME src,dst` takes two words: the set and which packet field feeds each of the
set's dimensions (at most 6). The set must exist in the kernel when the rule loads, which only
the live system knows. Counter tests and the no-update flags come after it; iptables-save prints
the set name raw, unquoted, as ipset names may hold punctuation.

Semantics: see `_a_ipset` (membership as the kernel looks it up). `! --update-counters` and
`! --update-subcounters` only spare the counters: they change no answer. Counter tests hold on
the counters of the entry found, this packet counted, which no dump shows at that moment: an
assumption of kind `set-counters` (made only when the set has counters: the kernel skips the
tests on a set without them). A set missing from a given ipset dump makes the rule impossible
(the kernel refuses such a rule); with no ipset dump at all, membership is an assumption of
kind `set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..logic import Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._cnum import U64, xt_uint
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["CounterTest", "SetMatch"]

Side = Literal["src", "dst"]
SET_NAME_MAX = 31
DIM_MAX = 6


@dataclass(frozen=True, slots=True)
class CounterTest:
    """A test on the matching element's packet or byte counter: op is eq, ne, lt or gt."""

    op: Literal["eq", "ne", "lt", "gt"]
    value: int


@dataclass(frozen=True, slots=True)
class SetMatch(ExtOptions):
    """`[!] --match-set NAME DIRS` and its flags; `dirs` has one side per set dimension."""

    name: str
    dirs: tuple[Side, ...]
    invert: bool = False
    return_nomatch: bool = False
    update_counters: bool = True
    update_subcounters: bool = True
    packets: CounterTest | None = None
    bytes: CounterTest | None = None


def _dirs(arg: OptArg) -> tuple[Side, ...]:
    """`src,dst,…`: each item must start with src or dst (libxt_set compares 3 letters)."""
    items = arg.values[1].split(",")
    if len(items) > DIM_MAX:
        raise OptionError(f"Can't be more src/dst options than {DIM_MAX}.", arg.value_column(1))
    dirs: list[Side] = []
    for item in items:
        if item.startswith("src"):
            dirs.append("src")
        elif item.startswith("dst"):
            dirs.append("dst")
        else:
            raise OptionError("You must spefify (the comma separated list of) 'src' or 'dst'.",
                              arg.value_column(1))
    return tuple(dirs)


def _counter(arg: OptArg, seen: CounterTest | None) -> CounterTest:
    kind, _, op = arg.name.partition("-")
    if seen is not None:
        raise OptionError(f"only one of the --{kind}-[eq|lt|gt] is allowed", arg.column)
    if arg.invert and op != "eq":
        raise OptionError(f"--{arg.name} option cannot be inverted", arg.column)
    value = xt_uint(arg.value, 0, U64)
    if value is None:
        raise OptionError(f"Cannot parse {arg.value} as a counter value", arg.value_column())
    return CounterTest("ne" if arg.invert else op, value)  # type: ignore[arg-type]


@register
class Set(Extension):
    """Assumption kinds `set` (only without any ipset dump, or for a destination-MAC lookup):
    holds = the packet is in the set; `set-counters`: holds = the entry's counter tests pass."""

    names = ("set",)
    options = (
        OptSpec("match-set", 2, True, ("set",)),
        OptSpec("return-nomatch", 0, True),
        OptSpec("update-counters", 0, True),
        OptSpec("update-subcounters", 0, True),
        *(OptSpec(f"{kind}-{op}", 1, True)
          for kind in ("packets", "bytes") for op in ("eq", "lt", "gt")),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SetMatch:
        match: OptArg | None = None
        flags: dict[str, object] = {}
        for arg in args:
            if arg.name == "match-set":
                if match is not None:
                    raise OptionError("--match-set can be specified only once", arg.column)
                if arg.values[1][:1] in ("-", "!"):
                    raise OptionError("--match-set requires two args.", arg.value_column(1))
                if len(arg.values[0].encode()) > SET_NAME_MAX:
                    raise OptionError(f"setname `{arg.values[0]}' too long, max "
                                      f"{SET_NAME_MAX} characters.", arg.value_column())
                match = arg
                flags["dirs"] = _dirs(arg)
            elif arg.name == "return-nomatch":
                if arg.invert:
                    raise OptionError("--return-nomatch flag cannot be inverted", arg.column)
                flags["return_nomatch"] = True
            elif arg.name in ("update-counters", "update-subcounters"):
                if arg.invert:
                    flags[arg.name.replace("-", "_")] = False
            else:
                kind = arg.name.partition("-")[0]
                seen = flags.get(kind)
                assert seen is None or isinstance(seen, CounterTest)
                flags[kind] = _counter(arg, seen)
        if match is None:
            raise OptionError("You must specify `--match-set' with proper arguments")
        return SetMatch(name=match.values[0], invert=match.invert, **flags)  # type: ignore[arg-type]

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SetMatch)
        o = options
        out = [f"{' !' if o.invert else ''} --match-set {o.name} {','.join(o.dirs)}"]
        if o.return_nomatch:
            out.append(" --return-nomatch")
        if not o.update_counters:
            out.append(" ! --update-counters")
        if not o.update_subcounters:
            out.append(" ! --update-subcounters")
        for kind, test in (("packets", o.packets), ("bytes", o.bytes)):
            if test is not None:
                op = "eq" if test.op == "ne" else test.op
                out.append(f"{' !' if test.op == 'ne' else ''} --{kind}-{op} {test.value}")
        return "".join(out)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, SetMatch)
        from ._a_ipset import set_predicate

        return set_predicate(options, ctx)
