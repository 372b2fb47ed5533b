"""u32 match (libxt_u32): tests on 32-bit words read at computed offsets of the packet.

`--u32 "0>>22&0x3C@12>>26&0x3C@8=1,2,5,8"` is parsed into tests the interpreter can run:
each test reads a location (a start offset followed by &, <<, >> and @ steps, as in the
kernel's little machine) and checks that the word lies in one of its value ranges; all tests
must pass. iptables-save prints every number in hex inside double quotes. What a match means
for a packet is worked out in `_b_u32`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions
from ..semantics import CompileContext
from ._cnum import Range, xt_strtoul
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

__all__ = ["U32", "U32Location", "U32Match", "U32Op", "U32Test", "parse_u32"]

MAX_SIZE = 10  # XT_U32_MAXSIZE: tests per match, numbers per location, ranges per test
_SPACE = frozenset(" \t\n\v\f\r")


class U32Op(enum.Enum):
    """A location step: C = C & n, C <<= n, C >>= n, or @ (A += C, then read at n)."""

    AND = "&"
    LEFT_SHIFT = "<<"
    RIGHT_SHIFT = ">>"
    AT = "@"


@dataclass(frozen=True, slots=True)
class U32Location:
    """Read the word at offset `start`, then apply each (operation, number) step."""

    start: int
    steps: tuple[tuple[U32Op, int], ...] = ()


@dataclass(frozen=True, slots=True)
class U32Test:
    """The location's final value must lie in one of `ranges` (inclusive)."""

    location: U32Location
    ranges: tuple[Range, ...]


@dataclass(frozen=True, slots=True)
class U32Match(ExtOptions):
    """Every test passes (the packet is long enough for every read), negated by `invert`."""

    tests: tuple[U32Test, ...]
    invert: bool = False


class _Reader:
    """A cursor over the expression, reporting errors at the character they concern."""

    def __init__(self, text: str, column: int) -> None:
        self.text = text
        self.column = column
        self.pos = 0

    def fail(self, message: str) -> OptionError:
        return OptionError(f"{message} at character {self.pos}", self.column + self.pos)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def number(self) -> int:
        got = xt_strtoul(self.text, 0, 0xFFFFFFFF, whole=False, start=self.pos)
        if got is None:
            raise self.fail("a number 0-0xffffffff expected")
        self.pos = got.end
        return got.value


def parse_u32(text: str, column: int = 0) -> tuple[U32Test, ...]:
    """The tests of a --u32 argument, with libxt_u32's syntax and limits."""
    r = _Reader(text, column)
    tests: list[U32Test] = []
    while True:
        numbers: list[int] = []
        ops: list[U32Op] = []
        r.skip_space()
        while r.peek() != "=":  # the location
            if not r.peek():
                raise r.fail("end of input inside a location")
            if numbers:
                op = next((o for o in U32Op if r.text.startswith(o.value, r.pos)), None)
                if op is None:
                    raise r.fail("an operator (&, <<, >> or @) expected")
                ops.append(op)
                r.pos += len(op.value)
            numbers.append(r.number())
            if len(numbers) > MAX_SIZE:
                raise r.fail(f"more than {MAX_SIZE} numbers in a location")
            r.skip_space()
        if not numbers:
            raise r.fail("location missing before `='")
        r.pos += 1
        ranges: list[Range] = []
        while True:  # the values
            r.skip_space()
            if not r.peek() or r.text.startswith("&&", r.pos):
                break
            if r.peek() == "&":
                r.pos += 1
                raise r.fail("a second `&' expected")
            if ranges:
                if r.peek() != ",":
                    raise r.fail("`,' or `&&' expected")
                r.pos += 1
            lo = r.number()
            r.skip_space()
            hi = lo
            if r.peek() == ":":
                r.pos += 1
                hi = r.number()
            ranges.append((lo, hi))
            if len(ranges) > MAX_SIZE:
                raise r.fail(f"more than {MAX_SIZE} value ranges in a test")
        if not ranges:
            raise r.fail("value missing after `='")
        tests.append(U32Test(U32Location(numbers[0], tuple(zip(ops, numbers[1:], strict=True))),
                             tuple(ranges)))
        if len(tests) > MAX_SIZE:
            raise r.fail(f"more than {MAX_SIZE} tests")
        if not r.peek():
            return tuple(tests)
        r.pos += 2  # "&&"


def _format(test: U32Test) -> str:
    location = f"0x{test.location.start:x}" + "".join(
        f"{op.value}0x{n:x}" for op, n in test.location.steps)
    values = ",".join(f"0x{lo:x}" if lo == hi else f"0x{lo:x}:0x{hi:x}"
                      for lo, hi in test.ranges)
    return f"{location}={values}"


@register
class U32(Extension):
    """Assumption kind `u32`: the tests that read bytes no field holds (payload, the IPv4
    identification, TCP sequence numbers…) pass; and, for a test over fields not all known
    exactly and with no exact expansion, that it passes."""

    names = ("u32",)
    options = (OptSpec("u32", 1, True),)

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> U32Match:
        arg = one_of(args).get("u32")
        if arg is None:
            raise OptionError("--u32 is required")
        return U32Match(parse_u32(arg.value, arg.value_column()), arg.invert)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, U32Match)
        body = "&&".join(_format(test) for test in options.tests)
        return f'{" !" if options.invert else ""} --u32 "{body}"'

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, U32Match)
        # u32_mt_checkentry (Linux 6.x): a shift by 32 or more is refused at load
        for test in options.tests:
            for op, number in test.location.steps:
                if op in (U32Op.LEFT_SHIFT, U32Op.RIGHT_SHIFT) and number >= 32:
                    return f"the kernel refuses the shift `{op.value}{number}' (at most 31)"
        return None

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, U32Match)
        from ._b_u32 import u32_predicate  # it reads this module's types

        texts = [_format(test) for test in options.tests]
        return u32_predicate(options, ctx, texts, '"' + "&&".join(texts) + '"')
