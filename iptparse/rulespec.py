"""From a rule's arguments to its parts, the way iptables' getopt loop assigns them.

iptables reads a rule with getopt over a table of options that grows as `-m` and `-j` load
extensions: a known option takes its arguments whatever they look like, `!` negates what
follows, `-p tcp` lets `--dport` load the tcp match implicitly, and an option may even come after
`-j` if an earlier module owns it. This module reproduces that assignment so restore files with
any option order load as iptables loads them; extensions then type each group's options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .argv import Arg
from .extensions.base import Extension, OptArg, OptSpec, find_match, find_target
from .nodes import Family

__all__ = ["Group", "RuleArgs", "RuleSpecError", "assign"]

STANDARD_TARGETS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})

# Protocol names whose -p loads a match of that name when one of its options is seen.
IMPLICIT_MATCH = {
    "tcp": "tcp", "udp": "udp", "udplite": "udplite", "sctp": "sctp", "dccp": "dccp",
    "icmp": "icmp", "icmpv6": "icmp6", "ipv6-icmp": "icmp6", "icmp6": "icmp6",
    "esp": "esp", "ah": "ah", "mh": "mh", "ipv6-mh": "mh",
}

_SHORT = {
    "-s": "source", "--source": "source", "--src": "source",
    "-d": "destination", "--destination": "destination", "--dst": "destination",
    "-p": "protocol", "--protocol": "protocol",
    "-i": "in-interface", "--in-interface": "in-interface",
    "-o": "out-interface", "--out-interface": "out-interface",
    "-f": "fragment", "--fragment": "fragment", "--fragments": "fragment",
    "-m": "match", "--match": "match",
    "-j": "jump", "--jump": "jump",
    "-g": "goto", "--goto": "goto",
    "-c": "set-counters", "--set-counters": "set-counters",
    "-4": "ipv4", "--ipv4": "ipv4", "-6": "ipv6", "--ipv6": "ipv6",
}


class RuleSpecError(ValueError):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(slots=True)
class Group:
    """The options of one loaded extension (or of an unknown module, kept as raw words)."""

    name: str
    extension: Extension | None
    column: int
    kind: str = "match"
    implicit: bool = False
    goto: bool = False
    options: list[OptArg] = field(default_factory=list)
    raw: list[Arg] = field(default_factory=list)


@dataclass(slots=True)
class RuleArgs:
    """A rule's parts before typing: basic options, match groups and the target group."""

    source: tuple[str, bool, int] | None = None
    destination: tuple[str, bool, int] | None = None
    protocol: tuple[str, bool, int] | None = None
    in_interface: tuple[str, bool, int] | None = None
    out_interface: tuple[str, bool, int] | None = None
    fragment: tuple[bool, int] | None = None
    counters: tuple[str, str, int] | None = None
    matches: list[Group] = field(default_factory=list)
    target: Group | None = None
    goto: bool = False
    legacy_negation: bool = False
    #: the rule names the other family (`-6` read by iptables-restore): iptables-restore
    #: ignores such a line from there on, so one file can serve both tools
    skipped: bool = False


def _looks_like_option(arg: Arg) -> bool:
    return not arg.quoted and len(arg.value) > 1 and arg.value[0] == "-"


_SHORT_WITH_VALUE = frozenset("sdpiojgmc")


def _split_joined(arg: Arg) -> list[Arg] | None:
    """getopt's joined forms in option position: `--name=value` and `-pVALUE`."""
    word = arg.value
    if arg.quoted or len(word) < 3 or word[0] != "-":
        return None
    if word.startswith("--"):
        if "=" not in word:
            return None
        name, _, value = word.partition("=")
        return [Arg(name, arg.column, False, name),
                Arg(value, arg.column + len(name) + 1, False, value)]
    if word[1] in _SHORT_WITH_VALUE:
        return [Arg(word[:2], arg.column, False, word[:2]),
                Arg(word[2:], arg.column + 2, False, word[2:])]
    return None


#: XT_EXTENSION_MAXNAMELEN less its terminating NUL: what libxtables accepts as a module name
MODULE_NAME_MAX = 28


