"""limit and hashlimit matches (libxt_limit, libxt_hashlimit revision 3): token buckets.

Both keep what the kernel keeps — the average as a period (1/10000 s per packet for limit,
1/1000000 s for hashlimit), or a per-byte cost in hashlimit's byte mode — and print it back as
the nearest `N/unit` iptables finds, so `9999/sec` reads back as `10000/sec` exactly as
iptables-save shows. The kernel's own overflow refusals (computed in 32/64-bit arithmetic that
wraps) are reproduced for a kernel built with HZ=250 or 1000, which give identical results.

Semantics: whether a token bucket has a token left depends on the traffic before this packet,
which no dump shows, so both are assumptions. Kind `limit`: holds = the rule's bucket is under
its rate (the rule matches). Kind `hashlimit`: holds = the packet's bucket (per --hashlimit-mode
group) is under the rate; `--hashlimit-upto` matches when it holds, `--hashlimit-above` when it
does not (with --hashlimit-rate-match: the measured rate is within the given rate).
Each evaluation takes a token, so a rule the path meets twice is assumed anew at each visit
(`Assume.per_visit`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._a_text import truncate
from ._cnum import U32, U64, c_atoi, xt_strtoul
from ._inet import NON_CIDR, parse_plen
from ._xtopt import excl, need, once, xt_uint_arg
from .base import (
    ExtContext,
    Extension,
    OptArg,
    OptionError,
    OptSpec,
    RenderContext,
    RuleContext,
    register,
)

__all__ = ["HashMode", "HashlimitMatch", "LimitMatch"]

LIMIT_SCALE = 10_000
HASHLIMIT_SCALE = 1_000_000
_UNITS = (("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400))
_PRINT_UNITS = (("day", 86400), ("hour", 3600), ("min", 60), ("sec", 1))

# HZ * CREDITS_PER_JIFFY of the kernel's token buckets: the same for HZ=250 and HZ=1000.
_LIMIT_HZ_CPJ = 32_000
_HASHLIMIT_HZ_CPJ = 137_438_953_472_000
_HASHLIMIT_HZ_CPJ_BYTES = 4_194_304_000
_BYTE_SHIFT = 4


def _unit(text: str) -> int | None:
    """Seconds of a `/unit` suffix: any case-insensitive prefix of second/minute/hour/day."""
    if not text:
        return None
    lower = text.lower()
    for name, seconds in _UNITS:
        if name.startswith(lower):
            return seconds
    return None


def _rate_period(text: str, scale: int, bits: int) -> tuple[int, int] | None:
    """(period, seconds per unit) of `N[/unit]`; None when unreadable, 0 when too fast.

    N is read with atoi/atoll (leading digits; `3x` is 3) and wraps like C's unsigned types.
    """
    number, slash, unit_text = text.partition("/")
    seconds = 1
    if slash:
        unit = _unit(unit_text)
        if unit is None:
            return None
        seconds = unit
    count = c_atoi(number, bits)
    count &= (1 << bits) - 1
    if count == 0:
        return None
    return (scale * seconds) // count, seconds


def format_period(period: int, scale: int) -> str:
    """The `N/unit` iptables prints for a period (its print_rate)."""
    if period == 0:
        return "inf"
    units = [(name, scale * seconds) for name, seconds in _PRINT_UNITS]
    chosen = len(units)
    for index in range(1, len(units)):
        mult = units[index][1]
        if period > mult or mult // period < mult % period:
            chosen = index
            break
    name, mult = units[chosen - 1]
    return f"{mult // period}/{name}"


def _quantum(period: int, scale: int) -> int:
    """Milliseconds of the unit format_period picks (hashlimit's default htable-expire)."""
    if period == 0:
        return 0
    unit = format_period(period, scale).rpartition("/")[2]
    return dict(_PRINT_UNITS)[unit] * 1000


@dataclass(frozen=True, slots=True)
class LimitMatch(ExtOptions):
    """`--limit N/unit --limit-burst B`: `avg` is the period in 1/10000 s per packet."""

    avg: int
    burst: int = 5


def _user2credits32(user: int) -> int:
    user &= U32
    if user > U32 // _LIMIT_HZ_CPJ:
        return ((user // LIMIT_SCALE) * _LIMIT_HZ_CPJ) & U32
    return (user * _LIMIT_HZ_CPJ) // LIMIT_SCALE


@register
class Limit(Extension):
    """Assumption kind `limit`: holds = the rule's token bucket is under its rate (it matches)."""

    names = ("limit",)
    options = (OptSpec("limit", 1), OptSpec("limit-burst", 1))

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> LimitMatch:
        opts = once(args)
        avg = (LIMIT_SCALE * 3600) // 3
        if "limit" in opts:
            arg = opts["limit"]
            got = _rate_period(arg.value, LIMIT_SCALE, 32)
            if got is None:
                raise OptionError(f'bad rate "{arg.value}"', arg.value_column())
            avg = got[0]
            if avg == 0:
                raise OptionError(f'Rate too fast "{arg.value}"', arg.value_column())
        burst = xt_uint_arg(opts["limit-burst"], 0, 10000) if "limit-burst" in opts else 5
        return LimitMatch(avg, burst)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, LimitMatch)
        out = f" --limit {format_period(options.avg, LIMIT_SCALE)}"
        if options.burst != 5:
            out += f" --limit-burst {options.burst}"
        return out

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, LimitMatch)
        rate = f"limit {format_period(options.avg, LIMIT_SCALE)} (burst {options.burst})"
        return ctx.assume("limit", f"{rate} not exceeded", f"{rate} exceeded", per_visit=True)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, LimitMatch)
        if options.burst == 0 or _user2credits32(options.avg * options.burst) < \
                _user2credits32(options.avg):
            return (f"the kernel refuses rate {format_period(options.avg, LIMIT_SCALE)} with "
                    f"burst {options.burst} (its credit counter would overflow)")
        return None


