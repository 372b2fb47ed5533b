"""sctp match (libxt_sctp): ports and the chunk types (with chunk flags) a packet carries.

Chunk flags are stored as the kernel gets them: iptables files a flag under the chunk's
position in its name table rather than its type number. The two agree for DATA, ABORT and
SHUTDOWN_COMPLETE; flags given for I_DATA (type 64, position 15) land under type 15, where the
kernel applies them and iptables-save cannot print them. We keep them the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions
from ..services import service_port
from ._b_check import need_protocol
from ._b_num import Range, c_lower, c_upper, format_range, xt_strtoul
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

__all__ = ["CHUNK_TYPES", "ChunkFlags", "ChunkMatch", "Sctp", "SctpMatch", "parse_sctp_port"]

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

