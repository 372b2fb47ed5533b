"""CT, NOTRACK and TRACE (libxt_CT, libxt_NOTRACK, libxt_TRACE): raw-table targets.

CT attaches a conntrack template (no tracking, a helper, a timeout policy, event masks, a
zone). `-j NOTRACK` is the kernel's CT with --notrack under another name and iptables-save keeps
printing it as NOTRACK. TRACE marks the packet for the kernel's rule-by-rule trace log.

Zones: `--zone-orig` and `--zone-reply` set direction bits that accumulate; both bits print as
plain `--zone`, and zone 0 (the default zone) is not printed at all.

Semantics (xt_CT.c): a packet that already carries conntrack state (an earlier CT or NOTRACK in
raw) is left alone. Otherwise --notrack (and NOTRACK) makes it UNTRACKED, so conntrack skips it;
any other CT attaches a template, which the raw table's state matches already see as NEW (the
kernel shows this: `-m state --state NEW` matches after `-j CT --zone 1`) and whose zone
(`ctzone`; with `--zone mark` the low 16 bits of the mark as they are now) conntrack uses.
Helper, timeout policy and event masks act on the new connection only and show in the note.
iptparse does not follow CONNMARK on a template (the kernel changes the template's own mark,
shared by every packet of the rule, and never the connection's).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import IntSet, ValueSet
from ..nodes import ExtOptions
from ..semantics import Change, CompileContext, Effect, SetFrom, SetValue
from ._a_sem import CT_TOP, INVALID, NEW, UNTRACKED, states
from ._cnum import xt_uint
from ._d_sem import BitCube
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
from .log import c_string

__all__ = ["CT_EVENTS", "EXP_EVENTS", "CtTarget", "NotrackTarget", "TraceTarget", "ZoneDir"]

#: Conntrack event names in kernel bit order (IPCT_*), as iptables prints them.
CT_EVENTS = ("new", "related", "destroy", "reply", "assured", "protoinfo", "helper", "mark",
             "natseqinfo", "secmark")
EXP_EVENTS = ("new",)


class ZoneDir(enum.Enum):
    BOTH = ""
    ORIG = "-orig"
    REPLY = "-reply"


@dataclass(frozen=True, slots=True)
class CtTarget(ExtOptions):
    """xt_ct_target_info_v1. `zone_mark`: the zone is taken from the packet mark."""

    notrack: bool = False
    helper: str = ""
    timeout: str = ""
    ct_events: frozenset[str] = frozenset()
    exp_events: frozenset[str] = frozenset()
    zone: int = 0
    zone_mark: bool = False
    zone_dir: ZoneDir = ZoneDir.BOTH


def _events(arg: OptArg, names: tuple[str, ...]) -> frozenset[str]:
    found = []
    for word in arg.value.split(","):
        if word not in names:
            raise OptionError(f"Unknown event type \"{word}\"", arg.value_column())
        found.append(word)
    return frozenset(found)


def _render_events(option: str, events: frozenset[str], names: tuple[str, ...]) -> str:
    return f" --{option} " + ",".join(name for name in names if name in events)


@register
class Ct(Extension):
    kind = "target"
    names = ("CT",)
    tables = frozenset({"raw"})
    options = (
        OptSpec("notrack", 0),
        OptSpec("helper", 1),
        OptSpec("timeout", 1),
        OptSpec("ctevents", 1),
        OptSpec("expevents", 1),
        OptSpec("zone-orig", 1),
        OptSpec("zone-reply", 1),
        OptSpec("zone", 1),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> CtTarget:
        opts = one_of(args)
        orig = reply = mark = False
        zone = 0
        for arg in args:
            if not arg.name.startswith("zone"):
                continue
            orig |= arg.name == "zone-orig"
            reply |= arg.name == "zone-reply"
            zone = 0
            if arg.value.lower() == "mark":
                mark = True
            else:
                value = xt_uint(arg.value, 0, 0xFFFF)
                if value is None:
                    raise OptionError(f"Cannot parse {arg.value} as a zone ID",
                                      arg.value_column())
                zone = value
        zone_dir = ZoneDir.ORIG if orig and not reply else (
            ZoneDir.REPLY if reply and not orig else ZoneDir.BOTH)
        if mark:
            zone = 0  # the zone comes from the packet mark; the stored id is never used
        elif not zone:
            zone_dir = ZoneDir.BOTH  # the default zone: nothing to print, nothing to apply
        return CtTarget(
            "notrack" in opts,
            c_string(opts["helper"], 16) if "helper" in opts else "",
            c_string(opts["timeout"], 32) if "timeout" in opts else "",
            _events(opts["ctevents"], CT_EVENTS) if "ctevents" in opts else frozenset(),
            _events(opts["expevents"], EXP_EVENTS) if "expevents" in opts else frozenset(),
            zone, mark, zone_dir,
        )

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, CtTarget)
        out = " --notrack" if options.notrack else ""
        if options.helper:
            out += f" --helper {options.helper}"
        if options.timeout:
            out += f" --timeout {options.timeout}"
        if options.ct_events:
            out += _render_events("ctevents", options.ct_events, CT_EVENTS)
        if options.exp_events:
            out += _render_events("expevents", options.exp_events, EXP_EVENTS)
        if options.zone_mark or options.zone:
            value = "mark" if options.zone_mark else str(options.zone)
            out += f" --zone{options.zone_dir.value} {value}"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, CtTarget)
        if options.helper and not options.notrack and (
                ctx.protocol is None or ctx.protocol_invert):
            return "--helper needs a layer-4 protocol: `-p tcp' or `-p udp' (not negated)"
        return None

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, CtTarget)
        if options.notrack:
            return untrack("CT --notrack")
        changes: list[Change] = [SetValue("ctstate", IntSet.single(NEW, CT_TOP),
                                          "conntrack template (state NEW until conntrack)")]
        notes = ["attach a conntrack template"]
        if options.zone_mark:
            changes.append(SetFrom("ctzone", ("mark",), _zone_from_mark))
            notes.append("zone from the mark")
        elif options.zone:
            changes.append(SetValue("ctzone", IntSet.single(options.zone, 0xFFFF)))
            notes.append(f"zone {options.zone}")
        if options.zone_dir is not ZoneDir.BOTH and (options.zone or options.zone_mark):
            notes[-1] += f" ({options.zone_dir.value[1:]} direction only)"
        for label, value in (("helper", options.helper), ("timeout policy", options.timeout)):
            if value:
                notes.append(f"{label} {value} for a new connection")
        for label, events in (("events", options.ct_events), ("expectation events",
                                                              options.exp_events)):
            if events:
                notes.append(f"{label} {','.join(sorted(events))}")
        return _unless_tracked(Effect(changes=tuple(changes), note=", ".join(notes)))


@dataclass(frozen=True, slots=True)
class NotrackTarget(ExtOptions):
    """`-j NOTRACK`: the kernel's CT --notrack, printed under its own name."""


