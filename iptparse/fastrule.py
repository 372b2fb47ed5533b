"""The fast path for rule and chain lines in iptables-save's own layout.

iptables-save prints every rule the same way: `-A CHAIN`, the IP options, then `-m NAME
options` per match and `-j TARGET options`. A kube-proxy node's dump has 85,000 such lines and
must load about as fast as `iptables-restore --test` reads it, so a line is cut at ` -m ` and
` -j `/` -g ` with string methods (C loops, no per-character Python), and each piece is looked up
in a cache of typed nodes shared between rules: real dumps repeat `-m tcp --dport 80` and
`-j KUBE-MARK-MASQ` thousands of times. What is unique per rule (addresses, comments, DNAT
destinations) costs one parse, with address and protocol caches keeping even that small.

Any line that does not fit this layout exactly — quotes that straddle a cut or open in the
middle of a word, backslashes, options a segment's own extension does not know (implicit
`-p tcp --dport`), options after the target, multiple addresses, an unknown jump target, a check
that fails — ends the run and goes through the general parser, which reproduces iptables'
getopt loop and reports errors with their columns. A test holds both paths equal on every
corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from .addresses import AddressError, parse_address
from .argv import split_args
from .construct import slot_constructor
from .errors import ParseError
from .extensions.base import (
    Extension,
    OptArg,
    OptionError,
    RuleContext,
    all_extensions,
    find_match,
    find_target,
)
from .nodes import (
    Address,
    Counters,
    ExtOptions,
    Interface,
    Match,
    Protocol,
    RawOptions,
    Rule,
    Target,
)
from .rulespec import MODULE_NAME_MAX, STANDARD_TARGETS
from .source import Span

if TYPE_CHECKING:
    from .parser import _ChainBuilder, _Parser, _TableBuilder

__all__ = ["FastRules"]

_make_rule = slot_constructor(Rule)
_make_span = slot_constructor(Span)
_make_match = slot_constructor(Match)
_make_target = slot_constructor(Target)
_make_optarg = slot_constructor(OptArg)

_UNSEEN = object()
_UNAVAILABLE = object()
_NO_NAMES: frozenset[str] = frozenset()

_BASIC = {"-s": "s", "-d": "d", "-i": "i", "-o": "o", "-p": "p", "-f": "f"}

#: A rule's IP part: src, src_invert, dst, dst_invert, iif, oif, proto, fragment; then the
#: builtin chains that refuse it (-i in OUTPUT/POSTROUTING, -o in INPUT/PREROUTING, even when
#: the interface matches every name) and the (protocol, negated) pair extension checks see.
_Ip = tuple[Address | None, bool, Address | None, bool, Interface | None, Interface | None,
            Protocol | None, bool | None, frozenset[str], tuple[int | None, bool]]

_REFUSED = {
    (False, False): frozenset(),
    (True, False): frozenset({"OUTPUT", "POSTROUTING"}),
    (False, True): frozenset({"INPUT", "PREROUTING"}),
    (True, True): frozenset({"OUTPUT", "POSTROUTING", "INPUT", "PREROUTING"}),
}

#: What a cached target needs at each use: nothing, its chain to exist, or its check to pass.
_PLAIN, _CHAIN, _CHECKED = 0, 1, 2


#: The `passed` memo of pieces without a check (never read or written).
_NEVER: dict[object, bool] = {}


class _Fallback(Exception):
    """This line is not in save layout: let the general parser read it."""


def _words(text: str) -> tuple[list[str], list[bool]]:
    """The words of an option text and whether each was quoted.

    Only the simple form iptables-save writes is read here: every quoted run is a whole word
    and there is no backslash (the caller checked); anything else is left to the general
    parser, which follows iptables' quoting rules in full.
    """
    if '"' not in text:
        words = text.split()
        return words, [False] * len(words)
    parts = text.split('"')
    words = []
    quoted = []
    last = len(parts) - 1
    for i, part in enumerate(parts):
        if i % 2:
            if (parts[i - 1] and parts[i - 1][-1] != " ") or (
                    i < last and parts[i + 1] and parts[i + 1][0] != " "):
                raise _Fallback  # a quote inside a word: iptables joins the pieces
            words.append(part)
            quoted.append(True)
        else:
            plain = part.split()
            words.extend(plain)
            quoted.extend([False] * len(plain))
    return words, quoted


def _options(ext: Extension, words: list[str], quoted: list[bool]) -> list[OptArg]:
    """Assign words to `ext`'s options as getopt would, when every word belongs to it."""
    out: list[OptArg] = []
    invert = False
    table = ext.option_table
    i = 0
    count = len(words)
    while i < count:
        word = words[i]
        if quoted[i]:
            raise _Fallback
        if word == "!":
            if invert:
                raise _Fallback
            invert = True
            i += 1
            continue
        spec = table.get(word[2:]) if word.startswith("--") else None
        if spec is None or spec.nargs < 0 or (invert and not spec.invert):
            raise _Fallback
        end = i + 1 + spec.nargs
        if end > count or (spec.nargs and words[i + 1] == "!" and not quoted[i + 1]):
            raise _Fallback
        out.append(OptArg(spec.name, tuple(words[i + 1:end]), invert))
        invert = False
        i = end
    if invert:
        raise _Fallback
    return out