def _check_module_name(name: Arg) -> None:
    """Refuse an unknown module's name that iptables could not load either: too long (its
    own check), or empty, holding a space or a quote, or starting as an option or a negation
    does (`-m ! comment`, `-m --mark 1 mark`: no extension is called that; kept verbatim, it
    would print back as other words than it was read from)."""
    value = name.value
    if len(value) > MODULE_NAME_MAX:
        raise RuleSpecError(f'Invalid match name "{value}" ({MODULE_NAME_MAX} chars max)',
                            name.column)
    if (not value or '"' in value or value[0] in "-!"
            or any(ch.isspace() for ch in value)):
        raise RuleSpecError(f"Couldn't load match `{value}': no such extension", name.column)


def _check_target_name(name: Arg) -> None:
    """iptables' parse_target(): a -j/-g name is not empty, not too long and has no space."""
    value = name.value
    if not value:
        raise RuleSpecError("Invalid target name (too short)", name.column)
    if len(value) > MODULE_NAME_MAX:
        raise RuleSpecError(f"Invalid target name `{value}' ({MODULE_NAME_MAX} chars max)",
                            name.column)
    if any(ch.isspace() for ch in value):
        raise RuleSpecError(f"Invalid target name `{value}'", name.column)


def assign(args: Sequence[Arg], family: Family, *, old_negation: bool = False) -> RuleArgs:
    """Assign every argument to its owner; raise RuleSpecError at the first bad one.

    `old_negation` accepts the `-s ! ADDR` / `--dport ! 80` style that iptables before 1.4.3
    wrote (today's iptables refuses it); the result says it was used, so callers can warn.
    """
    args = list(args)
    out = RuleArgs()
    loaded: list[Group] = []  # in load order, target last when present
    invert_at = 0  # column of a pending '!', 0 when none
    i = 0
    n = len(args)

    def take(count: int, what: str, at: Arg) -> list[Arg]:
        nonlocal i
        if i + count > n:
            raise RuleSpecError(f"option {what} needs a value", at.column)
        got = list(args[i : i + count])
        i += count
        return got

    while i < n:
        arg = args[i]
        joined = _split_joined(arg)
        if joined is not None:
            args[i : i + 1] = joined
            n += 1
            arg = args[i]
        i += 1
        word = arg.value
        if word == "!" and not arg.quoted:
            if invert_at:
                raise RuleSpecError("multiple consecutive ! not allowed", arg.column)
            invert_at = arg.column
            continue
        basic = _SHORT.get(word) if not arg.quoted else None
        if basic is None and not arg.quoted and word.startswith("--") and len(word) > 2:
            try:
                basic = _basic_abbreviation(word, loaded)
            except Ambiguous as exc:
                raise RuleSpecError(str(exc), arg.column) from None
        if basic is not None:
            invert = bool(invert_at)
            invert_at = 0
            if basic in ("match", "jump", "goto"):
                if invert:
                    raise RuleSpecError(f"unexpected ! flag before {word}", arg.column)
                (name_arg,) = take(1, word, arg)
                if basic == "match":
                    ext = find_match(name_arg.value)
                    if ext is None:
                        _check_module_name(name_arg)
                    group = Group(name_arg.value, ext, arg.column)
                    out.matches.append(group)
                    loaded.append(group)
                else:
                    if out.target is not None:
                        raise RuleSpecError("multiple -j or -g flags not allowed", arg.column)
                    _check_target_name(name_arg)
                    ext = find_target(name_arg.value) if basic == "jump" else None
                    group = Group(name_arg.value, ext, name_arg.column, kind="target",
                                  goto=basic == "goto")
                    out.target = group
                    out.goto = basic == "goto"
                    loaded.append(group)
                continue
            if basic in ("ipv4", "ipv6"):
                if invert:
                    raise RuleSpecError(f"unexpected ! flag before {word}", arg.column)
                if (basic == "ipv6") != (family is Family.INET6):
                    out.skipped = True  # what follows is not read, nor checked
                    return out
                continue  # the tool's own family: no effect
            if basic == "fragment":
                if out.fragment is not None:
                    raise RuleSpecError("multiple -f flags not allowed", arg.column)
                out.fragment = (not invert, arg.column)
                continue
            if basic == "set-counters":
                if invert:
                    raise RuleSpecError(f"cannot have ! before {word}", arg.column)
                pk, by = take(2, word, arg)
                out.counters = (pk.value, by.value, pk.column)
                continue
            (value,) = take(1, word, arg)
            legacy = False
            if (value.value == "!" and not value.quoted and i < n
                    and not _looks_like_option(args[i])):
                # "-s ! addr": the negation style of iptables before 1.4.3 (before an option,
                # the "!" is the value itself: iptables 1.8 takes `-o ! -p udp` as an
                # interface named "!")
                if not old_negation:
                    raise RuleSpecError(f"`{word} ! VALUE' is the old negation style, which "
                                        f"iptables 1.8 refuses: write `! {word} VALUE'",
                                        value.column)
                (value,) = take(1, word, arg)
                legacy = True
            if legacy and invert:
                raise RuleSpecError("multiple consecutive ! not allowed", arg.column)
            invert = invert or legacy
            out.legacy_negation |= legacy
            slot = basic.replace("-", "_")
            if getattr(out, slot) is not None:
                raise RuleSpecError(f"multiple {word} flags not allowed", arg.column)
            setattr(out, slot, (value.value, invert, value.column))
            continue

        if _looks_like_option(arg) and word.startswith("--"):
            name = word[2:]
            try:
                owner, spec = _owner(loaded, name)
                if owner is None:
                    implicit = _implicit_group(out, loaded, name, family, arg.column)
                    if implicit is not None:
                        owner, spec = implicit
            except Ambiguous as exc:
                raise RuleSpecError(str(exc), arg.column) from None
            if owner is None:
                raise RuleSpecError(f"unknown option \"{word}\"", arg.column)
            invert = bool(invert_at)
            invert_at = 0
            if spec is None:  # an unknown module owns it: keep words verbatim
                if invert:
                    owner.raw.append(Arg("!", arg.column, raw="!"))
                owner.raw.append(arg)
                while i < n and not _looks_like_option(args[i]) and not (
                    args[i].value == "!" and not args[i].quoted
                ):
                    owner.raw.append(args[i])
                    i += 1
                continue
            if invert and not spec.invert:
                raise RuleSpecError(f"cannot have ! before {word}", arg.column)
            values: list[Arg] = []
            if spec.nargs < 0:
                if i < n and not _looks_like_option(args[i]) and args[i].value != "!":
                    values = take(1, word, arg)
            else:
                values = take(spec.nargs, word, arg)
                if (
                    spec.invert
                    and values
                    and values[0].value == "!"
                    and not values[0].quoted
                    and i < n
                    and not _looks_like_option(args[i])
                ):
                    if not old_negation:
                        raise RuleSpecError(
                            f"`{word} ! VALUE' is the old negation style, which iptables 1.8 "
                            f"refuses: write `! {word} VALUE'", values[0].column)
                    if invert:
                        raise RuleSpecError("multiple consecutive ! not allowed", arg.column)
                    invert = True
                    out.legacy_negation = True
                    values = values[1:] + take(1, word, arg)
            owner.options.append(
                OptArg(
                    spec.name,
                    tuple(v.value for v in values),
                    invert,
                    arg.column,
                    tuple(v.column for v in values),
                )
            )
            continue
        if invert_at:
            raise RuleSpecError(f"! must be followed by an option, not `{word}'", arg.column)
        # A bare word: the tail of an unknown module's options, or a stray argument.
        if loaded and loaded[-1].extension is None and loaded[-1].kind == "match":
            loaded[-1].raw.append(arg)
            continue
        raise RuleSpecError(f"unexpected argument `{word}'", arg.column)
    if invert_at:
        raise RuleSpecError("! at the end of the rule", invert_at)
    return out


