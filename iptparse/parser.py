"""Text to typed nodes: iptables-save, ip6tables-save and iptables-restore input.

The grammar in `grammar/iptables_save.lark` defines the language line by line; this module is
the only one that imports lark. Big dumps (85,000 rules) must load in about a second, so every
line first takes a fast path: regular expressions identical to the grammar's terminals (a test
holds them equal) and a cache of typed match segments, since real dumps repeat the same
`-m tcp --dport 80` thousands of times. Any line the fast path cannot read is handed to Lark,
which either reads it (and the result stands) or reports the error with its position.

Which lines may follow which is checked by a small state machine, as iptables-restore itself
reads line by line: a rule needs an open `*table`, a table needs its COMMIT.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .addresses import AddressError, parse_address
from .argv import Arg, split_args
from .errors import ParseError, ParseErrors, ParseWarning
from .extensions.base import (
    ExtContext,
    OptionError,
    RuleContext,
    find_target,
)
from .fastrule import FastRules
from .nodes import (
    BUILTIN_CHAINS,
    Address,
    Blank,
    Chain,
    Comment,
    Counters,
    Dump,
    ExtOptions,
    Family,
    Interface,
    Match,
    Protocol,
    RawOptions,
    Rule,
    Table,
    Target,
    TopItem,
)
from .protocols import protocol_number
from .rulespec import STANDARD_TARGETS, Group, RuleArgs, RuleSpecError, assign
from .source import Span

__all__ = ["ErrorMode", "grammar_path", "load_grammar", "parse_iptables"]

ErrorMode = Literal["raise", "collect", "skip"]

# The grammar's terminals, as the fast path uses them (tests/test_parser_grammar.py checks
# that each equals the terminal of the same name in the .lark file).
FAST_TERMINALS = {
    "COUNTERS": r"\[\d+:\d+\]",
    "TABLE_NAME": r"[A-Za-z0-9_-]+",
    "CHAIN_NAME": r"[^\s]+",
    "POLICY": r"[A-Za-z]+|-",
}
_TABLE_RE = re.compile(r"\*(" + FAST_TERMINALS["TABLE_NAME"] + r")[ \t\r]*")
_CHAIN_RE = re.compile(
    r":(" + FAST_TERMINALS["CHAIN_NAME"] + r")[ \t]+(" + FAST_TERMINALS["POLICY"] + r")"
    r"(?:[ \t]+\[(\d+):(\d+)\])?[ \t\r]*"
)
_RULE_RE = re.compile(r"(?:\[(\d+):(\d+)\][ \t]+)?(?:-A|--append)[ \t]+")
_COMMAND_RE = re.compile(
    r"(-[INPXFZDRE]|--(?:insert|new-chain|new|policy|delete-chain|flush|zero|delete|replace"
    r"|rename-chain))(?=[ \t\r]|$)"
)

IFNAMSIZ = 16
CHAIN_NAME_MAX = 28  # XT_EXTENSION_MAXNAMELEN - 1


# --- the grammar ---------------------------------------------------------------------------

def grammar_path(name: str) -> Path:
    """Where a grammar file is: inside the installed package, or the checkout's grammar/."""
    packaged = resources.files("iptparse") / "grammar" / name
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "grammar" / name


@functools.cache
def load_grammar(name: str = "iptables_save.lark") -> Any:
    """The Lark LALR parser for a grammar file, built once per process."""
    from lark import Lark

    return Lark(grammar_path(name).read_text(), parser="lalr", propagate_positions=True)


_EXPECTED_WORDS = {
    "TABLE_NAME": "a table name",
    "CHAIN_NAME": "a chain name",
    "POLICY": "a policy (ACCEPT, DROP or -)",
    "COUNTERS": "counters [packets:bytes]",
    "ARG": "an argument",
    "APPEND": "-A",
    "$END": "end of line",
}