def _checks(ext: Extension) -> bool:
    """Whether the extension has per-rule conditions at all (most have none)."""
    return type(ext).check is not Extension.check


def _any_odd_quotes(pieces: list[str]) -> bool:
    """Whether a cut fell inside a quoted string: with no backslash, a piece with an odd
    count of quotes is the only sign."""
    for piece in pieces:  # noqa: SIM110 - a loop: any() over a generator costs a frame
        if piece.count('"') % 2:
            return True
    return False


def _options_free(segment: _Segment, before: list[_Segment]) -> bool:
    """Whether an unknown module's options are its own: getopt gives an option to an
    earlier module that knows it."""
    for earlier in before:
        if earlier.ext is not None and not segment.names.isdisjoint(earlier.ext.option_table):
            return False
    return True


@cache
def _module_bits() -> dict[str, tuple[int, int]]:
    """Per match module: its bit, and the bits of the other modules that share an option name
    with it. getopt's table has a module's options once, from its first load, so in
    `-m mark … -m connmark … -m mark --mark 3` the `--mark` is connmark's; a rule that repeats
    a module after one that shares its options is left to the general parser, which follows
    that (`FastRules.lines` ORs the bits of the modules a rule loads)."""
    names = sorted({name for ext in all_extensions() if ext.kind == "match"
                    for name in ext.names})
    exts = {name: find_match(name) for name in names}
    bits = {name: 1 << i for i, name in enumerate(names)}
    out: dict[str, tuple[int, int]] = {}
    for name in names:
        ext = exts[name]
        assert ext is not None
        clash = 0
        for other in names:
            theirs = exts[other]
            if theirs is not ext and theirs is not None and not ext.option_table.keys(
                    ).isdisjoint(theirs.option_table):
                clash |= bits[other]
        out[name] = (bits[name], clash)
    return out


_V = TypeVar("_V")


class _Recent(dict[str, _V]):
    """A cache that keeps what was used lately: two generations of `limit` entries.

    A kube-proxy dump has 40,000 comments and 30,000 addresses that each occur in one to
    three neighbouring rules; remembering them all would double the memory of the load. Hits
    read the dict itself (C speed); a miss looks in the previous generation before making
    the value, so what keeps being used keeps being shared.
    """

    __slots__ = ("limit", "older")

    def __init__(self, limit: int = 8192) -> None:
        super().__init__()
        self.limit = limit
        self.older: dict[str, _V] = {}

    def add(self, key: str, make: Callable[[str], _V]) -> _V:
        value = self.older.pop(key, _UNSEEN)
        if value is _UNSEEN:
            value = make(key)
        if len(self) >= self.limit:
            self.older = dict(self)
            self.clear()
        self[key] = value  # type: ignore[assignment]
        return value  # type: ignore[return-value]


