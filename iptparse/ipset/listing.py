"""Reading `ipset list` output: one block per set (Name, Type, Revision, Header, Size in
memory, References, Number of entries, Members, then member lines), a blank line between.

Fields may come in any order before Header: (which needs Type:), each at most once; member
lines are entries as in save text. A block whose Name, Type or Header cannot be read is
skipped as a whole; in lenient mode each of its lines gets a warning.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import ParseError
from ..pasted import terminal_noise
from .builder import SetBuilder, fast_patterns
from .elements import ElementError, parse_header
from .index import StoreError
from .nodes import SetPart
from .settypes import SET_TYPES
from .values import c_number, split_words

if TYPE_CHECKING:
    from .parser import _Parser

__all__ = ["FIELD", "ListReader"]

FIELD = re.compile(r"(Name|Type|Revision|Header|Size in memory|References|"
                   r"Number of entries):(?:[ \t]+(.*?))?[ \t]*")


class ListReader:
    """The list-style half of the parser; errors go through the parser's `report`."""

    def __init__(self, parser: _Parser) -> None:
        self.p = parser

    def run(self) -> None:
        text = self.p.text
        size = len(text)
        pos = number = 0
        builder: SetBuilder | None = None
        pending: dict[str, tuple[str, int, int]] = {}  # fields seen before Header:
        in_members = False
        broken: str | None = None  # name of a set whose block is being skipped
        while pos < size:
            if in_members and builder is not None and builder.fast:
                run, each = fast_patterns(False, builder.settype.name == "hash:net")
                m = run.match(text, pos)
                if m is not None:
                    chunk = m.group()
                    self.p.fast_run(builder, number + 1, chunk, each)
                    number += chunk.count("\n")
                    pos = m.end()
                    continue
            end = text.find("\n", pos)
            if end < 0:
                end = size
            number += 1
            self.p.take_line(number, text[pos:end])
            pos = end + 1
            line = self.p.line_text
            stripped = line.strip()
            if not stripped:
                if builder is not None and not in_members:
                    self.p.report(self.p.fail(_no_members(builder.name)))
                builder, in_members, broken, pending = None, False, None, {}
                continue
            if broken is not None and not stripped.startswith("Name: "):
                self.p.consequence(f"in set {broken}, which is skipped")
                continue
            try:
                if in_members and not stripped.startswith("Name: "):
                    assert builder is not None
                    self.list_member(builder, line)
                    continue
                if stripped == "Members:":
                    if builder is None:
                        raise self.p.fail("Members: before the set's Name:, Type: and Header:")
                    in_members = True
                    continue
                m = FIELD.fullmatch(stripped)
                if m is None:
                    if stripped.startswith("#") and builder is None and not pending:
                        continue
                    if (noise := terminal_noise(stripped)) is not None:
                        raise self.p.fail(f"{noise}, pasted with the sets, not a line of them "
                                          "(--lenient skips it)", 1)
                    raise self.p.fail("not an ipset list line: expected Name:, Type:, "
                                    "Revision:, Header:, Size in memory:, References:, "
                                    "Number of entries: or Members:", 1)
                key, value = m.group(1), m.group(2) or ""
                column = line.index(value) + 1 if value else len(line) + 1
                if key == "Name":
                    if builder is not None and not in_members:
                        self.p.report(self.p.fail(_no_members(builder.name)))
                    builder, in_members, broken = None, False, None
                    pending = {"Name": (value, number, column)}
                    if not value:
                        raise self.p.fail("Name: without a set name", column)
                    if value in self.p.sets:
                        raise self.p.fail(f"set {value} listed twice", column)
                    continue
                if not pending:
                    raise self.p.fail(f"{key}: before the set's Name:", 1)
                builder = self.list_field(builder, pending, key, value, column, number)
            except ParseError as error:
                if builder is None and pending and broken is None:
                    broken = pending["Name"][0]
                self.p.report(error)
        if builder is not None and not in_members:
            self.p.report(self.p.fail(_no_members(builder.name),
                                  len(self.p.line_text) + 1))

    def list_field(self, builder: SetBuilder | None, pending: dict[str, tuple[str, int, int]],
                   key: str, value: str, column: int, number: int) -> SetBuilder | None:
        if key in pending or (builder is not None and key in builder.seen_fields):
            raise self.p.fail(f"{key}: given twice for one set", 1)
        if key == "Type":
            settype = SET_TYPES.get(value)
            if settype is None:
                raise self.p.fail(f"typename '{value}' is unknown", column)
            pending[key] = (value, number, column)
            return None
        if key == "Header":
            if "Type" not in pending:
                raise self.p.fail("Header: before Type:", 1)
            settype = SET_TYPES[pending["Type"][0]]
            words = list(split_words(value, column))
            try:
                header = parse_header(settype, words)
            except ElementError as exc:
                raise self.p.fail(exc.message, exc.column) from None
            name = pending["Name"][0]
            builder = SetBuilder(name, settype, header, pending["Name"][1])
            builder.seen_fields.update(pending)
            builder.seen_fields.add("Header")
            for other, (text, _line, col) in pending.items():
                if other in ("Revision", "Size in memory", "References", "Number of entries"):
                    self.number_field(builder, other, text, col)
            self.p.sets[name] = builder
            self.p.slots.append(builder)
            pending.clear()
            pending["Name"] = (name, builder.line, 1)
            return builder
        if builder is None:
            pending[key] = (value, number, column)
            return None
        builder.seen_fields.add(key)
        self.number_field(builder, key, value, column)
        return builder

    def number_field(self, builder: SetBuilder, key: str, value: str, column: int) -> None:
        try:
            number = c_number(value, 0, 0xFFFFFFFFFFFFFFFF)
        except ValueError as exc:
            raise self.p.fail(f"{key}: {exc}", column) from None
        attribute = {"Revision": "revision", "Size in memory": "size_in_memory",
                     "References": "references", "Number of entries": "entries"}[key]
        setattr(builder, attribute, number)

    def list_member(self, builder: SetBuilder, line: str) -> None:
        words = list(split_words(line))
        if not words:
            return
        member, position = self.p.member(builder, words)
        if position is not None:
            raise self.p.fail(f"{position[0]} is not printed by ipset list", words[1].column)
        slot = len(builder.items)
        if builder.settype.name == "list:set":
            part = member.parts[0]
            assert isinstance(part, SetPart)
            if (part.name,) in builder.index.slots:
                raise self.p.fail("Element cannot be added to the set: it's already added",
                                words[0].column)
            builder.index.slots[(part.name,)] = slot
            builder.index.order.append(part.name)
            builder.index.count += 1
        else:
            try:
                builder.index.add(member, slot)
            except StoreError as exc:
                raise self.p.fail(str(exc), words[0].column) from None
        builder.items.append(member)


def _no_members(name: str) -> str:
    """A set listed without its members: most often `ipset list -t`, which prints the
    headers only and so cannot say what any packet finds."""
    return (f"set {name}: Members: line missing (`ipset list -t' prints headers only: "
            "capture `ipset list' or `ipset save')")
