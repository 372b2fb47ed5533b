"""connlimit match (libxt_connlimit): how many connections a source or destination group has.

Hosts are grouped by `--connlimit-mask` (a prefix length; a dotted mask with holes counts as the
full length, as libxtables reads it). iptables-save always prints the limit's direction, the
mask and the side, whatever the rule left at its default.

Semantics (xt_connlimit): the number of connections of the packet's group (its own included)
is live state: an assumption of kind `connlimit`, holds = the count is above the limit;
`--connlimit-above` matches when it holds, `--connlimit-upto` when it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..logic import Pred
from ..nodes import ExtOptions, Family
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._cnum import U32
from ._inet import NON_CIDR, parse_plen
from ._xtopt import excl, once, xt_uint_arg
from .base import ExtContext, Extension, OptArg, OptionError, OptSpec, RenderContext, register

__all__ = ["ConnlimitMatch"]


@dataclass(frozen=True, slots=True)
class ConnlimitMatch(ExtOptions):
    """True when the group's connection count is above `limit` (`upto`: at most `limit`)."""

    limit: int
    upto: bool
    prefix: int
    daddr: bool = False


@register
class Connlimit(Extension):
    """Assumption kind `connlimit`: holds = the group has more connections than the limit."""

    names = ("connlimit",)
    options = (
        OptSpec("connlimit-upto", 1, True),
        OptSpec("connlimit-above", 1, True),
        OptSpec("connlimit-mask", 1),
        OptSpec("connlimit-saddr", 0),
        OptSpec("connlimit-daddr", 0),
    )

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> ConnlimitMatch:
        opts = once(args)
        excl(opts, "connlimit-upto", "connlimit-above")
        excl(opts, "connlimit-saddr", "connlimit-daddr")
        arg = opts.get("connlimit-upto") or opts.get("connlimit-above")
        if arg is None:
            raise OptionError('You must specify "--connlimit-above" or "--connlimit-upto"')
        limit = xt_uint_arg(arg, 0, U32)
        upto = (arg.name == "connlimit-upto") != arg.invert
        prefix = ctx.family.bits
        if "connlimit-mask" in opts:
            prefix = _prefix(opts["connlimit-mask"], ctx.family)
        return ConnlimitMatch(limit, upto, prefix, "connlimit-daddr" in opts)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, ConnlimitMatch)
        o = options
        which = "upto" if o.upto else "above"
        side = "daddr" if o.daddr else "saddr"
        return (f" --connlimit-{which} {o.limit} --connlimit-mask {o.prefix}"
                f" --connlimit-{side}")


    def predicate(self, options: ExtOptions, ctx: CompileContext) -> Pred:
        assert isinstance(options, ConnlimitMatch)
        o = options
        group = f"{'dst' if o.daddr else 'src'}/{o.prefix}"
        above = ctx.assume("connlimit", f"connlimit: {group} has more than {o.limit} connections",
                           f"connlimit: {group} has at most {o.limit} connections")
        return invert_if(o.upto, above)


def _prefix(arg: OptArg, family: Family) -> int:
    plen = parse_plen(arg.value, family)
    if plen is None:
        raise OptionError(f'bad value for option "--{arg.name}", neither a valid network mask '
                          f"nor valid CIDR (0-{family.bits})", arg.value_column())
    return family.bits if plen == NON_CIDR else plen
