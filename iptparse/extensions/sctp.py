"""sctp match (libxt_sctp): ports and the chunk types (with chunk flags) a packet carries.

Chunk flags are stored as the kernel gets them: iptables files a flag under the chunk's
position in its name table rather than its type number. The two agree for DATA, ABORT and
SHUTDOWN_COMPLETE; flags given for I_DATA (type 64, position 15) land under type 15, where the
kernel applies them and iptables-save cannot print them. We keep them the same way.

Semantics (xt_sctp): a non-first fragment never matches; each given part (ports, chunk types) is
`test ^ its !`. The chunk walk, per mode: `any` holds when some chunk of a listed type has
matching flags; `all` when every listed type occurs with matching flags; `only` when every chunk
is of a listed type and the flagged ones match. Packet fields: `sctp_chunks` (the types present)
and one flags field per chunk type that has flags (DATA, ABORT, SHUTDOWN_COMPLETE): a packet is
taken to carry one chunk of each such type, or several with the same flags. Flags filed under
type 15 (written for I_DATA) are never consulted, since no rule can list type 15. Malformed
packets (no chunk, a zero chunk length), which the kernel drops on the spot, are not modelled.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import BitSet
from ..logic import TRUE, Pred, Test
from ..nodes import ExtOptions
from ..services import service_port
from ._checks import need_protocol
from ._cnum import Range, c_lower, c_upper, xt_strtoul
from ._pred import bit_present, conj, disj, first_fragment, in_range, invert, neg
from ._xtopt import format_range
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

__all__ = ["CHUNK_TYPES", "FLAG_FIELDS", "ChunkFlags", "ChunkMatch", "Sctp", "SctpMatch",
           "chunk_predicate", "parse_sctp_port", "sctp_predicate"]

# (name, chunk type, flag letters from bit 7 down to bit 0; '-' is no flag) in iptables' order
CHUNK_TYPES: tuple[tuple[str, int, str], ...] = (
    ("DATA", 0, "----IUBE"), ("INIT", 1, "--------"), ("INIT_ACK", 2, "--------"),
    ("SACK", 3, "--------"), ("HEARTBEAT", 4, "--------"), ("HEARTBEAT_ACK", 5, "--------"),
    ("ABORT", 6, "-------T"), ("SHUTDOWN", 7, "--------"), ("SHUTDOWN_ACK", 8, "--------"),
    ("ERROR", 9, "--------"), ("COOKIE_ECHO", 10, "--------"), ("COOKIE_ACK", 11, "--------"),
    ("ECN_ECNE", 12, "--------"), ("ECN_CWR", 13, "--------"),
    ("SHUTDOWN_COMPLETE", 14, "-------T"), ("I_DATA", 64, "----IUBE"),
    ("RE_CONFIG", 130, "--------"), ("PAD", 132, "--------"), ("ASCONF", 193, "--------"),
    ("ASCONF_ACK", 128, "--------"), ("FORWARD_TSN", 192, "--------"),
    ("I_FORWARD_TSN", 194, "--------"),
)
_NAME_BY_TYPE = {number: name for name, number, _ in CHUNK_TYPES}
ALL_CHUNKS = frozenset(range(256))
MAX_FLAG_ENTRIES = 4  # XT_NUM_SCTP_FLAGS


class ChunkMatch(enum.Enum):
    """How --chunk-types combines its list: any present, all present, or only these."""

    ANY = "any"
    ALL = "all"
    ONLY = "only"


@dataclass(frozen=True, slots=True)
class ChunkFlags:
    """Chunks of type `chunk` must have `flags & mask == value`."""

    chunk: int
    value: int
    mask: int


@dataclass(frozen=True, slots=True)
class SctpMatch(ExtOptions):
    """None for a part the rule does not test."""

    sport: Range | None = None
    sport_invert: bool = False
    dport: Range | None = None
    dport_invert: bool = False
    chunk_match: ChunkMatch | None = None
    chunks: frozenset[int] = frozenset()
    chunk_flags: tuple[ChunkFlags, ...] = ()
    chunks_invert: bool = False


def parse_sctp_port(text: str, column: int) -> int:
    """A port number (base 0, as strtoul reads it) or an SCTP service name."""
    number = xt_strtoul(text, 0, 0xFFFF)
    if number is not None:
        return number.value
    port = service_port(text, "sctp")
    if port is None:
        raise OptionError(f"invalid port/service `{text}' specified", column)
    return port


def _ports(arg: OptArg) -> Range:
    text, column = arg.value, arg.value_column()
    lo_text, colon, hi_text = text.partition(":")
    if not colon:
        port = parse_sctp_port(text, column)
        return (port, port)
    lo = parse_sctp_port(lo_text, column) if lo_text else 0
    hi = parse_sctp_port(hi_text, column + len(lo_text) + 1) if hi_text else 0xFFFF
    if lo > hi:
        raise OptionError(f"invalid port range `{text}': {lo} is greater than {hi}", column)
    return (lo, hi)


def _chunks(text: str, column: int) -> tuple[frozenset[int], tuple[ChunkFlags, ...]]:
    lowered = c_lower(text)
    if lowered == "all":
        return ALL_CHUNKS, ()
    if lowered == "none":
        return frozenset(), ()
    chunks: set[int] = set()
    flags: dict[int, tuple[int, int]] = {}  # position in CHUNK_TYPES -> (value, mask)
    offset = 0
    for word in text.split(","):
        name, _, letters = word.partition(":")
        where = column + offset
        offset += len(word) + 1
        if not word:
            continue
        position = next((i for i, entry in enumerate(CHUNK_TYPES)
                         if c_lower(entry[0]) == c_lower(name)), None)
        if position is None:
            raise OptionError(f"unknown SCTP chunk type `{name}'", where)
        chunk_name, number, valid = CHUNK_TYPES[position]
        chunks.add(number)
        for letter in letters:
            index = valid.find(c_upper(letter))
            if index < 0:
                raise OptionError(f"invalid flag `{letter}' for chunk type {chunk_name} "
                                  f"(valid: {valid.replace('-', '') or 'none'})", where)
            if position not in flags and len(flags) == MAX_FLAG_ENTRIES:
                raise OptionError(f"flags given for more than {MAX_FLAG_ENTRIES} chunk types",
                                  where)
            bit = 1 << (7 - index)
            value, mask = flags.get(position, (0, 0))
            flags[position] = (value | (bit if "A" <= letter <= "Z" else 0), mask | bit)
    entries = tuple(ChunkFlags(pos, value, mask) for pos, (value, mask) in flags.items())
    return frozenset(chunks), entries


#: The packet field holding the flags of each chunk type that has flags.
FLAG_FIELDS: dict[int, str] = {0: "sctp_data_flags", 6: "sctp_abort_flags",
                               14: "sctp_shutdown_complete_flags"}
_CHUNK_BITS = (1 << 256) - 1


def _chunk_name(number: int) -> str:
    return _NAME_BY_TYPE.get(number, f"type {number}")


def _names(numbers: frozenset[int] | set[int]) -> str:
    """`INIT, DATA` or `one of 200 types`, for "a chunk of type …"."""
    if len(numbers) > 8:
        return f"one of {len(numbers)} types"
    return ", ".join(_chunk_name(n) for n in sorted(numbers))


def _has(number: int) -> Pred:
    name = _chunk_name(number)
    return bit_present("sctp_chunks", number, f"the packet has an SCTP {name} chunk",
                       f"the packet has no SCTP {name} chunk")


def _flags_ok(number: int, entries: tuple[ChunkFlags, ...]) -> Pred:
    """match_flags(): the first flag entry for this chunk type decides; none means any flags."""
    entry = next((e for e in entries if e.chunk == number), None)
    if entry is None:
        return TRUE
    field = FLAG_FIELDS[number]  # only DATA, ABORT and SHUTDOWN_COMPLETE can carry entries
    name = _chunk_name(number)
    text = f"SCTP {name} chunk flags & {entry.mask:#x} = {entry.value:#x}"
    return Test(field, BitSet.cube(entry.value, entry.mask, 8), text,
                text.replace(" = ", " ≠ "))


def _mask(numbers: frozenset[int] | set[int]) -> int:
    return sum(1 << n for n in numbers)


def chunk_predicate(options: SctpMatch) -> Pred:
    """What match_packet() returns for a well-formed packet (before the `!`)."""
    assert options.chunk_match is not None
    chunks = options.chunks
    flagged = {c for c in chunks if any(e.chunk == c for e in options.chunk_flags)}
    plain = chunks - flagged
    if options.chunk_match is ChunkMatch.ANY:
        parts = [conj(_has(c), _flags_ok(c, options.chunk_flags)) for c in sorted(flagged)]
        if len(plain) == 1:
            parts.append(_has(next(iter(plain))))
        elif plain:
            some = BitSet.cube(0, _mask(plain), 256).complement()
            parts.append(Test("sctp_chunks", some,
                              f"the packet has an SCTP chunk of type {_names(plain)}",
                              f"the packet has no SCTP chunk of type {_names(plain)}"))
        return disj(*parts)
    if options.chunk_match is ChunkMatch.ALL:
        parts = [conj(_has(c), _flags_ok(c, options.chunk_flags)) for c in sorted(flagged)]
        if len(plain) == 1:
            parts.append(_has(next(iter(plain))))
        elif plain:
            mask = _mask(plain)
            parts.append(Test("sctp_chunks", BitSet.cube(mask, mask, 256),
                              f"the packet has SCTP chunks of every type {_names(plain)}",
                              f"the packet lacks an SCTP chunk of type {_names(plain)}"))
        return conj(*parts)
    # ONLY: every chunk present is listed, and the flagged ones have matching flags
    others = _CHUNK_BITS & ~_mask(chunks)
    parts = []
    if others:
        listed = _names(chunks) if chunks else "none"
        parts.append(Test("sctp_chunks", BitSet.cube(0, others, 256),
                          f"every SCTP chunk is of a listed type ({listed})",
                          f"the packet has an SCTP chunk of another type than {listed}"))
    parts += [disj(neg(_has(c)), _flags_ok(c, options.chunk_flags)) for c in sorted(flagged)]
    return conj(*parts)


def sctp_predicate(options: SctpMatch) -> Pred:
    parts: list[Pred] = [first_fragment()]
    for name, ports, inverted in (("sport", options.sport, options.sport_invert),
                                  ("dport", options.dport, options.dport_invert)):
        if ports is not None:
            parts.append(invert(in_range(name, ports[0], ports[1]), inverted))
    if options.chunk_match is not None:
        parts.append(invert(chunk_predicate(options), options.chunks_invert))
    return conj(*parts)


def _render_chunks(options: SctpMatch) -> str:
    assert options.chunk_match is not None
    out = f" --chunk-types {options.chunk_match.value}"
    if not options.chunks:
        return out + " NONE"
    if options.chunks == ALL_CHUNKS:
        return out + " ALL"
    words = []
    for number in sorted(options.chunks):
        word = _NAME_BY_TYPE.get(number, "")
        for entry in options.chunk_flags:
            if entry.chunk == number and entry.mask and number < len(CHUNK_TYPES):
                # iptables looks the letters up by type number in its name table
                valid = CHUNK_TYPES[number][2]
                word += ":" + "".join(
                    valid[7 - bit] if entry.value & (1 << bit) else c_lower(valid[7 - bit])
                    for bit in range(7, -1, -1) if entry.mask & (1 << bit))
        words.append(word)
    return out + " " + ",".join(words)


@register
class Sctp(Extension):
    names = ("sctp",)
    options = (
        OptSpec("sport", 1, True, ("source-port",)),
        OptSpec("dport", 1, True, ("destination-port",)),
        OptSpec("chunk-types", 2, True),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> SctpMatch:
        options = one_of(args)
        sport = dport = None
        if "sport" in options:
            sport = _ports(options["sport"])
        if "dport" in options:
            dport = _ports(options["dport"])
        match_type = None
        chunks: frozenset[int] = frozenset()
        flags: tuple[ChunkFlags, ...] = ()
        arg = options.get("chunk-types")
        if arg is not None:
            kind, listing = arg.values
            if listing[:1] in ("-", "!"):
                raise OptionError("--chunk-types needs two arguments: all|any|only and a "
                                  "list of chunk types", arg.value_column(1))
            try:
                match_type = ChunkMatch(c_lower(kind))
            except ValueError:
                raise OptionError(f"chunk match type `{kind}' must be all, any or only",
                                  arg.value_column(0)) from None
            chunks, flags = _chunks(listing, arg.value_column(1))
        return SctpMatch(
            sport, "sport" in options and options["sport"].invert,
            dport, "dport" in options and options["dport"].invert,
            match_type, chunks, flags, arg is not None and arg.invert,
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, SctpMatch)
        out = ""
        if options.sport is not None:
            out += f"{' !' if options.sport_invert else ''} --sport {format_range(options.sport)}"
        if options.dport is not None:
            out += f"{' !' if options.dport_invert else ''} --dport {format_range(options.dport)}"
        if options.chunk_match is not None:
            out += (" !" if options.chunks_invert else "") + _render_chunks(options)
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        return need_protocol(ctx, 132, "sctp")

    def predicate(self, options: ExtOptions, ctx: object) -> Pred:
        assert isinstance(options, SctpMatch)
        return sctp_predicate(options)

