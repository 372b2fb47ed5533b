"""recent match (libxt_recent revision 1): lists of recently seen addresses.

A rule runs one command on its list (`--set`, `--rcheck`, `--update`, `--remove`) for the
packet's source or destination address under `--mask`. iptables-save prints the name and the
mask raw (no quoting). Releases before the mask existed printed `--name N --rsource` without
`--mask`; input in exactly that old save shape keeps it when printed back.

Semantics (xt_recent): `--set` always matches (it adds or refreshes the address), so `! --set`
never does. The other commands match when the address is in the list — `--rcheck`/`--update`
also need enough recent sightings (`--seconds`, `--hitcount`, `--rttl`) — which no dump shows:
an assumption of kind `recent` (holds = the address is in the list with the sightings asked;
`!` takes the other side). What a command does to the list (set, update, remove) changes no
answer on the current path: a later rule of the same path that checks the same list is still
its own assumption, and so is the same rule at its next visit (`Assume.per_visit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..addresses import format_ip
from ..logic import FALSE, TRUE, Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._a_text import truncate
from ._cnum import U32
from ._inet import numeric_host
from ._xtopt import also, excl, once, xt_uint_arg
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

__all__ = ["RecentMatch"]

Command = Literal["set", "rcheck", "update", "remove"]
COMMANDS: tuple[Command, ...] = ("set", "rcheck", "update", "remove")
NAME_SIZE = 200
MAX_HITCOUNT = 65535


@dataclass(frozen=True, slots=True)
class RecentMatch(ExtOptions):
    """One recent-list command; `seconds`/`hitcount` 0 mean the test is not made."""

    command: Command
    family: Family
    mask: int
    invert: bool = False
    name: str = "DEFAULT"
    seconds: int = 0
    reap: bool = False
    hitcount: int = 0
    rttl: bool = False
    rdest: bool = False
    #: Printed without --mask, as iptables-save did before the option existed.
    legacy_no_mask: bool = field(default=False, compare=False)


def _legacy_shape(args: Sequence[OptArg]) -> bool:
    """Options in an old iptables-save's exact order: command, tests, --name, side, no mask."""
    order = ["command", "seconds", "reap", "hitcount", "rttl", "name", "side"]
    kinds = ["command" if a.name in COMMANDS else
             "side" if a.name in ("rsource", "rdest") else a.name for a in args]
    if "mask" in kinds or "name" not in kinds or kinds[-1] != "side":
        return False
    positions = [order.index(k) for k in kinds]
    return positions == sorted(positions) and len(set(kinds)) == len(kinds)


@register
class Recent(Extension):
    """Assumption kind `recent` (not for --set): holds = the address is in the list with the
    sightings asked, before `!`."""

    names = ("recent",)
    options = (
        *(OptSpec(command, 0, True) for command in COMMANDS),
        OptSpec("seconds", 1),
        OptSpec("reap", 0),
        OptSpec("hitcount", 1),
        OptSpec("rttl", 0),
        OptSpec("name", 1),
        OptSpec("rsource", 0),
        OptSpec("rdest", 0),
        OptSpec("mask", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RecentMatch:
        opts = once(args)
        excl(opts, *COMMANDS)
        excl(opts, "rttl", "set")
        excl(opts, "rttl", "remove")
        also(opts, "reap", "seconds")
        commands = [c for c in COMMANDS if c in opts]
        if not commands:
            raise OptionError("you must specify one of `--set', `--rcheck' `--update' or "
                              "`--remove'")
        command = commands[0]
        mask = (1 << ctx.family.bits) - 1
        if "mask" in opts:
            arg = opts["mask"]
            value = numeric_host(arg.value, ctx.family)
            if value is None:
                raise OptionError(f"`{arg.value}' is not a numeric address (host names are "
                                  "not resolved)", arg.value_column())
            mask = value
        sides = [a.name for a in args if a.name in ("rsource", "rdest")]
        return RecentMatch(
            command=command,
            family=ctx.family,
            mask=mask,
            invert=opts[command].invert,
            name=truncate(opts["name"].value, NAME_SIZE) if "name" in opts else "DEFAULT",
            seconds=xt_uint_arg(opts["seconds"], 1, U32) if "seconds" in opts else 0,
            reap="reap" in opts,
            hitcount=xt_uint_arg(opts["hitcount"], 0, U32) if "hitcount" in opts else 0,
            rttl="rttl" in opts,
            rdest=bool(sides) and sides[-1] == "rdest",
            legacy_no_mask=_legacy_shape(args),
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RecentMatch)
        o = options
        out = [f"{' !' if o.invert else ''} --{o.command}"]
        if o.seconds:
            seconds = o.seconds - (1 << 32) if o.seconds >= 1 << 31 else o.seconds
            out.append(f" --seconds {seconds}")
        if o.reap:
            out.append(" --reap")
        if o.hitcount:
            out.append(f" --hitcount {o.hitcount}")
        if o.rttl:
            out.append(" --rttl")
        out.append(f" --name {o.name}")
        if not (o.legacy_no_mask and o.mask == (1 << o.family.bits) - 1):
            out.append(f" --mask {format_ip(o.mask, o.family)}")
        out.append(" --rdest" if o.rdest else " --rsource")
        return "".join(out)

    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, RecentMatch)
        o = options
        if o.command == "set":
            return FALSE if o.invert else TRUE
        full = (1 << o.family.bits) - 1
        side = "dst" if o.rdest else "src"
        if o.mask != full:
            side += f" & {format_ip(o.mask, o.family)}"
        seen = []
        if o.command != "remove":
            if o.hitcount:
                seen.append(f"seen at least {o.hitcount} time{'s' if o.hitcount != 1 else ''}")
            if o.seconds:
                seen.append(f"in the last {o.seconds} s")
            if o.rttl:
                seen.append("with this TTL")
        detail = f" ({' '.join(seen)})" if seen else ""
        listed = ctx.assume("recent", f"{side} is in recent list {o.name}{detail}",
                            f"{side} is not in recent list {o.name}{detail}", per_visit=True)
        return invert_if(o.invert, listed)

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        """What xt_recent's checkentry refuses."""
        assert isinstance(options, RecentMatch)
        if options.hitcount > MAX_HITCOUNT:
            return f"--hitcount must be at most {MAX_HITCOUNT}"
        if not options.name or options.name in (".", "..") or "/" in options.name:
            return f"the kernel refuses the list name `{options.name}'"
        return None