class HashMode(enum.Flag):
    """What hashlimit groups packets by (XT_HASHLIMIT_HASH_*); empty: one bucket for all."""

    DSTIP = 1
    DSTPORT = 2
    SRCIP = 4
    SRCPORT = 8


NO_HASH = HashMode(0)

_MODE_NAMES = {"dstip": HashMode.DSTIP, "dstport": HashMode.DSTPORT,
               "srcip": HashMode.SRCIP, "srcport": HashMode.SRCPORT}
_MODE_PRINT = (("srcip", HashMode.SRCIP), ("srcport", HashMode.SRCPORT),
               ("dstip", HashMode.DSTIP), ("dstport", HashMode.DSTPORT))


@dataclass(frozen=True, slots=True)
class HashlimitMatch(ExtOptions):
    """hashlimit's configuration as the kernel holds it (struct hashlimit_cfg3).

    Packet mode: `avg` is the period in 1/1000000 s per packet and `burst` a packet count.
    Byte mode (`bytes`): `avg` is the cost of 16 bytes and `burst` a multiple of the rate.
    `invert` is --hashlimit-above; `expire` and `gc_interval` are milliseconds.
    """

    name: str
    avg: int
    burst: int
    mode: HashMode = NO_HASH
    invert: bool = False
    bytes: bool = False
    rate_match: bool = False
    size: int = 0
    max: int = 0
    gc_interval: int = 1000
    expire: int = 0
    srcmask: int = 32
    dstmask: int = 32
    interval: int = 0


def _cost_to_bytes(cost: int) -> int:
    r = U32 // cost if cost else U32
    return ((r - 1) << _BYTE_SHIFT) & U64


def _bytes_to_cost(count: int) -> int:
    r = (count >> _BYTE_SHIFT) & U32
    return U32 // ((r + 1) & U32) if (r + 1) & U32 else 0


def _factor(char: str) -> int:
    return {"m": 1024 * 1024, "k": 1024}.get(char, 1)


def _parse_bytes(text: str) -> int | None:
    """`N[k|m]b/s` as a per-16-byte cost; None when the text is not a byte rate."""
    at = text.find("b/s")
    if at <= 0:
        return None
    count = c_atoi(text, 64) & U64
    if count == 0:
        return None
    total = count * _factor(text[at - 1])
    if total > U64:
        raise OptionError(f'Rate value too large "{total}" (max {U64})')
    cost = _bytes_to_cost(total)
    if cost == 0:
        raise OptionError(f'Rate too high "{text}"')
    return cost


def _parse_burst(arg: OptArg) -> int:
    got = xt_strtoul(arg.value, 1, U64, whole=False)
    bad = 'bad value for option "--hashlimit-burst", or out of range (1-1000000)'
    if got is None:
        raise OptionError(bad, arg.value_column())
    value, end = got.value, got.end
    if end == len(arg.value) and value > 1_000_000:
        raise OptionError(bad, arg.value_column())
    return (value * _factor(arg.value[end : end + 1])) & U64


def _plen(arg: OptArg, family: Family) -> int:
    plen = parse_plen(arg.value, family)
    if plen is None:
        raise OptionError(f'bad value for option "--{arg.name}", neither a valid network mask '
                          f"nor valid CIDR (0-{family.bits})", arg.value_column())
    return plen


