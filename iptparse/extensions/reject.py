"""REJECT (libipt_REJECT, libip6t_REJECT): drop and answer with an ICMP error or a TCP RST.

iptables matches the `--reject-with` word as a case-insensitive *prefix* of each type name and
its alias, in table order, so `icmp` means icmp-net-unreachable and `""` the first entry. The
default differs per family and iptables-save always prints the type.

Semantics (ipt_REJECT.c, ip6t_REJECT.c): the packet is dropped (verdict REJECT) and a reply is
sent as a separate packet: the ICMP error or a TCP RST (never for a packet that is itself an
RST, an ICMP error, a broadcast or a non-first fragment).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..nodes import ExtOptions, Family
from ..semantics import CompileContext, Effect
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

__all__ = ["RejectTarget", "RejectWith"]


class RejectWith(enum.Enum):
    """The reply REJECT sends; values are the names iptables-save prints."""

    ICMP_NET_UNREACHABLE = "icmp-net-unreachable"
    ICMP_HOST_UNREACHABLE = "icmp-host-unreachable"
    ICMP_PROTO_UNREACHABLE = "icmp-proto-unreachable"
    ICMP_PORT_UNREACHABLE = "icmp-port-unreachable"
    ICMP_NET_PROHIBITED = "icmp-net-prohibited"
    ICMP_HOST_PROHIBITED = "icmp-host-prohibited"
    ICMP_ADMIN_PROHIBITED = "icmp-admin-prohibited"
    ICMP6_NO_ROUTE = "icmp6-no-route"
    ICMP6_ADM_PROHIBITED = "icmp6-adm-prohibited"
    ICMP6_ADDR_UNREACHABLE = "icmp6-addr-unreachable"
    ICMP6_PORT_UNREACHABLE = "icmp6-port-unreachable"
    ICMP6_POLICY_FAIL = "icmp6-policy-fail"
    ICMP6_REJECT_ROUTE = "icmp6-reject-route"
    TCP_RESET = "tcp-reset"


# (type, alias) in the order iptables searches them.
_TABLE4 = (
    (RejectWith.ICMP_NET_UNREACHABLE, "net-unreach"),
    (RejectWith.ICMP_HOST_UNREACHABLE, "host-unreach"),
    (RejectWith.ICMP_PROTO_UNREACHABLE, "proto-unreach"),
    (RejectWith.ICMP_PORT_UNREACHABLE, "port-unreach"),
    (RejectWith.ICMP_NET_PROHIBITED, "net-prohib"),
    (RejectWith.ICMP_HOST_PROHIBITED, "host-prohib"),
    (RejectWith.TCP_RESET, "tcp-rst"),
    (RejectWith.ICMP_ADMIN_PROHIBITED, "admin-prohib"),
)
_TABLE6 = (
    (RejectWith.ICMP6_NO_ROUTE, "no-route"),
    (RejectWith.ICMP6_ADM_PROHIBITED, "adm-prohibited"),
    (RejectWith.ICMP6_ADDR_UNREACHABLE, "addr-unreach"),
    (RejectWith.ICMP6_PORT_UNREACHABLE, "port-unreach"),
    (RejectWith.TCP_RESET, "tcp-reset"),
    (RejectWith.ICMP6_POLICY_FAIL, "policy-fail"),
    (RejectWith.ICMP6_REJECT_ROUTE, "reject-route"),
)


@dataclass(frozen=True, slots=True)
class RejectTarget(ExtOptions):
    reject_with: RejectWith


def _lookup(text: str, family: Family) -> RejectWith | None:
    word = text.lower()
    for kind, alias in _TABLE4 if family is Family.INET else _TABLE6:
        if kind.value.startswith(word) or alias.startswith(word):
            return kind
    return None


@register
class Reject(Extension):
    kind = "target"
    names = ("REJECT",)
    options = (OptSpec("reject-with", 1),)
    tables = frozenset({"filter"})

    def parse(self, args: Sequence[OptArg], ctx: ExtContext) -> RejectTarget:
        opts = one_of(args)
        if "reject-with" not in opts:
            default = (RejectWith.ICMP_PORT_UNREACHABLE if ctx.family is Family.INET
                       else RejectWith.ICMP6_PORT_UNREACHABLE)
            return RejectTarget(default)
        arg = opts["reject-with"]
        found = _lookup(arg.value, ctx.family)
        if found is None:
            raise OptionError(f"unknown reject type \"{arg.value}\"", arg.value_column())
        return RejectTarget(found)

    def render(self, options: ExtOptions, ctx: RenderContext) -> str:
        assert isinstance(options, RejectTarget)
        return f" --reject-with {options.reject_with.value}"

    def check(self, options: ExtOptions, ctx: RuleContext) -> str | None:
        assert isinstance(options, RejectTarget)
        if options.reject_with is RejectWith.TCP_RESET and (
                ctx.protocol != 6 or ctx.protocol_invert):
            return "--reject-with tcp-reset needs `-p tcp' (not negated)"
        return None

    def effect(self, options: ExtOptions, ctx: CompileContext) -> Effect:
        assert isinstance(options, RejectTarget)
        kind = options.reject_with
        reply = "a TCP RST" if kind is RejectWith.TCP_RESET else f"ICMP {kind.value}"
        return Effect(verdict="REJECT", note=f"drop and answer with {reply}")