def _lark_line(text: str) -> Any:
    """Parse one line with the grammar; return the tree or raise ParseError (column set)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    try:
        return load_grammar().parse(text)
    except UnexpectedToken as exc:
        expected = sorted(_EXPECTED_WORDS.get(e, e.strip('"').lower()) for e in exc.expected)
        at_end = exc.token.type == "$END"
        got = "end of line" if at_end else f"`{exc.token}'"
        column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 0
        raise ParseError(
            f"unexpected {got}, expected {' or '.join(expected[:4])}",
            line=0,
            column=len(text.rstrip()) + 1 if at_end or not column else column,
        ) from None
    except UnexpectedCharacters as exc:
        raise ParseError(
            f"unexpected character `{text[exc.pos_in_stream or 0]}'", line=0, column=exc.column
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark errors
        raise ParseError(str(exc).splitlines()[0], line=0, column=1) from None


# --- building tables -----------------------------------------------------------------------

@dataclass
class _ChainBuilder:
    name: str
    policy: str | None
    counters: Counters | None
    span: Span | None
    leading: tuple[str, ...] = ()
    declared: bool = True
    rules: list[Rule] = field(default_factory=list)

    def build(self) -> Chain:
        counters = self.counters
        if counters is None:
            counters = Counters(0, 0)
        return Chain(
            self.name, self.policy, counters, tuple(self.rules), self.span, self.leading,
            self.declared,
        )


@dataclass
class _TableBuilder:
    name: str
    span: Span
    leading: tuple[str, ...]
    chains: dict[str, _ChainBuilder] = field(default_factory=dict)
    declared_order: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for builtin in BUILTIN_CHAINS[self.name]:
            self.chains[builtin] = _ChainBuilder(builtin, "ACCEPT", None, None, declared=False)

    def build(self, trailing: tuple[str, ...]) -> Table:
        """Chains in iptables-save's order: builtins, then user chains sorted by name.

        When the text declares builtin chains, their order and set are kept as written: old
        kernels had no nat INPUT chain and old iptables-save printed nat's PREROUTING,
        POSTROUTING, OUTPUT in that order. Restore input that declares none gets them all.
        """
        hook_order = BUILTIN_CHAINS[self.name]
        declared = [n for n in self.declared_order if n in hook_order and n in self.chains]
        if declared:
            names = declared + [n for n in hook_order
                                if n not in declared and n in self.chains and self.chains[n].rules]
        else:
            names = [n for n in hook_order if n in self.chains]
        builtins = [self.chains[n].build() for n in names]
        users = sorted(
            (c for c in self.chains.values() if c.policy is None), key=lambda c: c.name.encode()
        )
        return Table(
            self.name,
            (*builtins, *(c.build() for c in users)),
            self.span,
            self.leading,
            trailing,
        )


@dataclass
class _PendingJump:
    """A -j/-g to a name that is neither a verdict nor a known target: a chain, checked at
    COMMIT when every chain of the table is known."""

    chain: str
    target: str
    goto: bool
    line: int
    column: int
    line_text: str


class _Parser:
    def __init__(
        self,
        text: str,
        filename: str,
        family: Family,
        mode: ErrorMode,
        warnings: list[ParseWarning] | None,
        fast: bool = True,
    ) -> None:
        self.text = text
        self.filename = filename
        self.family = family
        self.mode = mode
        self.warnings = warnings
        self.errors: list[ParseError] = []
        self.items: list[TopItem] = []
        self.table: _TableBuilder | None = None
        self.pending_comments: list[str] = []
        self.pending_jumps: list[_PendingJump] = []
        self.ext_context = ExtContext(family)
        self.segment_cache: dict[tuple[Any, ...], ExtOptions] = {}
        self.fast: FastRules | None = FastRules(self) if fast else None
        self.line_no = 0
        self.line_text = ""
        self.trailing = ""  # whitespace after the rule on the current line

    # errors ------------------------------------------------------------------------------

    def fail(self, message: str, column: int = 1, line: int | None = None,
             line_text: str | None = None) -> ParseError:
        return ParseError(
            message,
            line=self.line_no if line is None else line,
            column=max(column, 1),
            line_text=self.line_text if line_text is None else line_text,
            filename=self.filename,
        )

    def report(self, error: ParseError) -> None:
        """Raise, collect or (lenient mode) turn into a warning, as the caller asked."""
        if self.mode == "raise":
            raise error
        if self.mode == "collect":
            self.errors.append(error)
            return
        if self.warnings is not None:
            self.warnings.append(
                ParseWarning(
                    f"skipped: {error.message}",
                    line=error.line,
                    column=error.column,
                    line_text=error.line_text,
                    filename=error.filename,
                )
            )

    # driving -----------------------------------------------------------------------------

    def run(self) -> Dump:
        text = self.text
        final_newline = text.endswith("\n") or not text
        lines = text.split("\n")
        if final_newline and lines:
            lines.pop()
        for number, raw in enumerate(lines, 1):
            self.line_no = number
            line = raw[:-1] if raw.endswith("\r") else raw
            self.line_text = line
            try:
                self.line(line)
            except ParseError as error:
                self.report(error)
        self.line_no = len(lines)
        if self.table is not None:
            missing = self.fail(f"missing COMMIT for table {self.table.name}",
                                len(self.line_text) + 1)
            self.report(missing)
            if self.mode == "skip":
                self.commit(implicit=True)
        for comment in self.pending_comments:
            self.items.append(Comment(comment))
        if self.errors:
            raise ParseErrors(self.errors)
        return Dump(self.family, tuple(self.items), final_newline)

    def line(self, line: str) -> None:
        stripped = line.lstrip(" \t")
        if not stripped.strip():
            if self.table is None:
                self.items.append(Blank(Span(self.line_no), line))
            else:
                self.pending_comments.append("")
            return
        first = stripped[0]
        indent = len(line) - len(stripped)
        if first == "#":
            text = stripped.rstrip("\r")
            if self.table is None:
                self.items.append(Comment(text, Span(self.line_no, indent + 1)))
            else:
                self.pending_comments.append(text)
            return
        if first == "*":
            m = _TABLE_RE.fullmatch(stripped)
            if m is None:
                self.structural(line)
                return
            self.open_table(m.group(1), indent + 1)
            return
        if first == ":":
            m = _CHAIN_RE.fullmatch(stripped)
            if m is None:
                self.structural(line)
                return
            counters = Counters(int(m.group(3)), int(m.group(4))) if m.group(3) else None
            self.declare_chain(m.group(1), m.group(2), counters, indent + 1, indent + 2)
            return
        if stripped.rstrip() == "COMMIT":
            self.commit()
            return
        m = _RULE_RE.match(stripped)
        if m is not None:
            counters = Counters(int(m.group(1)), int(m.group(2))) if m.group(1) else None
            rest = stripped[m.end():]
            body = rest.rstrip(" ")
            self.trailing = rest[len(body):]
            self.rule_line(body, indent + m.end() + 1, counters)
            self.trailing = ""
            return
        c = _COMMAND_RE.match(stripped)
        if c is not None:
            self.command(c.group(1), stripped[c.end():], indent + c.end() + 1)
            return
        self.structural(line)

    def structural(self, line: str) -> None:
        """A line the fast path could not read: let the grammar say what is wrong."""
        try:
            _lark_line(line)
        except ParseError as error:
            if self.table is None and not line.lstrip().startswith(("-", "[", ":", "*")):
                raise self.fail("not an iptables-save line: expected *table, a chain, a rule,"
                                " COMMIT or a # comment", error.column) from None
            raise self.fail(error.message, error.column) from None
        # The grammar read what the fast path did not: the two must agree.
        raise self.fail("line not understood (fast path and grammar disagree)", 1)

    # tables and chains --------------------------------------------------------------------

    def take_leading(self) -> tuple[str, ...]:
        leading = tuple(self.pending_comments)
        self.pending_comments.clear()
        return leading

    def open_table(self, name: str, column: int) -> None:
        if self.table is not None:
            raise self.fail(f"missing COMMIT before *{name} (table {self.table.name} is open)",
                            column)
        if name not in BUILTIN_CHAINS:
            raise self.fail(f"unknown table `{name}' (raw, mangle, nat, filter or security)",
                            column + 1)
        # comments before a table stay top-level items
        for comment in self.take_leading():
            self.items.append(Comment(comment) if comment else Blank())
        self.table = _TableBuilder(name, Span(self.line_no, column), ())

    def need_table(self, what: str, column: int) -> _TableBuilder:
        if self.table is None:
            raise self.fail(f"{what} before the first *table", column)
        return self.table

    def declare_chain(self, name: str, policy: str, counters: Counters | None, column: int,
                      name_column: int) -> None:
        table = self.need_table("chain declaration", column)
        builtin = name in BUILTIN_CHAINS[table.name]
        existing = table.chains.get(name)
        if existing is not None and existing.declared:
            raise self.fail(f"chain {name} declared twice", name_column)
        if builtin:
            if policy not in ("ACCEPT", "DROP"):
                raise self.fail(f"policy of builtin chain {name} must be ACCEPT or DROP, "
                                f"not `{policy}'", name_column + len(name) + 1)
        else:
            self.check_chain_name(name, name_column)
            if policy != "-":
                raise self.fail(f"cannot set policy `{policy}' on user chain {name}",
                                name_column + len(name) + 1)
        table.chains[name] = _ChainBuilder(
            name, policy if builtin else None, counters, Span(self.line_no, column),
            self.take_leading(),
        )
        table.declared_order.append(name)

    def check_chain_name(self, name: str, column: int) -> None:
        if len(name) > CHAIN_NAME_MAX:
            raise self.fail(f"chain name `{name}' too long (must be under "
                            f"{CHAIN_NAME_MAX + 1} chars)", column)
        if name.startswith(("-", "!")) or name in STANDARD_TARGETS:
            raise self.fail(f"invalid chain name `{name}'", column)

    def chain_for(self, name: str, column: int, what: str = "rule") -> _ChainBuilder:
        table = self.need_table(what, column)
        chain = table.chains.get(name)
        if chain is None:
            raise self.fail(f"chain {name} does not exist in table {table.name}", column)
        return chain

    def commit(self, implicit: bool = False) -> None:
        table = self.table
        if table is None:
            raise self.fail("COMMIT without an open *table")
        jumps, self.pending_jumps = self.pending_jumps, []
        for jump in jumps:
            target = table.chains.get(jump.target)
            problem = None
            if target is None:
                problem = f"unknown chain {jump.target} in {'-g' if jump.goto else '-j'}"
            elif target.policy is not None:
                problem = f"cannot jump to builtin chain {jump.target}"
            if problem is not None:
                error = self.fail(problem, jump.column, jump.line, jump.line_text)
                chain = table.chains.get(jump.chain)
                if self.mode != "raise" and chain is not None:
                    # drop the rule so that what remains is a loadable ruleset
                    chain.rules = [r for r in chain.rules if not _same_line(r, jump.line)]
                self.report(error)
        trailing = self.take_leading()
        self.items.append(table.build(trailing))
        self.table = None

    # commands other than -A ---------------------------------------------------------------

    def command(self, command: str, rest: str, column: int) -> None:
        args = self.split(rest, column)
        table = self.need_table(f"{command} command", 1)
        words = [a.value for a in args]
        short = {"--insert": "-I", "--new-chain": "-N", "--new": "-N", "--policy": "-P",
                 "--delete-chain": "-X", "--flush": "-F", "--zero": "-Z", "--delete": "-D",
                 "--replace": "-R", "--rename-chain": "-E"}.get(command, command)

        def need(count: int) -> None:
            if len(args) < count:
                raise self.fail(f"{command} needs {count} argument(s)", column + len(rest))

        if short == "-N":
            need(1)
            name = words[0]
            if name in table.chains:
                raise self.fail(f"chain {name} already exists", args[0].column)
            self.check_chain_name(name, args[0].column)
            table.chains[name] = _ChainBuilder(name, None, None, Span(self.line_no, 1),
                                               self.take_leading())
        elif short == "-P":
            need(2)
            chain = self.chain_for(words[0], args[0].column, "-P")
            if chain.policy is None:
                raise self.fail(f"cannot set policy on user chain {chain.name}", args[0].column)
            if words[1] not in ("ACCEPT", "DROP"):
                raise self.fail(f"bad policy `{words[1]}'", args[1].column)
            chain.policy = words[1]
            chain.declared = True
        elif short in ("-F", "-Z"):
            targets = [self.chain_for(words[0], args[0].column)] if args else list(
                table.chains.values())
            for chain in targets:
                if short == "-F":
                    chain.rules.clear()
                else:
                    chain.counters = Counters(0, 0)
                    chain.rules = [replace(r, counters=Counters(0, 0)) if r.counters else r
                                   for r in chain.rules]
        elif short == "-X":
            if args:
                chain = self.chain_for(words[0], args[0].column)
                if chain.policy is not None:
                    raise self.fail(f"cannot delete builtin chain {chain.name}", args[0].column)
                del table.chains[chain.name]
            else:
                for name in [n for n, c in table.chains.items() if c.policy is None]:
                    del table.chains[name]
        elif short == "-E":
            need(2)
            chain = self.chain_for(words[0], args[0].column)
            if words[1] in table.chains:
                raise self.fail(f"chain {words[1]} already exists", args[1].column)
            self.check_chain_name(words[1], args[1].column)
            del table.chains[chain.name]
            chain.name = words[1]
            chain.rules = [replace(r, chain=words[1]) for r in chain.rules]
            table.chains[words[1]] = chain
        elif short in ("-I", "-D", "-R"):
            need(1)
            chain = self.chain_for(words[0], args[0].column)
            rest_args = args[1:]
            position: int | None = None
            if rest_args and rest_args[0].value.isdigit():
                position = int(rest_args[0].value)
                rest_args = rest_args[1:]
            if short == "-D" and position is not None and not rest_args:
                if not 1 <= position <= len(chain.rules):
                    raise self.fail(f"index of deletion too big: {position}", args[1].column)
                del chain.rules[position - 1]
                return
            if short == "-R" and position is None:
                raise self.fail("-R needs a rule number", column)
            rules = self.build_rules(chain, rest_args, None)
            if short == "-I":
                at = (position or 1) - 1
                if at > len(chain.rules):
                    raise self.fail(f"index of insertion too big: {position}", args[1].column)
                chain.rules[at:at] = rules
            elif short == "-R":
                assert position is not None
                if not 1 <= position <= len(chain.rules) or len(rules) != 1:
                    raise self.fail(f"index of replacement too big: {position}", args[1].column)
                chain.rules[position - 1] = rules[0]
            else:
                for rule in rules:
                    for index, existing in enumerate(chain.rules):
                        if replace(existing, counters=None) == replace(rule, counters=None):
                            del chain.rules[index]
                            break
                    else:
                        raise self.fail("bad rule (does a matching rule exist in that chain?)",
                                        column)

    # rules -------------------------------------------------------------------------------

    def split(self, text: str, column: int) -> list[Arg]:
        return split_args(text, column)

    def rule_line(self, rest: str, column: int, counters: Counters | None) -> None:
        self.need_table("rule", 1)
        if self.fast is not None and self.table is not None and "\t" not in rest:
            chain_builder = self.table.chains.get(rest.partition(" ")[0])
            if chain_builder is not None:
                fast = self.fast.rule(chain_builder, rest, counters)
                if fast is not None:
                    chain_builder.rules.append(fast)
                    return
        args = self.split(rest, column)
        if not args:
            raise self.fail("-A needs a chain name", column)
        chain = self.chain_for(args[0].value, args[0].column)
        rules = self.build_rules(chain, args[1:], counters)
        chain.rules.extend(rules)

    def build_rules(self, chain: _ChainBuilder, args: Sequence[Arg],
                    counters: Counters | None) -> list[Rule]:
        try:
            parts = assign(args, self.family, old_negation=self.mode == "skip")
        except RuleSpecError as exc:
            raise self.fail(exc.message, exc.column) from None
        if parts.legacy_negation and self.warnings is not None:
            self.warnings.append(ParseWarning(
                "old negation style `-x ! VALUE' read as `! -x VALUE'", line=self.line_no,
                column=1, line_text=self.line_text, filename=self.filename))
        span = Span(self.line_no, 1)
        leading = self.take_leading()
        if parts.counters is not None:
            packets, bytes_, col = parts.counters
            if not (packets.isdigit() and bytes_.isdigit()):
                raise self.fail("-c needs two numbers: packets and bytes", col)
            counters = Counters(int(packets), int(bytes_))
        sources = self.addresses(parts.source)
        destinations = self.addresses(parts.destination)
        protocol = self.protocol(parts.protocol)
        in_iface = self.interface(parts.in_interface)
        out_iface = self.interface(parts.out_interface)
        if in_iface is not None and chain.name in ("OUTPUT", "POSTROUTING"):
            raise self.fail(f"can't use -i with {chain.name}", parts.in_interface[2] - 3
                            if parts.in_interface else 1)
        if out_iface is not None and chain.name in ("INPUT", "PREROUTING"):
            raise self.fail(f"can't use -o with {chain.name}", parts.out_interface[2] - 3
                            if parts.out_interface else 1)
        fragment = None
        if parts.fragment is not None:
            if self.family is Family.INET6:
                raise self.fail("-f is not supported by ip6tables (use -m frag)",
                                parts.fragment[1])
            fragment = parts.fragment[0]
        table = self.table
        assert table is not None
        rule_ctx = RuleContext(
            self.family, table.name, chain.name,
            protocol.number if protocol else None, protocol.invert if protocol else False,
        )
        matches = tuple(self.match(group, rule_ctx) for group in parts.matches)
        target = self.target(parts, replace(rule_ctx, matches=matches), table, chain)
        rule_target = None if isinstance(target, _PendingTarget) else target
        rules = []
        for src, src_inv in sources:
            for dst, dst_inv in destinations:
                rules.append(
                    Rule(
                        chain.name, src, src_inv, dst, dst_inv, in_iface, out_iface, protocol,
                        fragment, matches, rule_target, counters, span, leading, self.trailing,
                    )
                )
        if isinstance(target, _PendingTarget):
            # resolved at COMMIT
            self.pending_jumps.append(
                _PendingJump(chain.name, target.name, target.goto, self.line_no,
                             target.column, self.line_text)
            )
            rules = [replace(r, target=Target(target.name, None, target.goto,
                                              Span(self.line_no, target.column)))
                     for r in rules]
        return rules

    def addresses(self, given: tuple[str, bool, int] | None) -> list[tuple[Address | None, bool]]:
        if given is None:
            return [(None, False)]
        text, invert, column = given
        out: list[tuple[Address | None, bool]] = []
        for piece in text.split(","):
            try:
                address = parse_address(piece, self.family)
            except AddressError as exc:
                raise self.fail(str(exc), column) from None
            if address.mask == 0 and not invert:
                out.append((None, False))
            else:
                out.append((address, invert))
            column += len(piece) + 1
        return out

    def protocol(self, given: tuple[str, bool, int] | None) -> Protocol | None:
        if given is None:
            return None
        text, invert, column = given
        number = protocol_number(text)
        if number is None:
            raise self.fail(f"unknown protocol `{text}' specified", column)
        if number == 0:
            if invert:
                raise self.fail("rule would never match protocol (! -p all)", column)
            return None
        # ip6tables-save before 1.8 printed `icmpv6` (libxtables' own name) where 1.8 prints
        # `ipv6-icmp` from /etc/protocols: keep that one spelling so old dumps round-trip
        spelling = "icmpv6" if text.lower() == "icmpv6" else None
        return Protocol(number, invert, spelling)

    def interface(self, given: tuple[str, bool, int] | None) -> Interface | None:
        if given is None:
            return None
        name, invert, column = given
        if len(name) >= IFNAMSIZ:
            raise self.fail(f"interface name `{name}' must be shorter than {IFNAMSIZ} characters",
                            column)
        if name == "+":
            return None  # matches every interface; iptables drops it (even negated)
        return Interface(name, invert)

    def ext_options(self, group: Group, kind: str) -> ExtOptions:
        ext = group.extension
        if ext is None:
            return _raw_options(group)
        key = (kind, group.name, tuple((o.name, o.values, o.invert) for o in group.options))
        cached = self.segment_cache.get(key)
        if cached is not None:
            return cached
        try:
            options = ext.parse(group.options, self.ext_context)
        except OptionError as exc:
            raise self.fail(f"{group.name}: {exc.message}", exc.column or group.column) from None
        self.segment_cache[key] = options
        return options

    def match(self, group: Group, rule_ctx: RuleContext) -> Match:
        options = self.ext_options(group, "m")
        ext = group.extension
        if ext is not None:
            if self.family not in ext.families:
                raise self.fail(f"match `{group.name}' is not available for "
                                f"{self.family.value}", group.column)
            problem = ext.check(options, rule_ctx)
            if problem:
                raise self.fail(f"{group.name}: {problem}", group.column)
        return Match(group.name, options, Span(self.line_no, group.column))

    def target(self, parts: RuleArgs, rule_ctx: RuleContext, table: _TableBuilder,
               chain: _ChainBuilder) -> Target | _PendingTarget | None:
        group = parts.target
        if group is None:
            return None
        name = group.name
        span = Span(self.line_no, group.column)
        if parts.goto:
            if group.options or group.raw:
                raise self.fail(f"-g {name} takes no options", group.column)
            return _PendingTarget(name, True, group.column)
        if name in STANDARD_TARGETS:
            if group.options or group.raw:
                raise self.fail(f"target {name} takes no options", group.column)
            return Target(name, None, False, span)
        if group.extension is not None:
            ext = group.extension
            if self.family not in ext.families:
                raise self.fail(f"target `{name}' is not available for {self.family.value}",
                                group.column)
            if ext.tables is not None and table.name not in ext.tables:
                raise self.fail(f"target {name} is only valid in the "
                                f"{' or '.join(sorted(ext.tables))} table", group.column)
            options = self.ext_options(group, "j")
            problem = ext.check(options, rule_ctx)
            if problem:
                raise self.fail(f"{name}: {problem}", group.column)
            return Target(name, options, False, span)
        if group.raw:
            # an extension target this library does not know, with its options kept verbatim
            return Target(name, _raw_options(group), False, span)
        if find_target(name) is None and name in table.chains:
            target_chain = table.chains[name]
            if target_chain.policy is not None:
                raise self.fail(f"cannot jump to builtin chain {name}", group.column)
            return Target(name, None, False, span)
        if name in _OUT_OF_TREE_TARGETS:
            return Target(name, RawOptions(""), False, span)
        return _PendingTarget(name, False, group.column)


@dataclass(frozen=True)
class _PendingTarget:
    name: str
    goto: bool
    column: int


# Targets from out-of-tree modules (xtables-addons and old kernels) that take no options; a
# dump using them parses although iptparse cannot interpret them.
_OUT_OF_TREE_TARGETS = frozenset({
    "TARPIT", "DELUDE", "CHAOS", "MIRROR", "ULOG", "SAME", "ROUTE", "STEAL", "SYSRQ", "ECHO",
    "LOGMARK", "IPMARK", "DHCPMAC", "ACCOUNT", "RAWDNAT", "RAWSNAT", "PSD", "TEE", "DNETMAP",
})


def _raw_options(group: Group) -> RawOptions:
    return RawOptions(" ".join(a.raw or a.value for a in group.raw),
                      tuple(a.value for a in group.raw))


def _same_line(rule: Rule, line: int) -> bool:
    return rule.span is not None and rule.span.line == line


# --- family detection ----------------------------------------------------------------------

_V6_HINT = re.compile(r"ip6tables|(?:^|\s)(?:-[sd]|--(?:source|destination|src|dst))\s+!?\s*"
                      r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:/\d+)?(?=\s)|-m (?:icmp6|hl|ipv6header|"
                      r"frag|rt|mh|eui64|hbh|dst)\b|-p (?:icmpv6|ipv6-icmp)\b", re.M)


def detect_family(text: str) -> Family:
    """IPv6 when the header says ip6tables-save or the rules use IPv6-only forms."""
    head = text[:4096]
    if "ip6tables-save" in head:
        return Family.INET6
    if "iptables-save" in head:
        return Family.INET
    return Family.INET6 if _V6_HINT.search(text) else Family.INET


# --- the public entry point ----------------------------------------------------------------

def parse_iptables(
    text: str,
    *,
    filename: str = "<input>",
    family: Family | None = None,
    errors: ErrorMode = "raise",
    warnings: list[ParseWarning] | None = None,
    fast: bool = True,
) -> Dump:
    """Parse iptables-save, ip6tables-save or iptables-restore text into a Dump.

    `errors="raise"` raises the first ParseError; `"collect"` reads the whole text and raises
    ParseErrors with every problem; `"skip"` is the lenient mode for messy real files: bad lines
    are left out and each is appended to `warnings` as a ParseWarning. `fast=False` reads every
    rule with the general getopt-like parser (the fast path must give the same result).
    """
    if family is None:
        family = detect_family(text)
    return _Parser(text, filename, family, errors, warnings, fast).run()


def parse_rule_args(
    text: str, family: Family = Family.INET, table: str = "filter", chain: str = "INPUT"
) -> Rule:
    """One rule's arguments (what follows `-A CHAIN`), for tests and the REPL."""
    chains = "".join(f":{c} ACCEPT [0:0]\n" for c in BUILTIN_CHAINS[table])
    extra = "" if chain in BUILTIN_CHAINS[table] else f":{chain} - [0:0]\n"
    dump = parse_iptables(f"*{table}\n{chains}{extra}-A {chain} {text}\nCOMMIT\n", family=family)
    found = dump.tables[0].chain(chain)
    assert found is not None and found.rules
    return found.rules[0]


def iter_rule_lines(dump: Dump) -> Iterable[tuple[Table, Chain, Rule]]:
    for table in dump.tables:
        for chain in table.chains:
            for rule in chain.rules:
                yield table, chain, rule