class _Segment:
    """A cached `-m NAME options` segment: the typed match and what rule checks need."""

    __slots__ = ("bit", "check", "clash", "ext", "key", "match", "names", "passed")

    def __init__(self, match: Match, ext: Extension | None, names: frozenset[str],
                 key: int, bits: tuple[int, int] = (0, 0)) -> None:
        self.match = match
        self.ext = ext
        self.names = names  # option names of an unknown module (getopt may give them away)
        self.key = key
        #: the module's bit and those of the modules sharing an option with it
        #: (`_module_bits`; 0 for an unknown module)
        self.bit, self.clash = bits
        self.check = ext is not None and _checks(ext)
        # results of the check per context; most segments have no check (memory: 46,000
        # comments in a kube-proxy dump)
        self.passed: dict[object, bool] = {} if self.check else _NEVER


class _TargetEntry:
    """A cached `-j …`/`-g …` tail: the target and what each use must verify."""

    __slots__ = ("ext", "kind", "passed", "target")

    def __init__(self, target: Target, ext: Extension | None, kind: int) -> None:
        self.target = target
        self.ext = ext
        self.kind = kind
        self.passed: dict[object, bool] = {} if kind == _CHECKED else _NEVER


class FastRules:
    """Per-parse caches of typed rule pieces, keyed by their exact text."""

    def __init__(self, parser: _Parser) -> None:
        self.parser = parser
        self.family = parser.family
        self.ips: _Recent[_Ip] = _Recent()
        self.addresses: dict[tuple[str, bool], object] = {}
        self.interfaces: dict[tuple[str, bool], Interface | None] = {}
        self.protocols: dict[tuple[str, bool], Protocol | None] = {}
        self.segments: _Recent[_Segment] = _Recent()
        self.serial = 0  # keys of segments for the check memos (the cache forgets)
        self.counters: dict[str, Counters] = {}
        # targets depend on the table (which targets it allows, which chains it has)
        self.targets: dict[tuple[str, bool], _Recent[_TargetEntry]] = {}
        # extensions by name: None when unknown, _UNAVAILABLE when not in this family
        self.match_exts: dict[str, object] = {}
        self.templates: dict[tuple[int, str], object] = {}
        self.names: dict[str, str] = {}
        self.target_exts: dict[str, object] = {}

    # --- runs of lines ---------------------------------------------------------------------

    def lines(self, lines: list[str], index: int, first: int = 1) -> int:
        """Read rule and chain lines from `lines[index]` on while they are in save layout;
        return the index of the first line left to the general parser. `lines[0]` is line
        number `first` of the input.

        This is the loop 85,000 rules go through, so a rule whose pieces are all in the
        caches costs no Python call but its constructors; a new piece goes through the
        methods below, and anything unusual ends the run.
        """
        parser = self.parser
        table = parser.table
        if table is None:
            return index
        chains = table.chains
        segments = self.segments
        ips = self.ips
        targets = self._targets(table.name, False)
        any_odd = _any_odd_quotes
        end = len(lines)
        try:
            while index < end:
                line = lines[index]
                if not line.isprintable():  # tabs, CR: the general parser's columns
                    break
                if line[:3] == "-A ":
                    start = 3
                    counters = None
                elif line[:1] == ":":
                    if not self._declare(line, first + index):
                        break
                    index += 1
                    continue
                elif line[:1] == "[":
                    start = line.find("] -A ") + 5
                    counters = self._counters(line[: start - 4]) if start > 5 else None
                    if counters is None:
                        break
                else:
                    break
                trailing = ""
                if line[-1] == " ":
                    # iptables-save 1.4 ended every rule with a space: kept for its output
                    # only, as the general parser does
                    stripped = line.rstrip(" ")
                    trailing = line[len(stripped):] if parser.save_output else ""
                    line = stripped
                space = line.find(" ", start)
                chain = chains.get(line[start:space] if space > 0 else line[start:])
                if chain is None:
                    break
                body, sep, tail = line.partition(" -j ")
                goto = False
                if not sep:
                    body, sep, tail = line.partition(" -g ")
                    goto = bool(sep)
                if sep and (" -m " in tail or " -j " in tail or " -g " in tail):
                    break
                pieces = body.split(" -m ")
                if '"' in line:
                    # no cut inside a quoted string, and only the quoting `_words` reads
                    if '"' in pieces[0] or "\\" in line or tail.count('"') % 2:
                        break
                    if any_odd(pieces):
                        break
                head = pieces[0][space + 1:] if space > 0 else ""
                ip = ips.get(head)
                if ip is None:
                    ip = ips.add(head, self._ip)
                if ip[8] and chain.name in ip[8]:
                    break  # -i in OUTPUT and the like: the general parser reports it
                matches: tuple[Match, ...] = ()
                found: list[_Segment] = []
                if len(pieces) > 1:
                    user_chain = chain.policy is None
                    loaded = 0  # the bits of the modules loaded so far (`_Segment.bit`)
                    for text in pieces[1:]:
                        segment = segments.get(text)
                        if segment is None:
                            segment = segments.add(text, self._segment)
                        if segment.ext is None:
                            if segment.names and not _options_free(segment, found):
                                break  # an earlier module owns these options
                        else:
                            bit = segment.bit
                            if loaded & bit and loaded & segment.clash:
                                break  # a repeat: getopt may give its options to another
                            loaded |= bit
                            if segment.check:
                                passes = segment.passed.get(ip[9]) if user_chain else None
                                if passes is None:
                                    passes = self._match_passes(segment, chain, ip)
                                if not passes:
                                    break
                        found.append(segment)
                    else:
                        matches = tuple([s.match for s in found])
                    if len(found) < len(pieces) - 1:
                        break
                target = None
                if sep:
                    if goto:
                        entry = self._entry(self._targets(table.name, True), table, tail, True)
                    else:
                        entry = targets.get(tail) or self._entry(targets, table, tail, False)
                    target = entry.target
                    if entry.kind == _CHAIN:
                        jumped = chains.get(target.name)
                        if jumped is None or jumped.policy is not None:
                            break  # not a user chain (now): the general parser says what it is
                    elif entry.kind and not self._target_passes(entry, table, chain, ip, found):
                        break
                leading = parser.take_leading() if parser.pending_comments else ()
                chain.rules.append(_make_rule(
                    chain.name, ip[0], ip[1], ip[2], ip[3], ip[4], ip[5], ip[6], ip[7], matches,
                    target, counters, _make_span(first + index, 1), leading, trailing))
                index += 1
        except (_Fallback, OptionError, ParseError):
            pass  # the general parser reads this line, or reports its error with a column
        return index

    def _declare(self, line: str, number: int) -> bool:
        """`:NAME POLICY [p:b]` as iptables-save writes it; False: leave it to the parser."""
        parts = line[1:].split(" ")
        if len(parts) == 3:
            counters = self._counters(parts[2])
            if counters is None:
                return False
        elif len(parts) == 2:
            counters = None
        else:
            return False
        name, policy = parts[0], parts[1]
        if not name or not (policy == "-" or (policy.isalpha() and policy.isascii())):
            return False
        parser = self.parser
        parser.line_no = number
        parser.declare_chain(name, policy, counters, 1, 2)
        return True

    def _counters(self, text: str) -> Counters | None:
        found = self.counters.get(text)
        if found is None:
            if text[:1] != "[" or text[-1:] != "]":
                return None
            packets, colon, bytes_ = text[1:-1].partition(":")
            if not (colon and packets.isdigit() and bytes_.isdigit() and packets.isascii()
                    and bytes_.isascii()):
                return None
            found = self.counters[text] = Counters(int(packets), int(bytes_))
        return found

    # --- the IP part -----------------------------------------------------------------------

    def _ip(self, text: str) -> _Ip:
        """`[! ] -s A [! ] -d A … -p P [! ] -f` → the IP part of the rule."""
        words = text.split()
        values: dict[str, tuple[str, bool]] = {}
        invert = False
        i = 0
        count = len(words)
        while i < count:
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
                values["f"] = ("", invert)
                i += 1
            else:
                if i + 1 >= count or words[i + 1] == "!":
                    raise _Fallback
                values[key] = (words[i + 1], invert)
                i += 2
            invert = False
        if invert:
            raise _Fallback
        frag = None
        if "f" in values:
            if self.family.bits == 128:
                raise _Fallback
            frag = not values["f"][1]
        src, src_inv = self._address(values.get("s"))
        dst, dst_inv = self._address(values.get("d"))
        proto = self._protocol(values.get("p"))
        context = (proto.number, proto.invert) if proto is not None else (None, False)
        refused = _REFUSED[("i" in values, "o" in values)]
        return (src, src_inv, dst, dst_inv, self._interface(values.get("i")),
                self._interface(values.get("o")), proto, frag, refused, context)

    def _address(self, given: tuple[str, bool] | None) -> tuple[Address | None, bool]:
        if given is None:
            return None, False
        text, invert = given
        address = self.addresses.get(given, _UNSEEN)
        if address is _UNSEEN:
            if "," in text:
                raise _Fallback  # several addresses: one rule each, the general parser's job
            try:
                parsed = parse_address(text, self.family)
            except AddressError:
                raise _Fallback from None  # the general parser reports it
            # `-s 0/0` matches everything and is dropped, as iptables does (not when negated)
            if len(self.addresses) >= 16384:
                self.addresses.clear()  # unique per endpoint in big dumps: do not hoard
            address = self.addresses[given] = (None if parsed.mask == 0 and not invert
                                               else parsed)
        assert address is None or isinstance(address, Address)
        return address, invert if address is not None else False

    def _interface(self, given: tuple[str, bool] | None) -> Interface | None:
        if given is None:
            return None
        if given not in self.interfaces:
            self.interfaces[given] = self.parser.interface((given[0], given[1], 0))
        return self.interfaces[given]

    def _protocol(self, given: tuple[str, bool] | None) -> Protocol | None:
        if given is None:
            return None
        if given not in self.protocols:
            self.protocols[given] = self.parser.protocol((given[0], given[1], 0))
        return self.protocols[given]

    # --- matches and targets ---------------------------------------------------------------

    def _parse(self, ext: Extension, text: str) -> ExtOptions:
        return ext.parse(self._option_args(ext, text), self.parser.ext_context)

    def _option_args(self, ext: Extension, text: str) -> list[OptArg]:
        """The options of a segment, reusing the assignment of everything but its last word.

        What is unique in a segment is usually its last value (`--comment "…"`,
        `--to-destination IP:PORT`, `--dport N`): the words before it are assigned once per
        extension and reused with the new value put in.
        """
        if text.endswith('"'):
            opening = text.rfind('"', 0, len(text) - 1)
            if opening < 1 or text[opening - 1] != " ":
                words, quoted = _words(text)
                return _options(ext, words, quoted)
            prefix, value = text[: opening - 1], text[opening + 1: -1]
        else:
            prefix, _, value = text.rpartition(" ")
            if value == "!" or '"' in value:
                raise _Fallback  # `!` needs the general rules; a quote opens mid-word
        key = (id(ext), prefix)
        template = self.templates.get(key, _UNSEEN)
        if template is _UNSEEN:
            template = self.templates[key] = self._template(ext, prefix)
        if template is None:
            words, quoted = _words(text)
            return _options(ext, words, quoted)
        assert isinstance(template, tuple)
        before, last = template
        return [*before, _make_optarg(last.name, (value,), last.invert, 0, ())]

    def _template(self, ext: Extension, prefix: str
                  ) -> tuple[tuple[OptArg, ...], OptArg] | None:
        """How the words before a last value are assigned, if that value is the one
        argument of the last option; None otherwise."""
        try:
            words, quoted = _words(prefix)
            args = _options(ext, [*words, "\0"], [*quoted, True])
        except _Fallback:
            return None
        if not args or args[-1].values != ("\0",):
            return None
        return tuple(args[:-1]), args[-1]

    def _segment(self, text: str) -> _Segment:
        name, _, options = text.partition(" ")
        name = self.names.setdefault(name, name)  # one string per module name, not per rule
        ext = self.match_exts.get(name, _UNSEEN)
        if ext is _UNSEEN:
            ext = self.match_exts[name] = find_match(name)
            if ext is not None and self.family not in ext.families:
                ext = self.match_exts[name] = _UNAVAILABLE
        self.serial += 1
        key = self.serial
        if ext is None:
            if not name or name[0] in "-!" or '"' in name or len(name) > MODULE_NAME_MAX:
                raise _Fallback  # the general parser reads it, or says why it cannot
            args = split_args(options) if options else []
            if any((a.value.startswith("-") and (a.quoted or not a.value.startswith("--")))
                   or (a.value == "!" and not a.quoted) for a in args):
                raise _Fallback  # short options and `!` follow the rule's getopt rules
            names = frozenset(a.value[2:] for a in args if a.value.startswith("--"))
            raw = RawOptions(" ".join(a.raw or a.value for a in args),
                             tuple(a.value for a in args))
            return _Segment(_make_match(name, raw, None), None, names, key)
        if ext is _UNAVAILABLE:
            raise _Fallback  # the general parser says the family lacks it
        assert isinstance(ext, Extension)
        return _Segment(_make_match(name, self._parse(ext, options), None), ext, _NO_NAMES, key,
                        _module_bits().get(name, (0, 0)))

    def _context(self, table: str, chain: _ChainBuilder, ip: _Ip,
                 matches: tuple[Match, ...] = ()) -> RuleContext:
        # Only builtin chains are hooks: a user chain's name never changes a check's outcome,
        # which is why results are shared between rules by the chain's kind.
        name = chain.name if chain.policy is not None else "user chain"
        proto, invert = ip[9]
        return RuleContext(self.family, table, name, proto, invert, matches)

    def _match_passes(self, segment: _Segment, chain: _ChainBuilder, ip: _Ip) -> bool:
        """The segment's check in this rule's context, remembered per context: user chains
        by the protocol alone, builtin chains with their name."""
        key: object = ip[9] if chain.policy is None else (chain.name, ip[9])
        passes = segment.passed.get(key)
        if passes is None:
            assert segment.ext is not None
            table = self.parser.table
            assert table is not None
            ctx = self._context(table.name, chain, ip)
            passes = segment.passed[key] = not segment.ext.check(segment.match.options, ctx)
        return passes

    def _target_passes(self, entry: _TargetEntry, table: _TableBuilder, chain: _ChainBuilder,
                       ip: _Ip, found: list[_Segment]) -> bool:
        assert entry.ext is not None
        key = (chain.name if chain.policy is not None else "", ip[9],
               tuple([s.key for s in found]) if entry.ext.check_reads_matches else ())
        passes = entry.passed.get(key)
        if passes is None:
            assert entry.target.options is not None
            ctx = self._context(table.name, chain, ip, tuple([s.match for s in found]))
            passes = entry.passed[key] = not entry.ext.check(entry.target.options, ctx)
        return passes

    def _targets(self, table: str, goto: bool) -> _Recent[_TargetEntry]:
        cache = self.targets.get((table, goto))
        if cache is None:
            cache = self.targets[(table, goto)] = _Recent()
        return cache

    def _entry(self, cache: _Recent[_TargetEntry], table: _TableBuilder, tail: str,
               goto: bool) -> _TargetEntry:
        entry = cache.get(tail)
        if entry is None:
            entry = cache.add(tail, lambda text: self._new_target(table, text, goto))
        return entry

    def _new_target(self, table: _TableBuilder, tail: str, goto: bool) -> _TargetEntry:
        name, _, text = tail.partition(" ")
        if not name or '"' in name:
            raise _Fallback
        chain = table.chains.get(name)
        if chain is not None and not text and (goto or find_target(name) is None):
            # a jump to a chain (a target extension of the same name would win): one per
            # chain name, which is the chain's own string
            return _TargetEntry(_make_target(chain.name, None, goto, None), None, _CHAIN)
        name = self.names.setdefault(name, name)  # one string per target name, not per rule
        ext = self.target_exts.get(name, _UNSEEN)
        if ext is _UNSEEN:
            ext = self.target_exts[name] = find_target(name)
            if ext is not None and self.family not in ext.families:
                ext = self.target_exts[name] = _UNAVAILABLE
        if goto or (ext is None and name not in STANDARD_TARGETS):
            if text:
                raise _Fallback
            return _TargetEntry(_make_target(name, None, goto, None), None, _CHAIN)
        if name in STANDARD_TARGETS:
            if text:
                raise _Fallback
            return _TargetEntry(Target(name), None, _PLAIN)
        if ext is _UNAVAILABLE:
            raise _Fallback
        assert isinstance(ext, Extension)
        if ext.tables is not None and table.name not in ext.tables:
            raise _Fallback
        return _TargetEntry(_make_target(name, self._parse(ext, text), False, None), ext,
                            _CHECKED if _checks(ext) else _PLAIN)
