"""Elements, entry options and create options: from ipset's words to typed nodes and back.

The rules are ipset 7.17's, per dimension: a range-capable address takes IPv4 `ip`, `ip/cidr`
or `from-to` but only a plain IPv6 address; a network takes `ip[/cidr]` (and IPv4 `from-to`);
a port takes `[proto:]port[-port]`; and so on (`ipset help TYPE` lists them). Printing follows
`ipset save`: options in a fixed order, marks and initval as 0x%08x, ICMP by code name.

Errors are `ElementError`s with ipset's wording and the column of the offending word or part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .nodes import (
    NO_OPTIONS,
    EntryOptions,
    Header,
    IfacePart,
    IpPart,
    MacPart,
    MarkPart,
    Member,
    Part,
    PortPart,
    SetPart,
)
from .settypes import SetType
from .values import (
    Word,
    c_number,
    format_ip,
    format_mac,
    format_port,
    host_bits,
    parse_ip,
    parse_mac,
    parse_port,
    prefix_mask,
)

__all__ = [
    "MAX_COMMENT",
    "MAX_SETNAME",
    "MAX_TIMEOUT",
    "ElementError",
    "format_element",
    "format_header",
    "format_member",
    "parse_element",
    "parse_header",
    "parse_member",
]

MAX_TIMEOUT = 2147483
MAX_COMMENT = 255
MAX_SETNAME = 31
MAX_IFNAME = 15
_U32 = 0xFFFFFFFF
_U64_MAX = 18446744073709551614  # ipset refuses ULLONG_MAX itself


class ElementError(ValueError):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# --- elements ----------------------------------------------------------------------------

def _address(text: str, family: str, column: int, *, ranges: bool, cidr: bool,
             zero_cidr: bool = False) -> IpPart:
    """An address part. `ranges`: IPv4 FROM-TO allowed; `cidr`: /prefix allowed."""
    bits = host_bits(family)
    try:
        if "-" in text and family == "inet" and "/" not in text.partition("-")[0]:
            if not ranges:
                raise ValueError(f"plain IP address must be supplied: {text}")
            first_text, _, last_text = text.partition("-")
            first, last = parse_ip(first_text, family), parse_ip(last_text, family)
            if first > last:
                first, last = last, first
            return IpPart(first, bits, last)
        host, slash, prefix = text.partition("/")
        if slash:
            if not cidr:
                raise ValueError(f"plain IP address must be supplied: {text}")
            if not host:
                raise ValueError(f"cannot parse {text}: resolving to IPv4 address failed")
            length = c_number(prefix, 0, bits) if prefix else -1
            if length < 0:
                raise ValueError(f"cannot parse {host}/: resolving to IPv4 address failed")
            if length == 0 and not zero_cidr:
                raise ValueError("The value of the CIDR parameter of the IP address is invalid")
            return IpPart(parse_ip(host, family) & prefix_mask(length, bits), length)
        if family == "inet6" and "-" in text:
            what = "IP address or IP/cidr" if cidr else "plain IP address"
            raise ValueError(f"{what} must be specified: {text}")
        return IpPart(parse_ip(text, family), bits)
    except ValueError as exc:
        raise ElementError(str(exc), column) from None


def _dim_rules(settype: SetType, index: int, family: str) -> tuple[bool, bool, bool]:
    """(ranges, cidr, zero_cidr) allowed for address dimension `index` of a type."""
    name, dim = settype.name, settype.dims[index]
    if dim == "net":
        zero = name in ("hash:net,iface", "hash:net,port,net")
        return family == "inet", True, zero
    # "ip": the first address of these types takes IPv4 ranges and CIDRs; others are plain
    first_ranged = index == 0 and name in (
        "hash:ip", "hash:ip,port", "hash:ip,port,ip", "hash:ip,port,net", "hash:ip,mark",
        "bitmap:ip")
    ranged = first_ranged and family == "inet"
    return ranged, ranged, False


def parse_element(settype: SetType, family: str, word: str, column: int) -> tuple[Part, ...]:
    """The parts of an element word, e.g. `10.0.0.0/8,tcp:80` for hash:net,port."""
    dims = settype.dims
    if dims == ("set",):
        if len(word) > MAX_SETNAME:
            raise ElementError(f"setname '{word}' is longer than {MAX_SETNAME} characters",
                               column)
        return (SetPart(word),)
    pieces = word.split(",", len(dims) - 1) if dims[-1] == "iface" else word.split(",")
    optional_last = settype.name == "bitmap:ip,mac"
    if len(pieces) != len(dims) and not (optional_last and len(pieces) == 1):
        if len(pieces) > len(dims):
            raise ElementError(f"{len(pieces) - 1} elem separator(s) in {word}, but settype "
                               f"{settype.name} supports {len(dims) - 1}", column)
        raise ElementError(f"element {word} needs {len(dims)} parts for {settype.name}",
                           column + len(word))
    parts: list[Part] = []
    offset = column
    for index, piece in enumerate(pieces):
        dim = dims[index]
        if dim in ("ip", "net"):
            ranges, cidr, zero = _dim_rules(settype, index, family)
            part: Part = _address(piece, family, offset, ranges=ranges, cidr=cidr,
                                  zero_cidr=zero)
        elif dim in ("port", "bport"):
            try:
                proto, first, last = parse_port(piece, family, dim == "port")
            except ValueError as exc:
                raise ElementError(str(exc), offset) from None
            if last is not None and last < first:
                first, last = last, first
            part = PortPart(proto, first, last)
        elif dim == "mac":
            try:
                value = parse_mac(piece)
            except ValueError as exc:
                raise ElementError(str(exc), offset) from None
            if value == 0 and settype.is_hash:
                raise ElementError("Null-valued element, cannot be stored in a hash type "
                                   "of set", offset)
            part = MacPart(value)
        elif dim == "iface":
            physdev = piece.startswith("physdev:")
            name = piece[8:] if physdev else piece
            if len(name) > MAX_IFNAME:
                raise ElementError(f"interface name '{name}' is longer than {MAX_IFNAME} "
                                   "characters", offset)
            part = IfacePart(name, physdev)
        elif dim == "mark":
            try:
                part = MarkPart(c_number(piece, 0, _U32))
            except ValueError as exc:
                raise ElementError(str(exc), offset) from None
        else:  # pragma: no cover - "set" handled above
            raise AssertionError(dim)
        parts.append(part)
        offset += len(piece) + 1
    return tuple(parts)


def _format_address(part: IpPart, family: str) -> str:
    text = format_ip(part.value, family)
    if part.last is not None:
        return f"{text}-{format_ip(part.last, family)}"
    if part.cidr != host_bits(family):
        return f"{text}/{part.cidr}"
    return text


def format_element(settype: SetType, family: str, parts: Sequence[Part]) -> str:
    out = []
    for part in parts:
        if isinstance(part, IpPart):
            out.append(_format_address(part, family))
        elif isinstance(part, PortPart):
            text = format_port(part.proto, part.port)
            out.append(text if part.last is None else f"{text}-{part.last}")
        elif isinstance(part, MacPart):
            out.append(format_mac(part.value))
        elif isinstance(part, IfacePart):
            out.append(f"physdev:{part.name}" if part.physdev else part.name)
        elif isinstance(part, MarkPart):
            out.append(f"0x{part.value:08x}")
        else:
            out.append(part.name)
    return ",".join(out)


# --- entry options -----------------------------------------------------------------------

def _hex_pair(text: str, sep: str, what: str, example: str) -> tuple[int, int]:
    """skbmark `0xMARK[/0xMASK]` and skbprio `MAJOR:MINOR` (hex, as ipset's sscanf reads)."""
    first, found, second = text.partition(sep)
    try:
        if what == "skbmark":
            if not first.lower().startswith("0x") or (found and
                                                      not second.lower().startswith("0x")):
                raise ValueError
            mark = int(first, 16) & _U32
            mask = int(second, 16) & _U32 if found else _U32
            return mark, mask
        if not found:
            raise ValueError
        return int(first, 16) & 0xFFFF, int(second, 16) & 0xFFFF
    except ValueError:
        raise ValueError(f"Invalid {what} format, it should be:{example} (see manpage)") from None


def parse_member(settype: SetType, header: Header, words: Sequence[Word],
                 line: int | None = None) -> tuple[Member, tuple[str, str] | None]:
    """An entry from its words (element first). Returns the member and, for list:set, the
    (before|after, setname) position request."""
    parts = parse_element(settype, header.family or "inet", words[0], words[0].column)
    fields: dict[str, object] = {}
    position: tuple[str, str] | None = None
    i = 1
    while i < len(words):
        word = words[i]
        key = word.lstrip("-") if len(word) > 1 else word
        arg = words[i + 1] if i + 1 < len(words) else None
        if (key in fields and key not in _ENTRY_FLAGS) or (
                key in ("before", "after") and position is not None):
            # ipset refuses an option given twice, but not a flag (`nomatch nomatch`)
            raise ElementError(f"{key} already specified", word.column)
        if key in _ENTRY_FLAGS and _ENTRY_FLAGS[key](settype):
            fields[key] = True
            i += 1
            continue
        if key not in _ENTRY_VALUES or (key in ("before", "after")
                                        and settype.name != "list:set"):
            raise ElementError(f"Unknown argument: `{word}'", word.column)
        if arg is None:
            raise ElementError(f"Missing mandatory argument of option `{key}'",
                               word.column + len(word))
        try:
            if key == "comment" and len(arg) > MAX_COMMENT:
                raise ValueError(f"Comment is longer than the maximum allowed {MAX_COMMENT} "
                                 "characters")
            value = _ENTRY_VALUES[key](arg)
        except ValueError as exc:
            raise ElementError(f"{key}: {exc}", arg.column) from None
        needs = _ENTRY_NEEDS.get(key)
        held = getattr(header, needs[0]) if needs is not None else True
        if needs is not None and (held is None or held is False):
            raise ElementError(f"{needs[1]} cannot be used: set was created without "
                               f"{needs[2]} support", word.column)
        if key in ("before", "after"):
            position = (key, str(arg))
        else:
            fields[key] = value
        i += 2
    options = EntryOptions(**fields) if fields else NO_OPTIONS  # type: ignore[arg-type]
    return Member(parts, options, line), position


_ENTRY_FLAGS: dict[str, Callable[[SetType], bool]] = {
    "nomatch": lambda t: t.nomatch,
    "wildcard": lambda t: t.name == "hash:net,iface",
}
_ENTRY_VALUES: dict[str, Callable[[str], object]] = {
    "timeout": lambda a: c_number(a, 0, MAX_TIMEOUT),
    "packets": lambda a: c_number(a, 0, _U64_MAX),
    "bytes": lambda a: c_number(a, 0, _U64_MAX),
    "comment": str,
    "skbmark": lambda a: _hex_pair(a, "/", "skbmark", "  MARK/MASK or MARK"),
    "skbprio": lambda a: _hex_pair(a, ":", "skbprio", "MAJOR:MINOR"),
    "skbqueue": lambda a: c_number(a, 0, 65535),
    "before": str,
    "after": str,
}
#: header field an entry option needs, and the words of ipset's complaint
_ENTRY_NEEDS = {
    "timeout": ("timeout", "Timeout", "timeout"),
    "packets": ("counters", "Packet/byte counters", "counter"),
    "bytes": ("counters", "Packet/byte counters", "counter"),
    "comment": ("comment", "Comment", "comment"),
    "skbmark": ("skbinfo", "Skbinfo mapping", "skbinfo"),
    "skbprio": ("skbinfo", "Skbinfo mapping", "skbinfo"),
    "skbqueue": ("skbinfo", "Skbinfo mapping", "skbinfo"),
}


def format_member(settype: SetType, family: str, member: Member) -> str:
    element = format_element(settype, family, member.parts)
    if member.options is NO_OPTIONS:
        return element
    out = [element]
    if member.timeout is not None:
        out.append(f"timeout {member.timeout}")
    if member.nomatch:
        out.append("nomatch")
    if member.wildcard:
        out.append("wildcard")
    if member.packets is not None:
        out.append(f"packets {member.packets}")
    if member.bytes is not None:
        out.append(f"bytes {member.bytes}")
    if member.comment is not None:
        out.append(f'comment "{member.comment}"')
    if member.skbmark is not None:
        mark, mask = member.skbmark
        out.append(f"skbmark 0x{mark:x}" if mask == _U32 else f"skbmark 0x{mark:x}/0x{mask:x}")
    if member.skbprio is not None:
        out.append(f"skbprio {member.skbprio[0]:x}:{member.skbprio[1]:x}")
    if member.skbqueue is not None:
        out.append(f"skbqueue {member.skbqueue}")
    return " ".join(out)


# --- create options ----------------------------------------------------------------------

_FLAGS = ("counters", "comment", "forceadd", "skbinfo")
_FAMILIES = {"inet": "inet", "ipv4": "inet", "inet6": "inet6", "ipv6": "inet6"}
_IGNORED = ("probes", "resize")


def _range(settype: SetType, text: str) -> tuple[int, int]:
    if settype.name == "bitmap:port":
        _proto, first, last = parse_port(text, "inet", False)
        if last is None:
            raise ValueError("Mandatory option `to' is missing")
        return (first, last) if first <= last else (last, first)
    part = _address(text, "inet", 0, ranges=True, cidr=True)
    if part.last is not None:
        return part.value, part.last
    if part.cidr == 32:
        raise ValueError(f"IP/cidr or IP-IP range must be specified: {text}")
    return part.value, part.value | (_U32 >> part.cidr)


def parse_header(settype: SetType, words: Sequence[Word],
                 notes: list[tuple[str, int]] | None = None) -> Header:
    """Create options (after the type name), checked as ipset checks them. Options ipset
    ignores with a warning (probes, resize) are appended to `notes`."""
    fields: dict[str, object] = {}
    old_from: int | None = None
    old_to: int | None = None
    i = 0
    allowed = set(settype.options)
    while i < len(words):
        word = words[i]
        key = word.lstrip("-") if word.startswith("-") else word
        if word in ("-4", "-6"):
            key, arg_text = "family", "inet" if word == "-4" else "inet6"
            step = 1
        else:
            arg_text = ""
            step = 2
        if key in fields and key not in _FLAGS:  # a flag may be repeated (`counters counters`)
            raise ElementError(f"{key} already specified", word.column)
        known = key in allowed or key == "timeout" or (key in _IGNORED and settype.is_hash) \
            or (key in ("from", "to", "network") and settype.is_bitmap)
        if not known:
            raise ElementError(f"Unknown argument: `{word}'", word.column)
        takes_value = key not in _FLAGS
        if takes_value and step == 2:
            if i + 1 >= len(words):
                raise ElementError(f"Missing mandatory argument of option `{key}'",
                                   word.column + len(word))
            arg_text = words[i + 1]
        arg_column = words[i + 1].column if step == 2 and i + 1 < len(words) else word.column
        try:
            if key in _FLAGS and key in allowed:
                fields[key] = True
                step = 1
            elif key in _IGNORED and settype.is_hash:
                if notes is not None:
                    notes.append((f"Option '--{key} {arg_text}' is ignored. Please upgrade "
                                  "your syntax.", word.column))
            elif key == "family" and "family" in allowed:
                family = _FAMILIES.get(arg_text)
                if family is None:
                    raise ValueError(f"unknown family '{arg_text}'")
                fields[key] = family
            elif key in ("hashsize", "maxelem", "initval", "markmask") and key in allowed:
                fields[key] = c_number(arg_text, 0, _U32)
            elif key == "bucketsize" and key in allowed:
                fields[key] = c_number(arg_text, 0, 255)
            elif key == "size" and key in allowed:
                fields[key] = c_number(arg_text, 0, _U32)
            elif key == "timeout":
                fields[key] = c_number(arg_text, 0, MAX_TIMEOUT)
            elif key == "netmask" and key in allowed:
                fields[key] = c_number(arg_text, 0, 128)
            elif key == "bitmask" and key in allowed:
                fields[key] = arg_text  # resolved once the family is known
            elif key == "range" and key in allowed:
                fields[key] = _range(settype, arg_text)
            elif key in ("from", "to", "network") and settype.is_bitmap:
                if key == "network":
                    fields["range"] = _range(settype, arg_text)
                elif settype.name == "bitmap:port":
                    value = c_number(arg_text, 0, 65535)
                    old_from, old_to = (value, old_to) if key == "from" else (old_from, value)
                else:
                    value = parse_ip(arg_text, "inet")
                    old_from, old_to = (value, old_to) if key == "from" else (old_from, value)
                fields[key] = True
            else:
                raise ElementError(f"Unknown argument: `{word}'", word.column)
        except ElementError:
            raise
        except ValueError as exc:
            message = str(exc)
            raise ElementError(message if key in ("range", "network", "bitmask")
                               else f"{key}: {message}", arg_column) from None
        i += step
    for key in ("from", "to", "network"):
        fields.pop(key, None)
    if old_from is not None or old_to is not None:
        if old_from is None or old_to is None:
            missing = "from" if old_from is None else "to"
            raise ElementError(f"Mandatory option `{missing}' is missing", 1)
        fields["range"] = (min(old_from, old_to), max(old_from, old_to))
    return _check_header(settype, fields, words)


def _column_of(words: Sequence[Word], key: str) -> int:
    for i, w in enumerate(words):
        if w.lstrip("-") == key:
            return words[i + 1].column if i + 1 < len(words) else w.column
    return 1


def _check_header(settype: SetType, fields: dict[str, object],
                  words: Sequence[Word]) -> Header:
    family = str(fields.get("family") or "inet")
    bits = host_bits(family)
    netmask = fields.get("netmask")
    if isinstance(netmask, int):
        limit = 32 if settype.is_bitmap else bits
        if not 1 <= netmask <= limit:
            raise ElementError(f"netmask is out of the inclusive range of 1-{limit}",
                               _column_of(words, "netmask"))
    bitmask = fields.get("bitmask")
    if isinstance(bitmask, str):
        if netmask is not None:
            raise ElementError("bitmask and netmask are mutually exclusive, provide only one",
                               _column_of(words, "bitmask"))
        try:
            fields["bitmask"] = parse_ip(bitmask, family)
        except ValueError as exc:
            raise ElementError(str(exc), _column_of(words, "bitmask")) from None
    markmask = fields.get("markmask")
    if markmask == 0:
        raise ElementError("markmask must be between 1 and 4294967295",
                           _column_of(words, "markmask"))
    if settype.is_bitmap:
        span = fields.get("range")
        if span is None:
            raise ElementError("Mandatory option `range' is missing", 1)
        assert isinstance(span, tuple)
        limit = 65536
        first, last = span
        if settype.name == "bitmap:ip" and isinstance(netmask, int) and netmask != 32:
            mask = prefix_mask(netmask, 32)
            first, last = first & mask, last | (_U32 ^ mask)
            fields["range"] = (first, last)
            block = (last - first + 1)
            aligned = block & (block - 1) == 0 and first % block == 0
            block_bits = 32 - (block.bit_length() - 1)
            if not aligned or netmask <= block_bits:
                raise ElementError("The range you specified exceeds the size limit of the "
                                   "set type", _column_of(words, "range"))
            count = 1 << (netmask - block_bits)
        else:
            count = last - first + 1
        if count > limit:
            raise ElementError("The range you specified exceeds the size limit of the set "
                               "type", _column_of(words, "range"))
    return Header(**fields)  # type: ignore[arg-type]


def format_header(settype: SetType, header: Header) -> str:
    """The create options as `ipset save` prints them after the type name (no leading
    space; empty when there are none)."""
    out: list[str] = []
    family = header.family or "inet"
    for key in settype.options:
        value = getattr(header, key)
        if value is None or value is False:
            continue
        if key == "range":
            first, last = value
            if settype.name == "bitmap:port":
                out.append(f"range {first}-{last}")
            else:
                out.append(f"range {format_ip(first, 'inet')}-{format_ip(last, 'inet')}")
        elif key in ("markmask", "initval"):
            out.append(f"{key} 0x{value:08x}")
        elif key == "bitmask":
            out.append(f"bitmask {format_ip(value, family)}")
        elif value is True:
            out.append(key)
        else:
            out.append(f"{key} {value}")
    return " ".join(out)
