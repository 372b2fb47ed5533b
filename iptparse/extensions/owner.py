"""owner match (libxt_owner, revision 1): the local socket's owner.

UIDs and GIDs are inclusive ranges. iptables first looks the word up as a user or group name
in the loading machine's passwd/group database, then reads `N`, `N-M` or `N:M` (C numbers,
so `0x10` and `010` too). A name's number depends on the machine that loads the rule, so only
`root` (0 on every system) is resolved here; any other name is refused with a message asking
for the number, which is what iptables-save prints anyway. The old revision-0 options
(--pid-owner, --sid-owner, --cmd-owner) are gone from today's iptables and kernels.

Semantics (xt_owner), on the fields `socket` (the packet has a full local socket: 0 for every
packet from the wire unless said otherwise), `socket_file` (that socket belongs to a process;
0 for the kernel's own sockets, which send its resets and ICMP errors), `uid` and `gid` (the
process's fsuid/fsgid):
- no socket: the match holds exactly when every option given is negated (so --suppl-groups,
  which cannot be, makes it fail);
- a socket and `! --socket-exists`: fails;
- a kernel socket: --socket-exists holds, a uid/gid test holds only negated;
- a process socket: the uid must be in the range (`!`: outside), the gid too, where with
  --suppl-groups a supplementary group in the range also counts. The supplementary groups are
  not a packet field: that part is the assumption `suppl-groups` ("a supplementary group of
  the socket's owner is in …"), pinned per rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet
from ..logic import FALSE, Const, Pred, Test
from ..nodes import ExtOptions
from ._checks import only_at_hooks
from ._cnum import U32, xt_strtoul
from ._pred import conj, disj, flag, invert, when
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

__all__ = ["IdRange", "OwnerMatch", "parse_id_range"]

IdRange = tuple[int, int]

#: Names whose number is the same on every system.
PORTABLE_NAMES = {"root": 0}


@dataclass(frozen=True, slots=True)
class OwnerMatch(ExtOptions):
    """UID/GID ranges (None: not tested); `socket_exists` is None, True or False (negated)."""

    uid: IdRange | None = None
    uid_invert: bool = False
    gid: IdRange | None = None
    gid_invert: bool = False
    socket_exists: bool | None = None
    suppl_groups: bool = False


def parse_id_range(text: str, option: str, what: str, column: int = 0) -> IdRange:
    """A name, `N`, `N-M` or `N:M`; -1 is reserved, so numbers stop at 4294967294."""
    if text in PORTABLE_NAMES:
        value = PORTABLE_NAMES[text]
        return (value, value)
    bad = OptionError(f"bad value `{text}' for --{option}", column)
    first = xt_strtoul(text, 0, U32 - 1, whole=False)
    if first is None:
        if text[:1].isalpha() or text[:1] == "_":
            raise OptionError(
                f"{what} name `{text}' is not resolved: its number depends on the machine that "
                f"loads the rule; give the numeric {what[0].upper()}ID", column)
        raise bad
    lo = hi = first.value
    end = first.end
    if text[end : end + 1] in ("-", ":") and end < len(text):
        second = xt_strtoul(text, 0, U32 - 1, whole=False, start=end + 1)
        if second is None:
            raise bad
        hi, end = second.value, second.end
    if end != len(text):
        raise bad
    return (lo, hi)


def _format_range(value: IdRange) -> str:
    lo, hi = value
    return str(lo) if lo == hi else f"{lo}-{hi}"


@register
class Owner(Extension):
    """Fields `socket`, `socket_file`, `uid`, `gid`; assumption kind `suppl-groups` ("a
    supplementary group of the socket's owner is in …", holds = it is)."""

    names = ("owner",)
    options = (
        OptSpec("uid-owner", 1, True),
        OptSpec("gid-owner", 1, True),
        OptSpec("socket-exists", 0, True),
        OptSpec("suppl-groups", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> OwnerMatch:
        one_of(args)
        uid = gid = None
        uid_inv = gid_inv = suppl = False
        socket: bool | None = None
        for arg in args:  # in order: --suppl-groups must come after --gid-owner
            if arg.name == "uid-owner":
                uid = parse_id_range(arg.value, arg.name, "user", arg.value_column())
                uid_inv = arg.invert
            elif arg.name == "gid-owner":
                gid = parse_id_range(arg.value, arg.name, "group", arg.value_column())
                gid_inv = arg.invert
            elif arg.name == "socket-exists":
                socket = not arg.invert
            elif gid is None:
                raise OptionError("--suppl-groups needs --gid-owner before it", arg.column)
            else:
                suppl = True
        if not args:
            raise OptionError("at least one of --uid-owner, --gid-owner or --socket-exists "
                              "is required")
        return OwnerMatch(uid, uid_inv, gid, gid_inv, socket, suppl)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, OwnerMatch)
        out = ""
        if options.socket_exists is not None:
            out += f"{'' if options.socket_exists else ' !'} --socket-exists"
        if options.uid is not None:
            out += f"{' !' if options.uid_invert else ''} --uid-owner {_format_range(options.uid)}"
        if options.gid is not None:
            out += f"{' !' if options.gid_invert else ''} --gid-owner {_format_range(options.gid)}"
        if options.suppl_groups:
            out += " --suppl-groups"
        return out

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, OwnerMatch)
        for what, value in (("UID", options.uid), ("GID", options.gid)):
            if value is not None and value[0] > value[1]:
                return f"{what} range {value[0]}-{value[1]} is reversed"
        return only_at_hooks(ctx, ("OUTPUT", "POSTROUTING"), "-m owner")

    def predicate(self, options: ExtOptions, ctx: Any) -> Pred:
        assert isinstance(options, OwnerMatch)
        return _owner_predicate(options, ctx)


def _id_test(field: str, value: IdRange) -> Test:
    shown = _format_range(value)
    values = IntSet.range(value[0], value[1], U32) if value[0] <= value[1] else (
        IntSet.empty(U32))
    return Test(field, values, f"{field} = {shown}" if value[0] == value[1] else
                f"{field} ∈ {shown}", f"{field} ≠ {shown}" if value[0] == value[1] else
                f"{field} ∉ {shown}")


def _owner_predicate(o: OwnerMatch, ctx: Any) -> Pred:
    negated: list[bool] = []
    if o.uid is not None:
        negated.append(o.uid_invert)
    if o.gid is not None:
        negated.append(o.gid_invert)
    if o.socket_exists is not None:
        negated.append(not o.socket_exists)
    without_socket = Const(all(negated) and not o.suppl_groups)
    if o.socket_exists is False:
        with_socket: Pred = FALSE
    else:
        ids: list[Pred] = []
        if o.uid is not None:
            ids.append(invert(_id_test("uid", o.uid), o.uid_invert))
        if o.gid is not None:
            gid: Pred = _id_test("gid", o.gid)
            if o.suppl_groups:
                shown = _format_range(o.gid)
                gid = disj(gid, ctx.assume(
                    "suppl-groups", f"a supplementary group of the socket's owner is in {shown}",
                    f"no supplementary group of the socket's owner is in {shown}"))
            ids.append(invert(gid, o.gid_invert))
        kernel_socket = Const((o.uid is None or o.uid_invert) and
                              (o.gid is None or o.gid_invert))
        process = flag("socket_file", 1, "the socket belongs to a process",
                       "the socket is the kernel's own (no owner)")
        with_socket = when(process, conj(*ids), kernel_socket)
    has_socket = flag("socket", 1, "the packet has a local socket",
                      "the packet has no local socket")
    return when(has_socket, with_socket, without_socket)
