"""What every match and target extension provides, and the registry that finds them.

iptables splits its knowledge of modules into one shared library per family (libxt_tcp,
libxt_mark…), each declaring its options and printing its own canonical form. We do the same:
one Python module per family under `iptparse.extensions`, each registering `Extension` objects.
The generic rule parser (`iptparse.rulespec`) only knows option *shapes* (how many arguments,
whether `!` may precede); the extension turns the option list into typed, frozen options and
prints them back exactly as iptables-save would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..nodes import ExtOptions, Family, Match

__all__ = [
    "BOTH",
    "ExtContext",
    "Extension",
    "OptArg",
    "OptSpec",
    "OptionError",
    "RenderContext",
    "find_match",
    "find_target",
    "register",
    "registry",
]

BOTH: frozenset[Family] = frozenset({Family.INET, Family.INET6})


@dataclass(frozen=True, slots=True)
class OptSpec:
    """One long option of an extension: `--name` with `nargs` arguments.

    `invert` says whether `!` may precede it. `nargs=-1` means one optional argument (taken
    when the next word does not look like an option), which a few old options have.
    """

    name: str
    nargs: int = 1
    invert: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OptArg:
    """An option as found on the line: canonical name, its arguments and where they stood."""

    name: str
    values: tuple[str, ...] = ()
    invert: bool = False
    column: int = 0
    value_columns: tuple[int, ...] = ()

    @property
    def value(self) -> str:
        """The single argument of a one-argument option."""
        return self.values[0]

    def value_column(self, index: int = 0) -> int:
        if index < len(self.value_columns):
            return self.value_columns[index]
        return self.column


class OptionError(ValueError):
    """A bad option value; `column` points at the word to blame (0: the option itself)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class ExtContext:
    """What an extension may consult while parsing: the dump's family."""

    family: Family


@dataclass(frozen=True, slots=True)
class RenderContext:
    family: Family


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a per-rule check sees: where the rule sits, its -p protocol and (for a target's
    check) the rule's matches, since some targets need one (TCPMSS needs a tcp SYN match)."""

    family: Family
    table: str
    chain: str
    protocol: int | None
    protocol_invert: bool
    matches: tuple[Match, ...] = ()


class Extension:
    """Base of match and target extensions; subclasses set the class attributes below.

    `parse` must be a pure function of its arguments: the parser shares one parsed result
    between every rule whose segment reads the same.
    """

    kind: ClassVar[Literal["match", "target"]] = "match"
    names: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[OptSpec, ...]] = ()
    families: ClassVar[frozenset[Family]] = BOTH
    #: Tables a target may be used in (None: any); iptables-restore rejects others.
    tables: ClassVar[frozenset[str] | None] = None
    #: Whether a target's `check` reads the rule's matches (`RuleContext.matches`): when not,
    #: the parser shares one result between rules that differ only in their matches.
    check_reads_matches: ClassVar[bool] = False

    def __init__(self) -> None:
        table: dict[str, OptSpec] = {}
        for spec in self.options:
            table[spec.name] = spec
            for alias in spec.aliases:
                table[alias] = spec
        self.option_table: Mapping[str, OptSpec] = table

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ExtOptions:
        raise NotImplementedError

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        """The canonical text after the name, starting with a space (or empty)."""
        raise NotImplementedError

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        """A reason iptables-restore would refuse this rule, or None."""
        return None

    # Semantics (see iptparse/semantics.py). A match returns a predicate, a target an Effect;
    # None means "not modelled": the interpreter then forks on a named assumption (match) or
    # ends the path with an UNKNOWN verdict (target), never guessing.

    def predicate(self, options: ExtOptions, ctx: Any) -> Any:
        """The match's meaning as an `iptparse.logic.Pred` (matches only)."""
        return None

    def effect(self, options: ExtOptions, ctx: Any) -> Any:
        """The target's meaning as an `iptparse.semantics.Effect` (targets only)."""
        return None


@dataclass
class _Registry:
    matches: dict[str, Extension] = field(default_factory=dict)
    targets: dict[str, Extension] = field(default_factory=dict)
    loaded: bool = False


registry = _Registry()


def register(cls: type[Extension]) -> type[Extension]:
    """Class decorator: instantiate and file the extension under each of its names."""
    ext = cls()
    book = registry.matches if cls.kind == "match" else registry.targets
    for name in cls.names:
        if name in book:
            raise RuntimeError(f"extension {name!r} registered twice")
        book[name] = ext
    return cls


def _load_all() -> None:
    if registry.loaded:
        return
    registry.loaded = True
    import importlib
    import pkgutil

    from .. import extensions as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def find_match(name: str) -> Extension | None:
    _load_all()
    return registry.matches.get(name)


def find_target(name: str) -> Extension | None:
    _load_all()
    return registry.targets.get(name)


def all_extensions() -> Iterable[Extension]:
    _load_all()
    seen: set[int] = set()
    for ext in [*registry.matches.values(), *registry.targets.values()]:
        if id(ext) not in seen:
            seen.add(id(ext))
            yield ext


# Helpers most extensions need -------------------------------------------------------------

def parse_int(text: str, lo: int, hi: int, what: str, column: int = 0) -> int:
    """An integer in decimal, hex (0x) or octal (0), as strtoul(…, 0) reads it."""
    try:
        value = int(text, 0) if not _is_octal(text) else int(text, 8)
    except ValueError:
        raise OptionError(f"invalid {what} `{text}'", column) from None
    if not lo <= value <= hi:
        raise OptionError(f"{what} `{text}' out of range {lo}-{hi}", column)
    return value


def _is_octal(text: str) -> bool:
    return len(text) > 1 and text[0] == "0" and text[1].isdigit()


def one_of(args: Sequence[OptArg]) -> dict[str, OptArg]:
    """Options by name, refusing repeats as iptables does ("multiple --x flags not allowed")."""
    seen: dict[str, OptArg] = {}
    for arg in args:
        if arg.name in seen:
            raise OptionError(f"option --{arg.name} given twice", arg.column)
        seen[arg.name] = arg
    return seen


Parser = Callable[[Sequence[OptArg], ExtContext], ExtOptions]