@register
class Notrack(Extension):
    kind = "target"
    names = ("NOTRACK",)
    tables = frozenset({"raw"})

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> NotrackTarget:
        return NotrackTarget()

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        return ""

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        return untrack("NOTRACK")


@dataclass(frozen=True, slots=True)
class TraceTarget(ExtOptions):
    """`-j TRACE`: log every rule the packet traverses from here on."""


@register
class Trace(Extension):
    kind = "target"
    names = ("TRACE",)
    tables = frozenset({"raw"})

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> TraceTarget:
        return TraceTarget()

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        return ""

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        return Effect(note="TRACE: the kernel logs every rule the packet meets from here on")


def _zone_from_mark(values: tuple[ValueSet, ...]) -> ValueSet:
    """nf_ct_zone_tmpl(): the zone is the mark cut to 16 bits."""
    low = BitCube.of(values[0]).and_(0xFFFF)
    if low.mask & 0xFFFF == 0xFFFF:
        return IntSet.single(low.value, 0xFFFF)
    return IntSet.all(0xFFFF)


def _unless_tracked(effect: Effect) -> Effect:
    """xt_ct_target(): a packet already carrying conntrack state is left alone."""
    return Effect(effect.verdict, effect.changes, effect.note, when=states(
        INVALID, text="no conntrack state is attached yet",
        neg_text="conntrack state is already attached (an earlier CT / NOTRACK)"),
        otherwise=Effect(note="the packet already carries conntrack state: nothing to do"))


def untrack(name: str) -> Effect:
    return _unless_tracked(Effect(
        changes=(SetValue("ctstate", IntSet.single(UNTRACKED, CT_TOP), "untracked"),),
        note=f"{name}: conntrack will not track the packet"))