#: getopt's own long options in iptables 1.8 (iptables.c's original_opts), with the short
#: option each stands for: commands and flags too, which a rule cannot use but an
#: abbreviation can clash with (`--de` is --delete, --delete-chain or --destination).
_GETOPT_BASE = (
    ("append", "A"), ("delete", "D"), ("check", "C"), ("insert", "I"), ("replace", "R"),
    ("list", "L"), ("list-rules", "S"), ("flush", "F"), ("zero", "Z"), ("new-chain", "N"),
    ("delete-chain", "X"), ("rename-chain", "E"), ("policy", "P"), ("source", "s"),
    ("destination", "d"), ("src", "s"), ("dst", "d"), ("protocol", "p"),
    ("in-interface", "i"), ("jump", "j"), ("table", "t"), ("match", "m"), ("numeric", "n"),
    ("out-interface", "o"), ("verbose", "v"), ("wait", "w"), ("wait-interval", "W"),
    ("exact", "x"), ("fragments", "f"), ("version", "V"), ("help", "h"),
    ("line-numbers", "0"), ("modprobe", "M"), ("set-counters", "c"), ("goto", "g"),
    ("ipv4", "4"), ("ipv6", "6"),
)


def _basic_abbreviation(word: str, loaded: list[Group]) -> str | None:
    """`--sou` for --source, as getopt_long reads an abbreviation: None when no base option
    starts with it or a loaded extension has the very option (the extensions' turn);
    Ambiguous when it also starts another base option or an extension's option (`--ma`
    with `-m mark` loaded: --match or --mark; iptables says "unknown option")."""
    name = word[2:]
    found = {val: opt for opt, val in _GETOPT_BASE if opt.startswith(name)}
    if not found:
        return None
    exts = [g.extension for g in loaded if g.extension is not None]
    if any(name in ext.option_table for ext in exts):
        return None  # an exact match wins
    clashes = sorted({opt for ext in exts for opt in ext.option_table if opt.startswith(name)})
    if len(found) > 1 or clashes:
        names = sorted(found.values()) + clashes
        raise Ambiguous(f"option `--{name}' is ambiguous: --{', --'.join(names)}")
    slot = _SHORT.get(f"-{next(iter(found))}")
    if slot is None:
        raise Ambiguous(f"option `--{found.popitem()[1]}' is not part of a rule")
    return slot


