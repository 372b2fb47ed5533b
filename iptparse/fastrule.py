"""The fast path for rule lines in iptables-save's own layout.

iptables-save prints every rule the same way: `-A CHAIN`, the IP options, then `-m NAME
options` per match and `-j TARGET options`. Real dumps repeat the same segments thousands of
times (`-m tcp --dport 80`, `-j KUBE-MARK-MASQ`), so a line is cut at ` -m ` and ` -j `/` -g ` with
string operations, and each segment is looked up in a cache of typed nodes shared between rules.

Any line that does not fit this layout exactly — quotes that straddle a cut, options a
segment's own extension does not know (implicit `-p tcp --dport`), options after the target,
multiple addresses, an unknown jump target — returns None and goes through the general parser,
which reproduces iptables' getopt loop. A test holds both paths equal on every corpus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .argv import split_args
from .errors import ParseError
from .extensions.base import Extension, OptArg, OptionError, RuleContext, find_match, find_target
from .nodes import Counters, ExtOptions, Match, RawOptions, Rule, Target
from .rulespec import STANDARD_TARGETS
from .source import Span

if TYPE_CHECKING:
    from .parser import _ChainBuilder, _Parser

__all__ = ["FastRules"]

_BASIC = {"-s": "s", "-d": "d", "-i": "i", "-o": "o", "-p": "p", "-f": "f"}


class _Fallback(Exception):
    """This line is not in save layout: let the general parser read it."""


def _balanced(text: str) -> bool:
    """An even number of unescaped double quotes (no cut fell inside a quoted string)."""
    return (text.count('"') - text.count('\\"')) % 2 == 0


class FastRules:
    def __init__(self, parser: _Parser) -> None:
        self.parser = parser
        self.heads: dict[str, tuple[object, ...]] = {}
        self.matches: dict[str, tuple[Match, Extension | None, frozenset[str]]] = {}
        self.targets: dict[str, tuple[Target, Extension | None]] = {}
        self.checks: dict[tuple[object, ...], str | None] = {}

    def rule(self, chain: _ChainBuilder, rest: str, counters: Counters | None) -> Rule | None:
        """The rule for the text after `-A CHAIN `, or None to use the general parser."""
        try:
            return self._rule(chain, rest, counters)
        except (_Fallback, OptionError, ParseError):
            return None  # the general parser reads it, or reports the error with its column

    def _rule(self, chain: _ChainBuilder, rest: str, counters: Counters | None) -> Rule:
        quoted = '"' in rest
        body, sep, tail = rest.partition(" -j ")
        goto = False
        if not sep:
            body, sep, tail = rest.partition(" -g ")
            goto = bool(sep)
        if sep and (" -m " in tail or " -j " in tail or " -g " in tail):
            raise _Fallback
        segments = body.split(" -m ")
        head = segments[0]
        if quoted and (not all(_balanced(s) for s in segments) or not _balanced(tail)):
            raise _Fallback
        parts = self.heads.get(head)
        if parts is None:
            parts = self._head(head)
            self.heads[head] = parts
        src, src_inv, dst, dst_inv, iif, oif, proto, frag = parts
        table = self.parser.table
        assert table is not None
        matches: list[Match] = []
        known_options: set[str] = set()
        proto_number = proto.number if proto is not None else None  # type: ignore[attr-defined]
        proto_invert = proto.invert if proto is not None else False  # type: ignore[attr-defined]
        for segment in segments[1:]:
            entry = self.matches.get(segment)
            if entry is None:
                entry = self._match(segment)
                self.matches[segment] = entry
            match, ext, names = entry
            if ext is None:
                if names & known_options:
                    raise _Fallback  # an earlier module owns one of these options
            else:
                known_options.update(ext.option_table)
                self._check(segment, ext, match.options, chain.name, proto_number,
                            proto_invert, ())
            matches.append(match)
        target = None
        if sep:
            target = self._target(tail, goto, chain.name, proto_number, proto_invert,
                                  tuple(matches), known_options)
        return Rule(chain.name, src, src_inv, dst, dst_inv, iif, oif, proto,  # type: ignore[arg-type]
                    frag, tuple(matches), target, counters,  # type: ignore[arg-type]
                    Span(self.parser.line_no, 1), self.parser.take_leading(),
                    self.parser.trailing)

    def _head(self, head: str) -> tuple[object, ...]:
        """`CHAIN [! ] -s A [! ] -d A … -p P [! ] -f` → the IP part of the rule."""
        if '"' in head:
            raise _Fallback
        words = head.split()
        chain = words[0]
        values: dict[str, tuple[str, bool, int]] = {}
        frag = None
        invert = False
        i = 1
        while i < len(words):
            word = words[i]
            if word == "!":
                if invert:
                    raise _Fallback
                invert = True
                i += 1
                continue
            key = _BASIC.get(word)
            if key is None or key in values:
                raise _Fallback
            if key == "f":
                if frag is not None:
                    raise _Fallback
                frag = not invert
                values["f"] = ("", invert, 0)
                i += 1
            else:
                if i + 1 >= len(words) or words[i + 1] == "!":
                    raise _Fallback
                values[key] = (words[i + 1], invert, 0)
                i += 2
            invert = False
        if invert:
            raise _Fallback
        p = self.parser
        if ("i" in values and chain in ("OUTPUT", "POSTROUTING")) or (
                "o" in values and chain in ("INPUT", "PREROUTING")):
            raise _Fallback  # the general parser reports it
        src = p.addresses(values.get("s"))
        dst = p.addresses(values.get("d"))
        if len(src) != 1 or len(dst) != 1:
            raise _Fallback
        if frag is not None and p.family.bits == 128:
            raise _Fallback
        return (src[0][0], src[0][1], dst[0][0], dst[0][1], p.interface(values.get("i")),
                p.interface(values.get("o")), p.protocol(values.get("p")), frag)

    def _options(self, ext: Extension, text: str) -> list[OptArg]:
        args = split_args(text) if '"' in text else None
        words = [a.value for a in args] if args is not None else text.split()
        out: list[OptArg] = []
        invert = False
        i = 0
        while i < len(words):
            word = words[i]
            if word == "!" and (args is None or not args[i].quoted):
                if invert:
                    raise _Fallback
                invert = True
                i += 1
                continue
            if not word.startswith("--") or (args is not None and args[i].quoted):
                raise _Fallback
            spec = ext.option_table.get(word[2:])
            if spec is None or spec.nargs < 0 or (invert and not spec.invert):
                raise _Fallback
            values = tuple(words[i + 1: i + 1 + spec.nargs])
            if len(values) != spec.nargs or (values and values[0] == "!"
                                              and (args is None or not args[i + 1].quoted)):
                raise _Fallback
            out.append(OptArg(spec.name, values, invert))
            invert = False
            i += 1 + spec.nargs
        if invert:
            raise _Fallback
        return out

    def _parse(self, ext: Extension, kind: str, name: str, options: list[OptArg]) -> ExtOptions:
        key = (kind, name, tuple((o.name, o.values, o.invert) for o in options))
        cache = self.parser.segment_cache
        parsed = cache.get(key)
        if parsed is None:
            parsed = ext.parse(options, self.parser.ext_context)
            cache[key] = parsed
        return parsed

    def _match(self, segment: str) -> tuple[Match, Extension | None, frozenset[str]]:
        name, _, text = segment.partition(" ")
        ext = find_match(name)
        if ext is None:
            args = split_args(text) if text else []
            if any(a.quoted and a.value.startswith("-") for a in args):
                raise _Fallback
            names = frozenset(a.value[2:] for a in args if a.value.startswith("--"))
            raw = RawOptions(" ".join(a.raw or a.value for a in args),
                             tuple(a.value for a in args))
            return Match(name, raw), None, names
        if self.parser.family not in ext.families:
            raise _Fallback
        options = self._parse(ext, "m", name, self._options(ext, text))
        return Match(name, options), ext, frozenset()

    def _check(self, key: str, ext: Extension, options: ExtOptions, chain: str,
               proto: int | None, proto_invert: bool, matches: tuple[Match, ...]) -> None:
        table = self.parser.table
        assert table is not None
        cache_key = (key, table.name, chain, proto, proto_invert, matches)
        if cache_key not in self.checks:
            ctx = RuleContext(self.parser.family, table.name, chain, proto, proto_invert,
                              matches)
            self.checks[cache_key] = ext.check(options, ctx)
        if self.checks[cache_key]:
            raise _Fallback  # the general parser reports it with its column

    def _target(self, tail: str, goto: bool, chain: str, proto: int | None,
                proto_invert: bool, matches: tuple[Match, ...],
                known_options: set[str]) -> Target:
        table = self.parser.table
        assert table is not None
        name, _, text = tail.partition(" ")
        if goto or (name in table.chains and not text and find_target(name) is None):
            jumped = table.chains.get(name)
            if jumped is None or jumped.policy is not None or text:
                raise _Fallback
            return Target(name, None, goto)
        cached = self.targets.get(tail)
        if cached is None:
            if name in STANDARD_TARGETS:
                if text:
                    raise _Fallback
                cached = (Target(name), None)
            else:
                ext = find_target(name)
                if ext is None or self.parser.family not in ext.families:
                    raise _Fallback
                if ext.tables is not None and table.name not in ext.tables:
                    raise _Fallback
                cached = (Target(name, self._parse(ext, "j", name, self._options(ext, text))),
                          ext)
            self.targets[tail] = cached
        target, ext = cached
        if ext is not None:
            assert target.options is not None
            self._check(tail, ext, target.options, chain, proto, proto_invert, matches)
        return target