def _user2credits64(user: int) -> int:
    return ((user & U64) * (_HASHLIMIT_HZ_CPJ // HASHLIMIT_SCALE)) & U64


@register
class Hashlimit(Extension):
    """Assumption kind `hashlimit`: holds = the packet's bucket is under the rate
    (`--hashlimit-upto` matches when it holds, `--hashlimit-above` when it does not)."""

    names = ("hashlimit",)
    options = (
        OptSpec("hashlimit-upto", 1, True, ("hashlimit",)),
        OptSpec("hashlimit-above", 1, True),
        OptSpec("hashlimit-srcmask", 1),
        OptSpec("hashlimit-dstmask", 1),
        OptSpec("hashlimit-burst", 1),
        OptSpec("hashlimit-htable-size", 1),
        OptSpec("hashlimit-htable-max", 1),
        OptSpec("hashlimit-htable-gcinterval", 1),
        OptSpec("hashlimit-htable-expire", 1),
        OptSpec("hashlimit-mode", 1),
        OptSpec("hashlimit-name", 1),
        OptSpec("hashlimit-rate-match", 0),
        OptSpec("hashlimit-rate-interval", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> HashlimitMatch:
        opts = once(args)
        excl(opts, "hashlimit-upto", "hashlimit-above")
        bits = ctx.family.bits
        fields: dict[str, object] = {"srcmask": bits, "dstmask": bits}
        seconds = 1
        rate_arg = opts.get("hashlimit-upto") or opts.get("hashlimit-above")
        if rate_arg is None:
            raise OptionError("You have to specify --hashlimit")
        fields["invert"] = rate_arg.invert != (rate_arg.name == "hashlimit-above")
        try:
            cost = _parse_bytes(rate_arg.value)
        except OptionError as exc:
            raise OptionError(exc.message, rate_arg.value_column()) from None
        if cost is not None:
            fields["bytes"], fields["avg"], seconds = True, cost, 15
        else:
            got = _rate_period(rate_arg.value, HASHLIMIT_SCALE, 64)
            if got is None:
                raise OptionError(f'Bad value for "--{rate_arg.name}" option: '
                                  f'"{rate_arg.value}"', rate_arg.value_column())
            if got[0] == 0:
                raise OptionError(f'Rate too fast "{rate_arg.value}"', rate_arg.value_column())
            fields["avg"], seconds = got
        for option, key in (("hashlimit-htable-size", "size"), ("hashlimit-htable-max", "max"),
                            ("hashlimit-htable-gcinterval", "gc_interval"),
                            ("hashlimit-htable-expire", "expire")):
            if option in opts:
                fields[key] = xt_uint_arg(opts[option], 0, U32)
        for option, key in (("hashlimit-srcmask", "srcmask"), ("hashlimit-dstmask", "dstmask")):
            if option in opts:
                fields[key] = _plen(opts[option], ctx.family)
        if "hashlimit-mode" in opts:
            fields["mode"] = _parse_mode(opts["hashlimit-mode"])
        if "hashlimit-rate-interval" in opts:
            arg = opts["hashlimit-rate-interval"]
            interval = c_atoi(arg.value)
            if interval <= 0:
                raise OptionError(f'Bad value for "--hashlimit-rate-interval" option: '
                                  f'"{arg.value}"', arg.value_column())
            fields["interval"] = interval
        need(opts, "hashlimit-name")
        name_arg = opts["hashlimit-name"]
        if not name_arg.value:
            raise OptionError("Argument must have a minimum length of 1 characters",
                              name_arg.value_column())
        fields["name"] = truncate(name_arg.value, 255)
        self._finish(fields, opts, seconds)
        return HashlimitMatch(**fields)  # type: ignore[arg-type]

    @staticmethod
    def _finish(fields: dict[str, object], opts: dict[str, OptArg], seconds: int) -> None:
        """The final check of libxt_hashlimit: expiry, byte-mode burst, rate-match scaling."""
        if "expire" not in fields:
            fields["expire"] = seconds * 1000
        avg = fields["avg"]
        assert isinstance(avg, int)
        burst = _parse_burst(opts["hashlimit-burst"]) if "hashlimit-burst" in opts else 5
        if fields.get("bytes"):
            count = 0
            if "hashlimit-burst" in opts:
                unit = _cost_to_bytes(avg)
                if burst < unit:
                    raise OptionError(f"burst cannot be smaller than {unit}b",
                                      opts["hashlimit-burst"].value_column())
                count = -(-burst // unit) & U32
                if "hashlimit-htable-expire" not in opts:
                    fields["expire"] = 60 * 1000
            burst = count
        elif burst > 1_000_000:
            raise OptionError('bad value for option "--hashlimit-burst", or out of range '
                              "(1-1000000)", opts["hashlimit-burst"].value_column())
        fields["burst"] = burst
        if "hashlimit-rate-match" in opts:
            fields["rate_match"] = True
            if not fields.get("bytes"):
                fields["avg"] = avg // seconds
            if not fields.get("interval"):
                fields["interval"] = 1 if fields.get("bytes") else seconds

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, HashlimitMatch)
        o = options
        out = [" --hashlimit-above" if o.invert else " --hashlimit-upto"]
        if o.bytes:
            out.append(_format_bytes(o.avg, o.burst))
            quantum = (60 if o.burst else 15) * 1000
        else:
            out.append(f" {format_period(o.avg, HASHLIMIT_SCALE)} --hashlimit-burst {o.burst}")
            quantum = _quantum(o.avg, HASHLIMIT_SCALE)
        if o.mode:
            names = ",".join(name for name, bit in _MODE_PRINT if bit in o.mode)
            out.append(f" --hashlimit-mode {names}")
        out.append(f" --hashlimit-name {o.name}")
        if o.size:
            out.append(f" --hashlimit-htable-size {o.size}")
        if o.max:
            out.append(f" --hashlimit-htable-max {o.max}")
        if o.gc_interval != 1000:
            out.append(f" --hashlimit-htable-gcinterval {o.gc_interval}")
        if o.expire != quantum:
            out.append(f" --hashlimit-htable-expire {o.expire}")
        bits = ctx.family.bits
        if o.srcmask != bits:
            out.append(f" --hashlimit-srcmask {o.srcmask}")
        if o.dstmask != bits:
            out.append(f" --hashlimit-dstmask {o.dstmask}")
        if o.rate_match:
            out.append(" --hashlimit-rate-match")
            if o.interval != 1:
                out.append(f" --hashlimit-rate-interval {o.interval}")
        return "".join(out)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, HashlimitMatch)
        o = options
        rate = self.render(HashlimitMatch(o.name, o.avg, o.burst, bytes=o.bytes),
                           RenderContext(ctx.family)).split(" --hashlimit-name")[0]
        rate = rate.removeprefix(" --hashlimit-upto ").replace(" --hashlimit-burst ", ", burst ")
        names = ",".join(name for name, bit in _MODE_PRINT if bit in o.mode) or "all packets"
        what = "measured rate" if o.rate_match else "bucket"
        under = ctx.assume(
            "hashlimit", f"hashlimit {o.name}: the {what} of {names} is within {rate}",
            f"hashlimit {o.name}: the {what} of {names} is over {rate}", per_visit=True)
        return invert_if(o.invert, under)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        """What xt_hashlimit's checkentry refuses."""
        assert isinstance(options, HashlimitMatch)
        o = options
        if o.gc_interval == 0 or o.expire == 0:
            return "the kernel refuses a zero htable-gcinterval or htable-expire"
        bits = ctx.family.bits
        for what, plen in (("srcmask", o.srcmask), ("dstmask", o.dstmask)):
            if plen > bits:
                shown = "a mask that is not a prefix" if plen == NON_CIDR else str(plen)
                return f"--hashlimit-{what} must be 0-{bits}, not {shown}"
        if o.name in (".", "..") or "/" in o.name:
            return f"the kernel refuses the table name `{o.name}'"
        if o.rate_match:
            if o.avg == 0 or o.avg > U32:
                return "the kernel refuses this rate with --hashlimit-rate-match"
        elif o.bytes:
            if ((o.avg & U32) * _HASHLIMIT_HZ_CPJ_BYTES) >> 32 == 0:
                return "the kernel refuses this byte rate (too high)"
        elif o.burst == 0 or _user2credits64(o.avg * o.burst) < _user2credits64(o.avg):
            return (f"the kernel refuses rate {format_period(o.avg, HASHLIMIT_SCALE)} with "
                    f"burst {o.burst} (its credit counter would overflow)")
        return None


def _parse_mode(arg: OptArg) -> HashMode:
    mode = NO_HASH
    for token in arg.value.replace("|", ",").split(","):
        if not token:
            continue
        bit = _MODE_NAMES.get(token)
        if bit is None:
            raise OptionError(f'Bad value for "--hashlimit-mode" option: "{arg.value}"',
                              arg.value_column())
        mode |= bit
    return mode


def _format_bytes(cost: int, burst: int) -> str:
    """print_bytes: the byte rate in the largest unit that reads back to the same cost."""
    rate = _cost_to_bytes(cost)
    units = ((1024 * 1024, "m"), (1024, "k"), (1, ""))
    size, name = units[-1]
    for threshold, unit_name in units[:-1]:
        if rate >= threshold and _bytes_to_cost(rate & ~(threshold - 1)) == cost:
            size, name = threshold, unit_name
            break
    out = f" {rate // size}{name}b/s"
    if burst == 0:
        return out
    total = (rate * burst) & U64
    size, name = units[-1]
    for threshold, unit_name in units[:-1]:
        if total >= threshold:
            size, name = threshold, unit_name
            break
    return out + f" --hashlimit-burst {total // size}{name}b"