class Ambiguous(ValueError):
    """An abbreviated option that more than one loaded option starts with."""


def _abbreviation(groups: list[Group], name: str) -> tuple[Group, OptSpec] | None:
    """getopt_long's unique-prefix rule: `--dpo` is `--dport` when nothing else loaded starts
    with it (aliases of one option count once)."""
    found: dict[tuple[int, str], tuple[Group, OptSpec]] = {}
    for group in reversed(groups):
        ext = group.extension
        if ext is None:
            continue
        for option, spec in ext.option_table.items():
            if option.startswith(name):
                found.setdefault((id(ext), spec.name), (group, spec))
    if len(found) > 1:
        names = sorted({spec.name for _, spec in found.values()})
        raise Ambiguous(f"option `--{name}' is ambiguous: --{', --'.join(names)}")
    return next(iter(found.values()), None)


def _owner(loaded: list[Group], name: str) -> tuple[Group | None, OptSpec | None]:
    """Who takes --name: the extension getopt finds it in, or the only one with an option it
    abbreviates; failing that, the newest unknown match module, then an unknown target.

    getopt's table has a module's options once, merged in front when the module is first
    loaded: a second `-m mark` is a clone that merges nothing. So `--mark` belongs to the
    newest module *first* loaded that knows it (after `-m mark -m connmark -m mark`, to
    connmark), and goes to that module's newest instance (iptables marks the older ones
    completed), as do_parse's command_default dispatches it."""
    unknown_target: Group | None = None
    firsts: dict[tuple[str, str], Group] = {}
    for group in loaded:
        firsts.setdefault((group.kind, group.name), group)
    for first in reversed(firsts.values()):
        ext = first.extension
        if ext is not None:
            spec = ext.option_table.get(name)
            if spec is not None:
                newest = next(g for g in reversed(loaded)
                              if g.kind == first.kind and g.name == first.name)
                return newest, spec
    if not any(g.extension is None and g.kind == "match" for g in loaded):
        abbreviated = _abbreviation(loaded, name)
        if abbreviated is not None:
            return abbreviated
    for group in reversed(loaded):
        if group.extension is None:
            if group.kind == "match":
                return group, None
            if unknown_target is None and not group.goto:
                unknown_target = group
    return unknown_target, None


def _implicit_group(
    out: RuleArgs, loaded: list[Group], name: str, family: Family, column: int
) -> tuple[Group, OptSpec] | None:
    """`-p tcp --dport 80`: load the protocol's match when it owns the option."""
    if out.protocol is None:
        return None
    proto = out.protocol[0].lower()
    module = IMPLICIT_MATCH.get(proto)
    if module is None:
        return None
    if family is Family.INET6 and module == "icmp":
        return None
    if any(g.name == module for g in out.matches):
        return None
    ext = find_match(module)
    if ext is None:
        return None
    group = Group(module, ext, column, implicit=True)
    spec = ext.option_table.get(name)
    if spec is None:
        found = _abbreviation([group], name)
        if found is None:
            return None
        spec = found[1]
    out.matches.append(group)
    loaded.append(group)
    return group, spec
