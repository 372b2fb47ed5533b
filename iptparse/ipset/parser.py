"""Text to typed nodes: `ipset save` output, `ipset restore` input and `ipset list` output.

The grammar in `grammar/ipset.lark` defines the lines; this module reads them. A save/restore
text is replayed command by command as `ipset restore` would (create, add, del, flush, rename,
swap, destroy; `-N`/`-A` and every abbreviation ipset accepts), into a model of the kernel's
storage (iptparse.ipset.index), so whatever `ipset restore` refuses is refused here with its
message: duplicates, full hashes, entries out of a bitmap's range, options the set was not
created with. A list text is read block by block (Name, Type, Revision, Header, Size in memory,
References, Number of entries, Members).

Country-block dumps have hundreds of thousands of `add NAME a.b.c.d/n` lines, so those take a
fast path: regular expressions built from the grammar's DOTTED and PREFIX terminals (a test
keeps them equal) find a run of them, which is converted and stored in one batch, in C as far
as possible; members are kept as numbers and become `Member` objects on first use. Any line
the fast path does not take goes through the general path, and a line the general path cannot
read is handed to Lark for the position of the error.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from ..errors import ParseError, ParseErrors, ParseWarning
from ..parser import grammar_path
from ..pasted import terminal_noise
from .builder import FAST_TERMINALS, MASKS, PREFIXES, SetBuilder, fast_patterns, ipv4_values
from .elements import MAX_SETNAME, ElementError, parse_header, parse_member
from .index import MembershipIndex, StoreError
from .listing import FIELD, ListReader
from .nodes import IpsetDump, Member, SetPart
from .settypes import lookup_type
from .testcmd import test_entry
from .values import Word, split_words

__all__ = ["FAST_TERMINALS", "ErrorMode", "load_ipset_grammar", "parse_ipset"]

ErrorMode = Literal["raise", "collect", "skip"]

_COMMANDS = ("create", "add", "del", "test", "destroy", "list", "save", "restore", "flush",
             "rename", "swap", "help", "version")
_SHORT = {"n": "create", "-N": "create", "a": "add", "-A": "add", "d": "del", "-D": "del",
          "t": "test", "-T": "test", "x": "destroy", "-X": "destroy", "l": "list",
          "-L": "list", "s": "save", "-S": "save", "r": "restore", "-R": "restore",
          "f": "flush", "-F": "flush", "e": "rename", "-E": "rename", "w": "swap",
          "-W": "swap", "h": "help", "-H": "help", "v": "version", "-V": "version",
          "quit": "quit"}
_OPTIONS = {"-!": "exist", "-exist": "exist", "--exist": "exist", "-q": "quiet",
            "-quiet": "quiet", "-r": "resolve", "-resolve": "resolve", "-s": "sorted",
            "-sorted": "sorted", "-n": "name", "-name": "name", "-t": "terse",
            "-terse": "terse"}
_second = operator.itemgetter(1)


class _Consequence(Exception):
    """A line that fails only because of an error already reported (its set was refused)."""


@functools.cache
def load_ipset_grammar() -> Any:
    """The Lark parser of grammar/ipset.lark, built once (only errors and tests need it)."""
    from lark import Lark

    return Lark(grammar_path("ipset.lark").read_text(), parser="lalr",
                start=["start", "member", "fast_add", "fast_member", "elem_ip", "elem_net",
                       "elem_port", "elem_bport", "elem_mac", "elem_mark", "elem_iface",
                       "elem_set"])


def command_name(word: str) -> str | None:
    """The command a word selects, by ipset's rules: any prefix of a long name selects the
    first command of its list that begins so (`d` is del, `des` destroy); two leading dashes
    are ignored; n, x, e, w and -N, -A, ... are the short and old names."""
    if word in _SHORT:
        return _SHORT[word]
    text = word[2:] if word.startswith("--") and len(word) > 2 else word
    if not text or text.startswith("-"):
        return None
    for name in _COMMANDS:
        if name.startswith(text):
            return name
    return None


class _Parser:
    def __init__(self, text: str, filename: str, mode: ErrorMode,
                 warnings: list[ParseWarning] | None) -> None:
        self.text = text
        self.filename = filename
        self.mode = mode
        self.warnings = warnings
        self.errors: list[ParseError] = []
        self.slots: list[SetBuilder | None] = []  # the kernel's set array, holes reused
        self.sets: dict[str, SetBuilder] = {}
        self.line_no = 0
        self.line_text = ""
        self.style = "save"
        self.failed: set[str] = set()  # sets whose create line was refused

    # errors ------------------------------------------------------------------------------

    def fail(self, message: str, column: int = 1) -> ParseError:
        return ParseError(message, line=self.line_no, column=max(column, 1),
                          line_text=self.line_text, filename=self.filename)

    def report(self, error: ParseError) -> None:
        if self.mode == "raise":
            raise error
        if self.mode == "collect":
            self.errors.append(error)
        elif self.warnings is not None:
            self.warnings.append(ParseWarning(
                f"skipped: {error.message}", line=error.line, column=error.column,
                line_text=error.line_text, filename=error.filename))

    def consequence(self, message: str) -> None:
        """A line left out because of an error reported before: a warning in lenient mode,
        nothing more in the others (the first error says it all)."""
        if self.mode == "skip":
            self.report(self.fail(message, 1))

    def warn(self, message: str, column: int = 1) -> None:
        if self.warnings is not None:
            self.warnings.append(ParseWarning(message, line=self.line_no, column=column,
                                              line_text=self.line_text,
                                              filename=self.filename))

    # driving -----------------------------------------------------------------------------

    def run(self) -> IpsetDump:
        for line in self.text.split("\n", 200):
            stripped = line.strip()
            if stripped and not stripped.startswith("#") and terminal_noise(stripped) is None:
                if stripped.startswith("Name:") and FIELD.fullmatch(stripped):
                    self.style = "list"
                break
        if self.style == "list":
            self.run_list()
            sets = [b for b in self.slots if b is not None]
        else:
            self.run_save()
            present = [b for b in self.slots if b is not None]
            # the kernel dumps list:set sets after all others
            sets = [b for b in present if b.settype.name != "list:set"] + \
                   [b for b in present if b.settype.name == "list:set"]
        if self.errors:
            raise ParseErrors(self.errors)
        return IpsetDump(tuple(b.build() for b in sets), self.style)

    # --- save / restore ------------------------------------------------------------------

    def run_save(self) -> None:
        text = self.text
        size = len(text)
        pos = number = 0
        sets = self.sets
        while pos < size:
            if text.startswith("add ", pos):
                space = text.find(" ", pos + 4)
                builder = sets.get(text[pos + 4:space]) if space > 0 else None
                if builder is not None and builder.fast:
                    run, each = fast_patterns(True, builder.settype.name == "hash:net")
                    m = run.match(text, pos)
                    if m is not None:
                        chunk = m.group()
                        self.fast_run(builder, number + 1, chunk, each)
                        number += chunk.count("\n")
                        pos = m.end()
                        continue
            end = text.find("\n", pos)
            if end < 0:
                end = size
            number += 1
            self.take_line(number, text[pos:end])
            pos = end + 1
            self.save_line_reported(self.line_text)

    def save_line_reported(self, line: str) -> None:
        try:
            self.save_line(line)
        except ParseError as error:
            words = list(split_words(line))
            if len(words) > 1 and command_name(words[0]) == "create":
                self.failed.add(str(words[1]))
            self.report(error)
        except _Consequence as exc:
            self.consequence(str(exc))

    def take_line(self, number: int, line: str) -> None:
        self.line_no = number
        self.line_text = line[:-1] if line.endswith("\r") else line

    def fast_run(self, builder: SetBuilder, first: int, chunk: str, each: re.Pattern[str]
                 ) -> None:
        """Store a run of fast-path lines in one go. From the first line ipset would refuse
        or read differently (a /0, a null address, a duplicate, a full hash, a malformed
        address) on, the lines take the general path, which says what is wrong."""
        found = each.findall(chunk)
        count = chunk.count("\n")
        good = len(found) if len(found) == count else 0
        values = ipv4_values(found[:good])
        good = len(values)
        cidrs = [PREFIXES.get(c, 99) for c in map(_second, found[:good])]
        if cidrs and max(cidrs) > 32:  # not a prefix as ipset reads it: the general path says
            good = next(i for i, c in enumerate(cidrs) if c > 32)
        if builder.settype.name == "hash:ip":
            if 0 in values[:good]:
                good = values.index(0)
        else:  # hash:net stores the network, as ipset reads it
            if 0 in cidrs[:good]:
                good = cidrs.index(0)
            if cidrs and min(cidrs) < 32:
                masks = MASKS
                values[:good] = [v & masks[c] for v, c in zip(values[:good], cidrs,
                                                              strict=False)]
        start = len(builder.items)
        refused = builder.index.add_nets(start, values[:good], cidrs[:good])
        if refused >= 0:
            good = refused
        builder.items.extend(zip(range(first, first + good), values[:good], cidrs[:good],
                                 strict=True))
        if good == count:
            return
        lines = chunk.split("\n")
        for offset in range(good, count):
            self.take_line(first + offset, lines[offset])
            if self.style == "save":
                self.save_line_reported(self.line_text)
                continue
            try:
                ListReader(self).list_member(builder, self.line_text)
            except ParseError as error:
                self.report(error)

    def structural(self, line: str) -> ParseError:
        """A line that is no command: let the grammar say where it goes wrong."""
        from lark.exceptions import UnexpectedInput

        if (noise := terminal_noise(line.lstrip())) is not None:
            return self.fail(f"{noise}, pasted with the sets, not a line of them (--lenient "
                             "skips it)", 1)
        try:
            load_ipset_grammar().parse(line, start="start")
        except UnexpectedInput as exc:
            column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
            word = line[column - 1:].split(None, 1)[0] if line[column - 1:].strip() else ""
            return self.fail(f"unknown command `{word}' (expected create, add, del, flush, "
                             "rename, swap, destroy or a # comment)", column)
        return self.fail("line not understood", 1)

    def save_line(self, line: str) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        words = list(split_words(line))
        options: set[str] = set()
        rest: list[Word] = []
        command: str | None = None
        command_word: Word | None = None
        for word in words:
            if word in _OPTIONS:
                options.add(_OPTIONS[word])
            elif command is None:
                command = command_name(word)
                command_word = word
                if command is None:
                    raise self.structural(line)
            else:
                rest.append(word)
        if command is None or command_word is None:
            raise self.fail("missing command", len(line) + 1)
        exist = "exist" in options
        handler = getattr(self, f"cmd_{command}", None)
        if handler is None:
            raise self.fail(f"Command `{command}' is invalid in restore mode.",
                            command_word.column)
        handler(command_word, rest, exist)

    def need(self, command: Word, args: Sequence[Word], count: int) -> None:
        if len(args) < count:
            nth = "second " if len(args) == 1 and count > 1 else ""
            raise self.fail(f"Missing {nth}mandatory argument to command "
                            f"{command_name(command)}",
                            (args[-1].column + len(args[-1])) if args else
                            command.column + len(command))

    def existing(self, word: Word) -> SetBuilder:
        builder = self.sets.get(word)
        if builder is None:
            if word in self.failed:
                raise _Consequence(f"set {word} was not created")
            raise self.fail(f"The set with the given name does not exist: {word}", word.column)
        return builder

    def cmd_create(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        name, type_word = args[0], args[1]
        if len(name) > MAX_SETNAME:
            raise self.fail(f"setname '{name}' is longer than {MAX_SETNAME} characters",
                            name.column)
        settype = lookup_type(type_word)
        if settype is None:
            raise self.fail(f"typename '{type_word}' is unknown", type_word.column)
        notes: list[tuple[str, int]] = []
        try:
            header = parse_header(settype, args[2:], notes)
        except ElementError as exc:
            raise self.fail(exc.message, exc.column) from None
        for message, column in notes:
            self.warn(message, column)
        old = self.sets.get(name)
        if old is not None:
            if exist and old.settype == settype and old.header == header:
                return
            raise self.fail("Set cannot be created: set with the same name already exists",
                            name.column)
        builder = SetBuilder(str(name), settype, header, self.line_no)
        self.sets[builder.name] = builder
        for i, held in enumerate(self.slots):
            if held is None:
                self.slots[i] = builder
                break
        else:
            self.slots.append(builder)

    def member(self, builder: SetBuilder, words: Sequence[Word]) -> tuple[Member, Any]:
        try:
            return parse_member(builder.settype, builder.header, words, self.line_no)
        except ElementError as exc:
            raise self.fail(exc.message, exc.column) from None

    def cmd_add(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        builder = self.existing(args[0])
        member, position = self.member(builder, args[1:])
        if builder.settype.name == "list:set":
            self.add_to_list(builder, member, position, args[1])
            return
        slot = len(builder.items)
        index = builder.index
        try:
            # keys() refuses an element out of a bitmap's range too: inside the try
            before = index.slots.get(index.keys(member)[0]) \
                if builder.settype.name == "bitmap:ip,mac" else None
            index.add(member, slot)
        except StoreError as exc:
            raise self.fail(str(exc), args[1].column) from None
        if isinstance(before, int):  # the MAC of an entry added without one, filled in
            builder.items[before] = None
            builder.deleted = True
        builder.items.append(member)

    def add_to_list(self, builder: SetBuilder, member: Member, position: Any,
                    word: Word) -> None:
        part = member.parts[0]
        assert isinstance(part, SetPart)
        target = self.sets.get(part.name)
        if target is None:
            raise self.fail("Set to be added/deleted/tested as element does not exist.",
                            word.column)
        if target.settype.name == "list:set":
            raise self.fail("Sets with list:set type cannot be added to the set.", word.column)
        index = builder.index
        if (part.name,) in index.slots:
            raise self.fail("Element cannot be added to the set: it's already added",
                            word.column)
        at = len(index.order)
        if position is not None:
            where, ref = position
            if ref not in self.sets:
                raise self.fail("The set to which you referred with 'before' or 'after' does "
                                "not exist.", word.column)
            if ref not in index.order:
                raise self.fail("The set to which you referred with 'before' or 'after' is "
                                "not added to the set.", word.column)
            at = index.order.index(ref) + (0 if where == "before" else 1)
        index.slots[(part.name,)] = len(builder.items)
        index.order.insert(at, part.name)
        index.count += 1
        builder.items.append(member)

    def cmd_del(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        builder = self.existing(args[0])
        member, position = self.member(builder, args[1:])
        if builder.settype.name == "list:set" and position is not None:
            part = member.parts[0]
            assert isinstance(part, SetPart)
            probe = " ".join((part.name, *position))
            if not test_entry(builder.build(False), probe):
                if exist:
                    return
                raise self.fail("Element cannot be deleted from the set: it's not added",
                                args[1].column)
        index = builder.index
        try:
            slots = index.remove(member, exist=exist)
        except StoreError as exc:
            raise self.fail(str(exc), args[1].column) from None
        for slot in dict.fromkeys(slots):
            # an entry added as a range keeps the parts not deleted, one entry each
            for key, single in index.entries(builder.member_at(slot)):
                if index.holds(key, slot):
                    index.repoint(key, slot, len(builder.items))
                    builder.items.append(single)
            builder.items[slot] = None
            builder.deleted = True

    def cmd_test(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        builder = self.existing(args[0])
        entry = self.line_text[args[1].column - 1:]
        try:
            found = test_entry(builder.build(False), entry)
        except ValueError as exc:
            raise self.fail(str(exc), args[1].column) from None
        if not found:
            raise self.fail(f"{args[1]} is NOT in set {builder.name}.", args[1].column)

    def cmd_flush(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        targets = [self.existing(args[0])] if args else list(self.sets.values())
        for builder in targets:
            builder.items = []
            builder.deleted = False
            builder.index = MembershipIndex(builder.settype, builder.header, builder.member_at)

    def referenced(self, name: str) -> bool:
        return any(b.settype.name == "list:set" and name in b.index.order
                   for b in self.sets.values())

    def cmd_destroy(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        names = [str(self.existing(args[0]).name)] if args else list(self.sets)
        for name in names:
            if self.referenced(name) and (args or not all(
                    b.settype.name == "list:set" or not self.referenced(b.name)
                    for b in self.sets.values())):
                raise self.fail("Set cannot be destroyed: it is in use by a kernel component",
                                args[0].column if args else 1)
        for name in names:
            builder = self.sets.pop(name)
            self.slots[self.slots.index(builder)] = None

    def cmd_rename(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        builder = self.existing(args[0])
        if args[1] in self.sets:
            raise self.fail("Set cannot be renamed: a set with the new name already exists",
                            args[1].column)
        del self.sets[builder.name]
        old = builder.name
        builder.name = str(args[1])
        self.sets[builder.name] = builder
        for other in self.sets.values():  # list:set members refer to the set, not the name
            if other.settype.name == "list:set" and old in other.index.order:
                index = other.index
                index.order[index.order.index(old)] = builder.name
                slot = index.slots.pop((old,))
                index.slots[(builder.name,)] = slot
                assert isinstance(slot, int)
                item = other.items[slot]
                assert isinstance(item, Member)
                other.items[slot] = replace(item, parts=(SetPart(builder.name),))

    def cmd_swap(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        self.need(command, args, 2)
        first = self.existing(args[0])
        if args[1] not in self.sets:
            raise self.fail("Sets cannot be swapped: the second set does not exist",
                            args[1].column)
        second = self.sets[args[1]]
        if first.settype != second.settype or first.header.family != second.header.family:
            raise self.fail("The sets cannot be swapped: their type does not match",
                            args[1].column)
        i, j = self.slots.index(first), self.slots.index(second)
        first.name, second.name = second.name, first.name
        self.slots[i], self.slots[j] = second, first
        self.sets[first.name], self.sets[second.name] = first, second

    def cmd_list(self, command: Word, args: Sequence[Word], exist: bool) -> None:
        """Accepted by ipset restore (it prints); changes nothing."""
        if args:
            self.existing(args[0])

    cmd_save = cmd_list

    # --- list ----------------------------------------------------------------------------

    def run_list(self) -> None:
        ListReader(self).run()

def parse_ipset(
    text: str,
    *,
    filename: str = "<input>",
    errors: ErrorMode = "raise",
    warnings: list[ParseWarning] | None = None,
) -> IpsetDump:
    """Parse `ipset save` / `ipset restore` or `ipset list` text into an IpsetDump.

    The style is told by the first meaningful line (`Name:` starts a listing). `errors="raise"`
    raises the first ParseError; `"collect"` reads everything and raises ParseErrors with every
    problem; `"skip"` leaves bad lines out (a whole set block when its header is bad) and
    appends a ParseWarning for each to `warnings`.
    """
    return _Parser(text, filename, errors, warnings).run()
